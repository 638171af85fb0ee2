package device.uart.internal;

import static device.uart.model.UartRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import vmm.core.bus.IoPortBus;

import vmm.testing.HangGuard;
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
    void theGuestsOutputLandsInTheLogFile(TestMachine m, @TempDir Path dir) throws IOException {
        Path log = dir.resolve("com1.log");
        UartComponent c = new UartComponent(m.machine(), config("device.uart~a", "backend", "log=" + log));
        for (char ch : "Booting the kernel.\r\n".toCharArray()) m.machine().ioPorts().write(0x3f8 + UART_TX, 1, ch);
        c.deactivate();
        assertThat(Files.readString(log)).isEqualTo("Booting the kernel.\r\n");
    }

    @Test
    void aUserAttachedOverTcpTypesToTheGuestAndSeesItsOutput(TestMachine m) throws IOException {
        UartComponent c = new UartComponent(m.machine(), config("device.uart~a", "backend", "tcp=127.0.0.1:0"));
        IoPortBus io = m.machine().ioPorts();
        io.write(0x3f8 + UART_FCR, 1, UART_FCR_ENABLE_FIFO | UART_FCR_TRIGGER_8);
        io.write(0x3f8 + UART_IER, 1, UART_IER_RDI);
        String where = c.uart().backend().describe().substring("tcp=".length());
        int colon = where.lastIndexOf(':');
        try (SocketChannel user = SocketChannel.open(new InetSocketAddress(where.substring(0, colon), Integer.parseInt(where.substring(colon + 1))))) {
            user.write(ByteBuffer.wrap("ls\r".getBytes(StandardCharsets.US_ASCII)));
            assertThat(m.interrupts().awaitLevel(4, HangGuard.BOUND)).as("input raised the line").isTrue();
            assertThat(io.read(0x3f8 + UART_IIR, 1)).isEqualTo(UART_IIR_FIFO_ENABLED | UART_IIR_RX_TIMEOUT);
            StringBuilder got = new StringBuilder();
            while ((io.read(0x3f8 + UART_LSR, 1) & UART_LSR_DR) != 0) got.append((char) io.read(0x3f8 + UART_RX, 1));
            assertThat(got).hasToString("ls\r");
            for (char ch : "bin etc\r\n".toCharArray()) io.write(0x3f8 + UART_TX, 1, ch);
            ByteBuffer echo = ByteBuffer.allocate("bin etc\r\n".length());
            while (echo.hasRemaining()) if (user.read(echo) < 0) break;
            assertThat(new String(echo.array(), 0, echo.position(), StandardCharsets.US_ASCII)).isEqualTo("bin etc\r\n");
        } finally {
            c.deactivate();
        }
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
