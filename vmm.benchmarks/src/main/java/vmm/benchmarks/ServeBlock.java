package vmm.benchmarks;

import java.nio.file.Path;
import java.util.Map;

import device.virtio_block.VirtioBlockProvider;
import vmm.vhostuser.VhostUserServer;

/**
 * Serves device.virtio-block over vhost-user for the side-by-side block
 * benchmark ({@code blk-vs-qemu.sh}), outside a framework: the same device
 * and back-end code, constructed directly. Serves until standard input
 * closes.
 * <p>Usage: {@code ServeBlock SOCKET IMAGE [key=value...]}
 */
public final class ServeBlock {
    private ServeBlock() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: ServeBlock SOCKET IMAGE [key=value...]");
            System.exit(2);
        }
        Map<String, Object> config = new java.util.HashMap<>(Map.of("path", args[1]));
        for (int i = 2; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq < 1) {
                System.err.println("not key=value: " + args[i]);
                System.exit(2);
            }
            config.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        try (VhostUserServer server = VhostUserServer.start(Path.of(args[0]), "bench-blk", config, "virtio-blk", new VirtioBlockProvider())) {
            System.out.println("serving " + args[1] + " on " + args[0]);
            System.out.flush();
            while (System.in.read() >= 0) {
                // serve until the script closes our input
            }
        }
    }
}
