package vmm.benchmarks;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import device.viona.VionaProvider;
import device.virtio_net.VirtioNetProvider;
import vmm.core.device.DeviceProvider;
import vmm.vhostuser.VhostUserServer;

/**
 * Serves device.virtio-net or device.viona over vhost-user for the network
 * benchmark ({@code net-bench.sh}), outside a framework. Serves until
 * standard input closes.
 * <p>Usage: {@code ServeNet SOCKET virtio-net|viona key=value...} (for example {@code tap=vb0})
 */
public final class ServeNet {
    private ServeNet() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: ServeNet SOCKET virtio-net|viona [key=value...]");
            System.exit(2);
        }
        DeviceProvider provider = switch (args[1]) {
            case "virtio-net" -> new VirtioNetProvider();
            case "viona" -> new VionaProvider();
            default -> {
                System.err.println("implementation must be virtio-net or viona: " + args[1]);
                System.exit(2);
                yield null;
            }
        };
        Map<String, Object> config = new HashMap<>();
        for (int i = 2; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq < 1) {
                System.err.println("not key=value: " + args[i]);
                System.exit(2);
            }
            config.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        try (VhostUserServer server = VhostUserServer.start(Path.of(args[0]), "bench-net", config, args[1], provider)) {
            System.out.println("serving " + args[1] + " on " + args[0]);
            System.out.flush();
            while (System.in.read() >= 0) {
                // serve until the script closes our input
            }
        }
    }
}
