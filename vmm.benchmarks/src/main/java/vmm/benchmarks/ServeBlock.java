package vmm.benchmarks;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import device.virtio_block.VirtioBlockProvider;

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
        Map<String, Object> config = VhostUserServing.keyValues(args, 2, new HashMap<>(Map.of("path", args[1])));
        VhostUserServing.serveUntilInputCloses(Path.of(args[0]), "bench-blk", config, "virtio-blk",
                new VirtioBlockProvider(), args[1]);
    }
}
