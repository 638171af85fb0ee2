package vmm.launcher.internal.shell;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ControlSocketTest {
    @TempDir
    Path dir;

    @Test
    void aSocketThatTakesAConnectionAnswersAndNothingElseDoes() throws Exception {
        Path live = dir.resolve("live.sock"), stale = dir.resolve("stale.sock"), file = dir.resolve("file.sock");
        Files.writeString(file, "not a socket");
        try (ServerSocketChannel gone = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            gone.bind(UnixDomainSocketAddress.of(stale));
        }
        assertThat(stale).as("a closed server leaves its file behind, as a killed VM does").exists();
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(live));
            assertThat(ControlSocket.answers(live)).isTrue();
        }
        assertThat(ControlSocket.answers(stale)).isFalse();
        assertThat(ControlSocket.answers(file)).isFalse();
        assertThat(ControlSocket.answers(dir.resolve("missing.sock"))).isFalse();
    }
}
