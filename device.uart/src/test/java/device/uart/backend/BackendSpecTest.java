package device.uart.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class BackendSpecTest {
    @Test
    void readsBhyvesForms() {
        assertThat(BackendSpec.parse("stdio").kind()).isEqualTo(BackendSpec.Kind.STDIO);
        assertThat(BackendSpec.parse("none").kind()).isEqualTo(BackendSpec.Kind.NONE);
        assertThat(BackendSpec.parse("tcp=127.0.0.1:5555")).isEqualTo(new BackendSpec(BackendSpec.Kind.TCP, "127.0.0.1", 5555, null));
        assertThat(BackendSpec.parse("tcp=[::1]:23")).isEqualTo(new BackendSpec(BackendSpec.Kind.TCP, "::1", 23, null));
        assertThat(BackendSpec.parse("unix=/tmp/vm.com1")).isEqualTo(new BackendSpec(BackendSpec.Kind.UNIX, null, 0, Path.of("/tmp/vm.com1")));
        assertThat(BackendSpec.parse("log=/var/log/vm.log").path()).isEqualTo(Path.of("/var/log/vm.log"));
    }

    @Test
    void printsWhatItParsed() {
        for (String s : new String[] {"stdio", "none", "tcp=localhost:4444", "tcp=[::1]:23", "unix=/tmp/s", "log=/tmp/l"})
            assertThat(BackendSpec.parse(s)).hasToString(s);
    }

    @ParameterizedTest
    @ValueSource(strings = {"serial", "tcp", "tcp=localhost", "tcp=:80", "tcp=host:port", "tcp=host:70000", "tcp=::1:80",
            "unix=", "log", "stdio=x", ""})
    void refusesWhatItCannotRead(String spec) {
        assertThatThrownBy(() -> BackendSpec.parse(spec)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'");
    }

    @Test
    void anUnknownKindListsTheKnownOnes() {
        assertThatThrownBy(() -> BackendSpec.parse("pty")).hasMessageContaining("unknown back end 'pty'")
                .hasMessageContaining("stdio, tcp=HOST:PORT, unix=PATH, log=FILE or none");
    }
}
