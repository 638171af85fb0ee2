package device.uart.internal;

import static device.uart.model.UartRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import vmm.core.bus.IoPortBus;
import vmm.core.machine.DeviceInstance;
import vmm.testing.HangGuard;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;

/**
 * The 16550A as a core device instance ({@link UartProvider}, type {@code uart}, no PCI address): on COM1's ports,
 * swapped twenty times while a polled guest driver and a peer on a Unix socket stream both ways, with no byte lost
 * or repeated; its interrupt stays pending across a swap; a guest reset returns its registers to power-on; a bad
 * configuration is refused naming the instance and the key.
 */
@ExtendWith(TestMachineExtension.class)
class UartInstanceTest {
    private static final int COM1 = 0x3f8, IRQ = 4;

    private static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte) (i * seed + (i >>> 7));
        return b;
    }

    private static DeviceInstance plug(TestMachine m, Map<String, Object> config) {
        return m.machine().plug("com1", UartProvider.TYPE, null, config, UartProvider.TYPE, new UartProvider());
    }

    @Test
    void twentySwapsUnderAGuestAndAPeerStreamingBothWaysLoseAndRepeatNoByte(TestMachine m, @TempDir Path dir)
            throws Exception {
        Path sock = dir.resolve("com1");
        UartProvider provider = new UartProvider();
        DeviceInstance d = m.machine().plug("com1", UartProvider.TYPE, null, Map.of("backend", "unix=" + sock),
                UartProvider.TYPE, provider);
        assertThat(d.location()).contains("io 0x3f8-0x3ff");
        IoPortBus io = m.machine().ioPorts();
        io.write(COM1 + UART_FCR, 1, UART_FCR_ENABLE_FIFO | UART_FCR_TRIGGER_14);
        byte[] toGuest = pattern(64 * 1024, 7), fromGuest = pattern(16 * 1024, 13);
        byte[] guestGot = new byte[toGuest.length], peerGot = new byte[fromGuest.length];
        int swaps = 20;
        AtomicInteger received = new AtomicInteger();
        AtomicReference<Throwable> swapFailure = new AtomicReference<>();
        try (SocketChannel peer = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
            Thread sender = SocketPeer.send(peer, toGuest);
            Thread receiver = SocketPeer.receive(peer, peerGot);
            // The swapper: one swap each time the guest has read another 1/21 of the stream.
            Thread swapper = Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 1; i <= swaps; i++) {
                        int mark = toGuest.length / (swaps + 1) * i;
                        HangGuard.await(() -> received.get() >= mark, "the guest read " + mark + " bytes");
                        d.swapTo(UartProvider.TYPE, provider);
                    }
                } catch (Throwable t) {
                    swapFailure.set(t);
                }
            });
            // The vCPU: a polled driver that reads what is there and sends one byte whenever THR is empty.
            int in = 0, out = 0;
            long guard = System.nanoTime() + HangGuard.BOUND.toNanos();
            while (in < toGuest.length || out < fromGuest.length) {
                int lsr = (int) io.read(COM1 + UART_LSR, 1);
                if ((lsr & UART_LSR_DR) != 0) {
                    guestGot[in++] = (byte) io.read(COM1 + UART_RX, 1);
                    received.set(in);
                }
                // the first byte in proves the peer is attached, so nothing the guest sends is discarded
                if ((lsr & UART_LSR_THRE) != 0 && in > 0 && out < fromGuest.length) io.write(COM1 + UART_TX, 1, fromGuest[out++] & 0xff);
                assertThat(System.nanoTime()).as("the streams go on (%d in, %d out)", in, out).isLessThan(guard);
            }
            swapper.join();
            sender.join();
            receiver.join();
        }
        assertThat(swapFailure.get()).isNull();
        assertThat(d.swapCount()).isEqualTo(swaps);
        assertThat(Arrays.mismatch(guestGot, toGuest)).as("first byte the guest got wrong (-1: none)").isEqualTo(-1);
        assertThat(Arrays.mismatch(peerGot, fromGuest)).as("first byte the peer got wrong (-1: none)").isEqualTo(-1);
        d.remove();
    }

    @Test
    void aPendingInterruptStaysPendingAcrossASwapAndGoesWhenTheGuestReads(TestMachine m, @TempDir Path dir)
            throws Exception {
        Path sock = dir.resolve("com1");
        DeviceInstance d = plug(m, Map.of("backend", "unix=" + sock));
        IoPortBus io = m.machine().ioPorts();
        io.write(COM1 + UART_IER, 1, UART_IER_RDI);
        try (SocketChannel peer = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
            peer.write(ByteBuffer.wrap(new byte[] {'x'}));
            assertThat(m.interrupts().awaitLevel(IRQ, HangGuard.BOUND)).isTrue();
            d.swapTo(UartProvider.TYPE, new UartProvider());
            assertThat(m.interrupts().level(IRQ)).as("still pending after the swap").isTrue();
            assertThat(io.read(COM1 + UART_RX, 1)).isEqualTo('x');
            assertThat(m.interrupts().level(IRQ)).as("the successor lowered it when the guest read").isFalse();
        }
        d.remove();
    }

    @Test
    void aGuestResetReturnsTheRegistersToPowerOnAndRemovalLowersTheLine(TestMachine m) {
        DeviceInstance d = plug(m, Map.of("backend", "none"));
        IoPortBus io = m.machine().ioPorts();
        io.write(COM1 + UART_SCR, 1, 0x5a);
        io.write(COM1 + UART_IER, 1, UART_IER_THRI);
        assertThat(m.interrupts().level(IRQ)).as("THRE interrupt").isTrue();
        d.reset();
        assertThat(io.read(COM1 + UART_IER, 1)).isZero();
        assertThat(m.interrupts().level(IRQ)).isFalse();
        io.write(COM1 + UART_IER, 1, UART_IER_THRI);
        d.remove();
        assertThat(m.interrupts().level(IRQ)).as("a removed UART leaves no interrupt behind").isFalse();
        assertThat(io.read(COM1 + UART_SCR, 1)).as("nothing decodes COM1 any more").isEqualTo(0xff);
    }

    @Test
    void aBadConfigurationIsRefusedNamingTheInstanceAndTheKey(TestMachine m) {
        assertThatThrownBy(() -> plug(m, Map.of("port", "com9")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("device com1: port=com9");
        assertThatThrownBy(() -> plug(m, Map.of("backend", "carrier-pigeon")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("device com1: backend=carrier-pigeon");
        assertThat(m.machine().instances()).isEmpty();
    }
}
