package vmm.vfiouser;

import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

import vmm.core.linux.Native;
import vmm.vfiouser.internal.protocol.Channel;

/** A hostile or broken vfio-user server: accepts one client and runs a script against it on its own thread. */
final class ScriptedServer implements AutoCloseable {
    interface Script {
        void run(Channel ch) throws Exception;
    }

    final Path socket;
    private final int listenFd;
    private final Thread thread;
    final CompletableFuture<Void> done = new CompletableFuture<>();

    ScriptedServer(Path socket, Script script) throws Exception {
        this.socket = socket;
        this.listenFd = Native.listenUnix(socket.toString(), 1);
        this.thread = Thread.ofPlatform().daemon().start(() -> {
            try {
                int fd = Native.accept(listenFd);
                try (Channel ch = new Channel(fd, 16, 1 << 21)) {
                    script.run(ch);
                }
                done.complete(null);
            } catch (Throwable t) {
                done.completeExceptionally(t);
            }
        });
    }

    @Override
    public void close() throws Exception {
        Native.shutdown(listenFd);
        thread.join(vmm.testing.HangGuard.BOUND);
        Native.close(listenFd);
    }
}
