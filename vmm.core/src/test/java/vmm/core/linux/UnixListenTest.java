package vmm.core.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A server's socket path means "connect now": it appears only once the socket listens. */
class UnixListenTest {
    @TempDir
    Path dir;

    @Test
    void theMomentThePathExistsAClientConnects() throws Exception {
        // A client polls for the path while servers come up one after another; each sight of the path
        // must be connectable (with bind before listen, a client could see it and be refused).
        for (int round = 0; round < 50; round++) {
            Path socket = dir.resolve("s" + round + ".sock");
            CountDownLatch seen = new CountDownLatch(1);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread client = Thread.ofPlatform().start(() -> {
                try {
                    while (!Files.exists(socket)) Thread.onSpinWait();
                    Native.close(Native.connectUnix(socket.toString()));
                } catch (Throwable t) {
                    failure.set(t);
                } finally {
                    seen.countDown();
                }
            });
            int fd = Native.listenUnix(socket.toString(), 1);
            try {
                assertThat(seen.await(60, TimeUnit.SECONDS)).as("the client saw the path").isTrue();
                client.join();
                assertThat(failure.get()).as("connect after the path appeared").isNull();
            } finally {
                Native.close(fd);
            }
        }
    }

    @Test
    void noTemporaryNameIsLeftAndAnExistingPathIsRefusedAsBindWould() throws Exception {
        Path socket = dir.resolve("server.sock");
        int fd = Native.listenUnix(socket.toString(), 1);
        try {
            List<Path> left = new ArrayList<>();
            try (var files = Files.list(dir)) {
                files.forEach(left::add);
            }
            assertThat(left).containsExactly(socket);
            assertThatThrownBy(() -> Native.listenUnix(socket.toString(), 1)).isInstanceOf(IOException.class)
                    .hasMessageContaining("Address already in use");
            try (var files = Files.list(dir)) {
                assertThat(files.count()).as("nothing made by the refused attempt").isEqualTo(1);
            }
        } finally {
            Native.close(fd);
        }
    }
}
