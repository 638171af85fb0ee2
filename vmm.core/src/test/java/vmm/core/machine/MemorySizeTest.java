package vmm.core.machine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MemorySizeTest {
    @Test
    void suffixesArePowersOf1024AsInBhyve() {
        assertThat(MemorySize.parse("4096")).isEqualTo(4096);
        assertThat(MemorySize.parse("64K")).isEqualTo(64L << 10);
        assertThat(MemorySize.parse("512m")).isEqualTo(512L << 20);
        assertThat(MemorySize.parse("2G")).isEqualTo(2L << 30);
        assertThat(MemorySize.parse("1T")).isEqualTo(1L << 40);
        assertThat(MemorySize.parse(" 8GB ")).isEqualTo(8L << 30);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "M", "-1G", "1.5G", "12X", "0", "99999999999999999999", "9999999999T"})
    void malformedSizesNameTheText(String text) {
        assertThatThrownBy(() -> MemorySize.parse(text)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("memory size");
    }
}
