package device.uart.internal;

import static device.uart.model.UartRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import device.uart.backend.Backend;
import device.uart.backend.BackendSpec;
import device.uart.model.UartModel;
import vmm.core.bus.IoPortBus;
import vmm.core.bus.Registration;
import vmm.core.device.DeviceState;
import vmm.testing.HangGuard;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;

/**
 * The whole path with real threads: a peer on a Unix socket, the back end's
 * input and output threads, the UART's lock, and a vCPU thread polling the
 * ports, all at once.
 */
@ExtendWith(TestMachineExtension.class)
class UartOverSocketTest {
    private static final int COM1 = 0x3f8;

    private static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte) (i * seed + (i >>> 7));
        return b;
    }

    @Test
    void aPeerFasterThanTheGuestIsHeldBackByItsSocketAndBothStreamsArriveWhole(TestMachine m, @TempDir Path dir)
            throws Exception {
        Path sock = dir.resolve("com1");
        UartComponent c = new UartComponent(m.machine(), Map.of("service.pid", "device.uart~t", "backend", "unix=" + sock));
        IoPortBus io = m.machine().ioPorts();
        io.write(COM1 + UART_FCR, 1, UART_FCR_ENABLE_FIFO | UART_FCR_TRIGGER_14);
        byte[] toGuest = pattern(256 * 1024, 7), fromGuest = pattern(64 * 1024, 13);
        byte[] guestGot = new byte[toGuest.length], peerGot = new byte[fromGuest.length];
        long[] mostAhead = new long[1];
        try (SocketChannel peer = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
            Thread sender = SocketPeer.send(peer, toGuest);
            Thread receiver = SocketPeer.receive(peer, peerGot);
            // the vCPU: a polled driver that reads what is there and sends one byte whenever THR is empty
            int in = 0, out = 0;
            while (in < toGuest.length || out < fromGuest.length) {
                int lsr = (int) io.read(COM1 + UART_LSR, 1);
                if ((lsr & UART_LSR_DR) != 0) {
                    guestGot[in++] = (byte) io.read(COM1 + UART_RX, 1);
                    mostAhead[0] = Math.max(mostAhead[0], c.uart().backend().inputRead() - in);
                }
                // the first byte in proves the peer is attached, so nothing the guest sends is discarded
                if ((lsr & UART_LSR_THRE) != 0 && in > 0 && out < fromGuest.length) io.write(COM1 + UART_TX, 1, fromGuest[out++] & 0xff);
            }
            sender.join();
            receiver.join();
        } finally {
            c.deactivate();
        }
        assertThat(Arrays.equals(guestGot, toGuest)).as("the guest got the peer's stream whole and in order").isTrue();
        assertThat(Arrays.equals(peerGot, fromGuest)).as("the peer got the guest's stream whole and in order").isTrue();
        assertThat(mostAhead[0]).as("the VMM never read more than one FIFO ahead of the guest").isLessThanOrEqualTo(FIFO_SIZE);
        assertThat(c.uart().backend().droppedOutput()).isZero();
    }

    @Test
    void aSwapUnderALiveSocketLosesAndRepeatsNothing(TestMachine m, @TempDir Path dir) throws Exception {
        Path sock = dir.resolve("com1");
        Backend backend = BackendSpec.parse("unix=" + sock).open();
        IoPortBus io = m.machine().ioPorts();
        Uart a = new Uart(new UartModel(), m.machine().irqChip().line(4), backend);
        Registration ports = io.register("com1", COM1, PORT_COUNT, a);
        a.start();
        io.write(COM1 + UART_FCR, 1, UART_FCR_ENABLE_FIFO);
        io.write(COM1 + UART_IER, 1, UART_IER_RDI);
        try (SocketChannel peer = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
            peer.write(ByteBuffer.wrap("abc".getBytes(StandardCharsets.US_ASCII)));
            assertThat(m.interrupts().awaitLevel(4, HangGuard.BOUND)).isTrue();
            io.write(COM1 + UART_TX, 1, '1');
            a.pause();
            peer.write(ByteBuffer.wrap("def".getBytes(StandardCharsets.US_ASCII))); // arrives mid-swap
            io.write(COM1 + UART_TX, 1, '2'); // held in the paused UART's FIFO

            DeviceState saved = a.saveState();
            ports.close();
            a.stop();
            Uart b = new Uart(new UartModel(), m.machine().irqChip().line(4), backend);
            b.restoreState(saved);
            ports = io.register("com1", COM1, PORT_COUNT, b);
            b.start();

            StringBuilder got = new StringBuilder();
            while (got.length() < 6) {
                if ((io.read(COM1 + UART_LSR, 1) & UART_LSR_DR) != 0) got.append((char) io.read(COM1 + UART_RX, 1));
                else Thread.onSpinWait();
            }
            assertThat(got).hasToString("abcdef");
            ByteBuffer out = ByteBuffer.allocate(2);
            while (out.hasRemaining()) if (peer.read(out) < 0) break;
            assertThat(new String(out.array(), 0, out.position(), StandardCharsets.US_ASCII)).isEqualTo("12");
            b.stop();
        } finally {
            ports.close();
            backend.close();
        }
        assertThat(backend.inputRead()).isEqualTo(6);
    }
}
