package vmm.testing.linux;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The console port is a 16550A to Linux's probes and keeps what the kernel transmits. */
class ConsolePortTest {
    @Test
    void keepsTransmittedBytesButNotTheDivisorOrLoopedBackOnes() {
        ConsolePort p = new ConsolePort();
        p.write(3, 1, 0x83);                                                // DLAB: the divisor latch
        p.write(0, 1, 0x01);
        p.write(1, 1, 0x00);
        assertThat(p.read(0, 1)).isEqualTo(1);
        p.write(3, 1, 0x03);
        p.write(0, 1, 'o');
        p.write(0, 1, 'k');
        p.write(4, 1, 0x10);                                                // loopback: not on the line
        p.write(0, 1, 'x');
        assertThat(p.text()).isEqualTo("ok");
        assertThat(p.contains("ok")).isTrue();
    }

    @Test
    void answersTheDriversProbesAsA16550aThatIsAlwaysReadyToTransmit() {
        ConsolePort p = new ConsolePort();
        p.write(7, 1, 0xA5);
        assertThat(p.read(7, 1)).as("scratch").isEqualTo(0xA5);
        p.write(1, 1, 0x0F);
        assertThat(p.read(1, 1)).as("IER").isEqualTo(0x0F);
        assertThat(p.read(2, 1)).as("IIR: FIFOs on, nothing pending").isEqualTo(0xC1);
        assertThat(p.read(5, 1) & 0x60).as("LSR: THRE and TEMT").isEqualTo(0x60);
        p.write(4, 1, 0x1A);                                                // loopback, RTS, OUT2
        assertThat(p.read(6, 1) & 0xF0).as("MSR in loopback: CTS and DCD").isEqualTo(0x90);
    }
}
