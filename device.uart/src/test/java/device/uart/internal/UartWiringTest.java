package device.uart.internal;

import static device.uart.model.UartRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import device.uart.model.UartModel;
import vmm.core.bus.BusConflictException;
import vmm.core.bus.IoPortBus;
import vmm.core.device.DeviceState;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;

@ExtendWith(TestMachineExtension.class)
class UartWiringTest {
    private static final int COM1 = 0x3f8, COM2 = 0x2f8;

    private static Uart plug(TestMachine m, int base, int irq, RecordingBackend backend) {
        Uart u = new Uart(new UartModel(), m.machine().irqChip().line(irq), backend);
        m.machine().ioPorts().register("uart@" + Integer.toHexString(base), base, PORT_COUNT, u);
        u.start();
        return u;
    }

    @Test
    void portAccessesReachTheRegistersAtTheirOffsets(TestMachine m) {
        plug(m, COM1, 4, new RecordingBackend());
        IoPortBus io = m.machine().ioPorts();
        io.write(COM1 + UART_SCR, 1, 0xa5);
        io.write(COM1 + UART_LCR, 1, UART_LCR_WLEN8);
        assertThat(io.read(COM1 + UART_SCR, 1)).isEqualTo(0xa5);
        assertThat(io.read(COM1 + UART_LCR, 1)).isEqualTo(UART_LCR_WLEN8);
        assertThat(io.read(COM1 + UART_LSR, 1)).isEqualTo(0x60);
        assertThat(io.read(COM1 + 8, 1)).as("the ninth port is not the UART's").isEqualTo(0xff);
    }

    @Test
    void aWordAccessReachesTwoConsecutiveRegisters(TestMachine m) {
        plug(m, COM1, 4, new RecordingBackend());
        IoPortBus io = m.machine().ioPorts();
        io.write(COM1 + UART_LCR, 1, UART_LCR_DLAB);
        io.write(COM1 + UART_DLL, 2, 0x0180); // DLL=0x80, DLM=0x01 in one OUTW
        assertThat(io.read(COM1 + UART_DLL, 1)).isEqualTo(0x80);
        assertThat(io.read(COM1 + UART_DLM, 1)).isEqualTo(0x01);
        assertThat(io.read(COM1 + UART_DLL, 2)).isEqualTo(0x0180);
    }

    @Test
    void transmittedBytesGoToTheBackEndInOrder(TestMachine m) {
        RecordingBackend peer = new RecordingBackend();
        plug(m, COM1, 4, peer);
        for (char c : "boot\n".toCharArray()) m.machine().ioPorts().write(COM1 + UART_TX, 1, c);
        assertThat(peer.sent()).isEqualTo("boot\n");
        assertThat(m.machine().ioPorts().read(COM1 + UART_LSR, 1) & UART_LSR_TEMT).isNotZero();
    }

    @Test
    void theInterruptLineFollowsTheModel(TestMachine m) {
        RecordingBackend peer = new RecordingBackend();
        plug(m, COM1, 4, peer);
        IoPortBus io = m.machine().ioPorts();
        assertThat(m.interrupts().level(4)).isFalse();
        io.write(COM1 + UART_IER, 1, UART_IER_THRI);
        assertThat(m.interrupts().level(4)).isTrue();
        io.read(COM1 + UART_IIR, 1);
        assertThat(m.interrupts().level(4)).isFalse();
        io.write(COM1 + UART_IER, 1, UART_IER_RDI);
        peer.peerSends("x");
        assertThat(m.interrupts().level(4)).as("received data raises it from the back-end side").isTrue();
        io.read(COM1 + UART_RX, 1);
        assertThat(m.interrupts().level(4)).isFalse();
        assertThat(m.interrupts().risingEdges(4)).isEqualTo(2);
    }

    @Test
    void windowsRewritingIerZeroThenAllGivesTheEdgeTriggeredIrqANewRisingEdge(TestMachine m) {
        plug(m, COM1, 4, new RecordingBackend());
        IoPortBus io = m.machine().ioPorts();
        io.write(COM1 + UART_IER, 1, 0x0f);
        io.read(COM1 + UART_IIR, 1); // the ISR takes THRE
        io.read(COM1 + UART_MSR, 1);
        assertThat(m.interrupts().level(4)).isFalse();
        int edges = m.interrupts().risingEdges(4);
        io.write(COM1 + UART_IER, 1, 0x00); // serial.sys kicks the transmitter this way
        io.write(COM1 + UART_IER, 1, 0x0f);
        assertThat(m.interrupts().risingEdges(4)).isEqualTo(edges + 1);
        assertThat(io.read(COM1 + UART_IIR, 1)).isEqualTo(UART_IIR_THRI);
    }

    @Test
    void com2DrivesIrq3AndLeavesIrq4Alone(TestMachine m) {
        plug(m, COM1, 4, new RecordingBackend());
        plug(m, COM2, 3, new RecordingBackend());
        m.machine().ioPorts().write(COM2 + UART_IER, 1, UART_IER_THRI);
        assertThat(m.interrupts().level(3)).isTrue();
        assertThat(m.interrupts().level(4)).isFalse();
    }

    @Test
    void aSecondUartOnTakenPortsIsRefused(TestMachine m) {
        plug(m, COM1, 4, new RecordingBackend());
        Uart other = new Uart(new UartModel(), m.machine().irqChip().line(4), new RecordingBackend());
        assertThatThrownBy(() -> m.machine().ioPorts().register("other", COM1 + 4, PORT_COUNT, other))
                .isInstanceOf(BusConflictException.class).hasMessageContaining("overlaps");
    }

    @Test
    void theBackEndDeliversOnlyWhatTheFifoHoldsAndNothingWhilePaused(TestMachine m) {
        RecordingBackend peer = new RecordingBackend();
        Uart u = plug(m, COM1, 4, peer);
        m.machine().ioPorts().write(COM1 + UART_FCR, 1, UART_FCR_ENABLE_FIFO);
        assertThat(peer.peerSends("0123456789abcdefXYZ")).isEqualTo(16);
        assertThat(peer.peerSends("XYZ")).isZero();
        m.machine().ioPorts().read(COM1 + UART_RX, 1);
        u.pause();
        assertThat(peer.peerSends("XYZ")).as("paused").isZero();
        u.resume();
        assertThat(peer.peerSends("XYZ")).isEqualTo(1);
        assertThat(u.rxCount()).isEqualTo(16);
    }

    @Test
    void whilePausedTheGuestsOutputWaitsInTheFifoAndLeavesOnResume(TestMachine m) {
        RecordingBackend peer = new RecordingBackend();
        Uart u = plug(m, COM1, 4, peer);
        m.machine().ioPorts().write(COM1 + UART_FCR, 1, UART_FCR_ENABLE_FIFO);
        u.pause();
        for (char c : "abc".toCharArray()) m.machine().ioPorts().write(COM1 + UART_TX, 1, c);
        assertThat(peer.sent()).isEmpty();
        assertThat(u.txPending()).isEqualTo(3);
        u.resume();
        assertThat(peer.sent()).isEqualTo("abc");
    }

    @Test
    void resetReturnsRegistersToPowerOnAndLowersTheLine(TestMachine m) {
        Uart u = plug(m, COM1, 4, new RecordingBackend());
        m.machine().ioPorts().write(COM1 + UART_IER, 1, UART_IER_THRI);
        assertThat(m.interrupts().level(4)).isTrue();
        u.reset();
        assertThat(m.interrupts().level(4)).isFalse();
        assertThat(m.machine().ioPorts().read(COM1 + UART_IER, 1)).isZero();
    }

    @Test
    void stopLeavesTheLineToASuccessorAndDetachesFromTheBackEndWithoutClosingIt(TestMachine m) {
        RecordingBackend peer = new RecordingBackend();
        Uart u = plug(m, COM1, 4, peer);
        m.machine().ioPorts().write(COM1 + UART_IER, 1, UART_IER_THRI);
        u.stop();
        assertThat(m.interrupts().level(4)).as("the pending THRE interrupt, for a successor restored from the state")
                .isTrue();
        assertThat(peer.sink()).isNull();
        assertThat(peer.closed()).isFalse();
    }

    @Test
    void aSwapToAFreshInstanceKeepsBothFifosTheInterruptAndTheBackEnd(TestMachine m) {
        RecordingBackend peer = new RecordingBackend();
        Uart a = new Uart(new UartModel(), m.machine().irqChip().line(4), peer);
        var ports = m.machine().ioPorts().register("com1", COM1, PORT_COUNT, a);
        a.start();
        IoPortBus io = m.machine().ioPorts();
        io.write(COM1 + UART_FCR, 1, UART_FCR_ENABLE_FIFO | UART_FCR_TRIGGER_14);
        io.write(COM1 + UART_IER, 1, UART_IER_RDI | UART_IER_THRI);
        io.read(COM1 + UART_IIR, 1); // consume THRE
        peer.peerSends("12345");
        io.write(COM1 + UART_TX, 1, 'a');
        a.pause();
        io.write(COM1 + UART_TX, 1, 'b'); // a vCPU write that raced the pause: held in the FIFO
        io.write(COM1 + UART_TX, 1, 'c');
        boolean level = m.interrupts().level(4);
        int iir = (int) io.read(COM1 + UART_IIR, 1);

        DeviceState saved = DeviceState.decode(a.saveState().encode());
        ports.close();
        a.stop();
        Uart b = new Uart(new UartModel(), m.machine().irqChip().line(4), peer);
        b.restoreState(saved);
        m.machine().ioPorts().register("com1", COM1, PORT_COUNT, b);
        b.start();

        assertThat(m.interrupts().level(4)).isEqualTo(level);
        assertThat(io.read(COM1 + UART_IIR, 1)).isEqualTo(iir);
        assertThat(peer.sent()).as("sent once, before and after the swap").isEqualTo("abc");
        peer.peerSends("678");
        StringBuilder got = new StringBuilder();
        while ((io.read(COM1 + UART_LSR, 1) & UART_LSR_DR) != 0) got.append((char) io.read(COM1 + UART_RX, 1));
        assertThat(got).hasToString("12345678");
    }
}
