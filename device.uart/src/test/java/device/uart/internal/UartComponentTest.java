package device.uart.internal;

import static device.uart.model.UartRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.ServerSocket;
import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;

@ExtendWith(TestMachineExtension.class)
class UartComponentTest {
    private static Map<String, Object> config(String pid, Object... kv) {
        Map<String, Object> p = new HashMap<>();
        p.put("service.pid", pid);
        for (int i = 0; i < kv.length; i += 2) p.put((String) kv[i], kv[i + 1]);
        return p;
    }

    @Test
    void plugsCom1WithItsDefaultsAndUnplugsOnDeactivate(TestMachine m) {
        UartComponent c = new UartComponent(m.machine(), config("device.uart~a"));
        assertThat(c.config().port()).isEqualTo(0x3f8);
        assertThat(c.config().irq()).isEqualTo(4);
        assertThat(m.machine().ioPorts().isClaimed(0x3f8)).isTrue();
        assertThat(m.machine().ioPorts().isClaimed(0x3ff)).isTrue();
        m.machine().ioPorts().write(0x3f8 + UART_IER, 1, UART_IER_THRI);
        assertThat(m.interrupts().level(4)).isTrue();

        c.deactivate();
        assertThat(m.machine().ioPorts().isClaimed(0x3f8)).isFalse();
        assertThat(m.interrupts().level(4)).isFalse();
    }

    @Test
    void com2IsAtItsPortAndIrq(TestMachine m) {
        UartComponent c = new UartComponent(m.machine(), config("device.uart~b", "port", "COM2"));
        assertThat(m.machine().ioPorts().isClaimed(0x2f8)).isTrue();
        m.machine().ioPorts().write(0x2f8 + UART_IER, 1, UART_IER_THRI);
        assertThat(m.interrupts().level(3)).isTrue();
        c.deactivate();
    }

    @Test
    void aTakenPortIsAnErrorNamingThePortKey(TestMachine m) {
        UartComponent first = new UartComponent(m.machine(), config("device.uart~a", "port", "0x3f8"));
        assertThatThrownBy(() -> new UartComponent(m.machine(), config("device.uart~b", "port", "com1")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("device.uart~b").hasMessageContaining("port=0x3f8").hasMessageContaining("overlaps");
        first.deactivate();
    }

    @Test
    void anUnknownBackEndIsAnErrorNamingTheBackendKey(TestMachine m) {
        assertThatThrownBy(() -> new UartComponent(m.machine(), config("device.uart~a", "backend", "serial=/dev/ttyS0")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("backend=serial=/dev/ttyS0").hasMessageContaining("unknown back end");
        assertThat(m.machine().ioPorts().isClaimed(0x3f8)).isFalse();
    }

    @Test
    void anAddressInUseIsAnErrorNamingTheBackendKeyAndLeavesNothingRegistered(TestMachine m) throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            String spec = "tcp=127.0.0.1:" + taken.getLocalPort();
            assertThatThrownBy(() -> new UartComponent(m.machine(), config("device.uart~a", "backend", spec)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("backend=" + spec);
        }
        assertThat(m.machine().ioPorts().isClaimed(0x3f8)).isFalse();
    }
}
