package device.uart.backend;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LogAndStdioBackendTest {
    @TempDir
    Path dir;

    private static void write(Backend b, String s) {
        byte[] bytes = s.getBytes(StandardCharsets.ISO_8859_1);
        b.write(bytes, 0, bytes.length);
    }

    @Test
    void theLogFileGetsExactlyTheOutputAppendedAcrossRuns() throws IOException {
        Path log = dir.resolve("com1.log");
        Backend first = BackendSpec.parse("log=" + log).open();
        write(first, "first boot\r\n");
        write(first, "\u0000\u00ff binary too\n");
        first.close();
        Backend second = BackendSpec.parse("log=" + log).open();
        write(second, "second boot\n");
        second.close();
        assertThat(Files.readString(log, StandardCharsets.ISO_8859_1))
                .isEqualTo("first boot\r\n\u0000\u00ff binary too\nsecond boot\n");
    }

    @Test
    void theLogTakesNoInput() {
        Backend log = BackendSpec.parse("log=" + dir.resolve("x.log")).open();
        TestSink sink = new TestSink();
        log.attach(sink);
        log.close();
        assertThat(log.inputRead()).isZero();
        assertThat(sink.all()).isEmpty();
    }

    @Test
    void anUnwritableLogIsAClearError() {
        Path inMissingDir = dir.resolve("no/such/dir/com1.log");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> BackendSpec.parse("log=" + inMissingDir).open())
                .hasMessageContaining(inMissingDir.toString());
    }

    @Test
    void noneDiscardsAndCounts() {
        Backend none = BackendSpec.parse("none").open();
        write(none, "lost");
        none.close();
        assertThat(none.discardedOutput()).isEqualTo(4);
    }

    @Test
    void stdioOverPipesPassesBytesThroughWithoutTouchingATerminal() throws IOException {
        PipedOutputStream keyboard = new PipedOutputStream();
        PipedInputStream stdin = new PipedInputStream(keyboard, 64);
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        StdioBackend b = new StdioBackend(stdin, stdout, -1);
        TestSink sink = new TestSink();
        b.attach(sink);
        keyboard.write("\u0003uname\r".getBytes(StandardCharsets.ISO_8859_1)); // ^C reaches the guest as a byte
        keyboard.flush();
        Await.until("typed input delivered", () -> sink.all().equals("\u0003uname\r"));
        write(b, "Linux\r\n");
        b.close();
        assertThat(stdout.toString(StandardCharsets.ISO_8859_1)).isEqualTo("Linux\r\n");
        assertThat(b.rawMode()).isFalse();
        keyboard.close();
    }

    @Test
    void aDescriptorThatIsNotATerminalIsLeftAlone() {
        assertThat(Terminal.isTerminal(-1)).isFalse();
        assertThat(Terminal.makeRaw(-1)).isNull();
    }
}
