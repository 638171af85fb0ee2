package vmm.emu.internal.jit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** How the translator is configured: on by default, off by "false", a threshold, and bad values refused. */
class JitTest {
    @Test
    void isOnWithTheDefaultThresholdUnlessConfigured() {
        assertThat(Jit.configured(null, null).threshold()).isEqualTo(Jit.DEFAULT_THRESHOLD);
        assertThat(Jit.configured("true", " ").threshold()).isEqualTo(Jit.DEFAULT_THRESHOLD);
        assertThat(Jit.configured(" TRUE ", "0").threshold()).isZero();
    }

    @Test
    void falseTurnsItOff() {
        assertThat(Jit.configured("false", "5")).isNull();
        assertThat(Jit.configured("False", null)).isNull();
    }

    @Test
    void refusesValuesThatAreNeitherBooleansNorCounts() {
        assertThatThrownBy(() -> Jit.configured("off", null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("true or false");
        assertThatThrownBy(() -> Jit.configured(null, "many")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("number");
        assertThatThrownBy(() -> Jit.configured(null, "-1")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Jit(1, 100)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Jit(1, 8000)).isInstanceOf(IllegalArgumentException.class);
    }
}
