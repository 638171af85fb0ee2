package vmm.vhostuser;

import java.nio.file.Path;
import java.util.Map;

import device.virtio_block.VirtioBlockProvider;

/**
 * Serves an image over vhost-user in a child JVM, so a test can kill the
 * whole back-end process with SIGKILL. Prints "ready" once listening; runs
 * until killed. Usage: {@code ChildServer SOCKET IMAGE}.
 */
public final class ChildServer {
    private ChildServer() {}

    public static void main(String[] args) throws Exception {
        VhostUserServer server = VhostUserServer.start(Path.of(args[0]), "child", Map.of("path", args[1]), "virtio-blk",
                new VirtioBlockProvider());
        System.out.println("ready " + server.socket());
        System.out.flush();
        Thread.currentThread().join();
    }
}
