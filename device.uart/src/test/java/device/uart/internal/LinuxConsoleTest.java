package device.uart.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import device.uart.model.UartModel;
import device.uart.model.UartRegisters;
import vmm.emu.internal.vm.EmuHypervisor;
import vmm.testing.linux.LinuxGuest;

/**
 * Linux's own 8250 driver (built into Debian's cloud kernel) against this UART on COM1, on the software CPU: the
 * kernel's console comes out through it, the driver finds a 16550A on IRQ 4, a shell writes a line through
 * {@code /dev/ttyS0} (the tty's interrupt-driven transmitter) and reads one the host sends (receive interrupts).
 * About 25 s of boot on an idle development machine.
 */
class LinuxConsoleTest {
    private static final int COM1 = 0x3f8, IRQ = 4;

    @TempDir
    Path dir;

    @Test
    void linuxsSerialDriverUsesTheUartAsItsConsoleAndAsATtyBothWays() throws Exception {
        RecordingBackend host = new RecordingBackend();
        try (LinuxGuest guest = LinuxGuest.builder(new EmuHypervisor()).consoleFrom(host::sent).script("""
                echo UART-DRIVER="$(grep '^0:' /proc/tty/driver/serial | cut -d' ' -f2-4)"
                exec 3<>/dev/ttyS0
                stty -echo <&3
                echo UART-READY >&3
                read -r line <&3
                echo UART-GOT="$line"
                exec 3>&-
                """).create(dir)) {
            Uart uart = new Uart(new UartModel(), guest.machine().irqChip().line(IRQ), host);
            guest.machine().ioPorts().register("com1", COM1, UartRegisters.PORT_COUNT, uart);
            uart.start();
            guest.boot().await("UART-READY");
            String input = "ping from the host\n";
            // The 16-byte FIFO takes the line in two pieces if it must: what it does not take now comes later.
            long guard = System.nanoTime() + LinuxGuest.BOUND.toNanos();
            for (int sent = 0; sent < input.length(); ) {
                int n = host.peerSends(input.substring(sent));
                sent += n;
                if (n > 0) continue;
                assertThat(System.nanoTime()).as("the guest reads its tty:%n%s", guest.console()).isLessThan(guard);
                java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
            }
            String console = guest.awaitPowerOff();
            assertThat(guest.scriptExitStatus()).as(console).isZero();
            assertThat(console).contains("Linux version").contains("UART-DRIVER=uart:16550A port:000003F8 irq:4")
                    .contains("UART-READY").contains("UART-GOT=ping from the host");
            uart.stop();
        }
    }
}
