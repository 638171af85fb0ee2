package device.uart.internal;

import static device.uart.model.UartRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import vmm.core.bus.IoPortBus;
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
            Thread sender = Thread.ofPlatform().start(() -> {
                try {
                    ByteBuffer bb = ByteBuffer.wrap(toGuest);
                    while (bb.hasRemaining()) peer.write(bb);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            Thread receiver = Thread.ofPlatform().start(() -> {
                try {
                    ByteBuffer bb = ByteBuffer.wrap(peerGot);
                    while (bb.hasRemaining()) if (peer.read(bb) < 0) break;
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
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
}
