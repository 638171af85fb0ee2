package vmm.benchmarks;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import device.viona.VionaProvider;
import device.virtio_net.VirtioNetProvider;
import vmm.core.device.DeviceProvider;

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
        Map<String, Object> config = VhostUserServing.keyValues(args, 2, new HashMap<>());
        VhostUserServing.serveUntilInputCloses(Path.of(args[0]), "bench-net", config, args[1], provider, args[1]);
    }
}
