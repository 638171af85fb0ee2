package device.uart.internal;

import static device.uart.model.UartRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import device.uart.model.UartModel;
import vmm.core.bus.Registration;
import vmm.testing.TestMachine;

/**
 * Linux's 8250 driver, replayed register by register ({@link Linux8250}),
 * against the UART on a machine's I/O-port bus with its interrupt line on
 * the kit's recorder: the driver must take it for a 16550A without bugs and
 * move data both ways with interrupts.
 */
class LinuxDriverTest {
    private static final int COM1 = 0x3f8, IRQ = 4;

    private TestMachine m;
    private RecordingBackend peer;
    private Uart uart;
    private Registration ports;
    private Linux8250 linux;

    @BeforeEach
    void plug() {
        m = TestMachine.create(1 << 20);
        peer = new RecordingBackend();
        uart = new Uart(new UartModel(), m.machine().irqChip().line(IRQ), peer);
        ports = m.machine().ioPorts().register("com1", COM1, PORT_COUNT, uart);
        uart.start();
        linux = new Linux8250(m.machine().ioPorts(), COM1, () -> m.interrupts().level(IRQ));
    }

    @AfterEach
    void unplug() {
        ports.close();
        uart.stop();
        m.close();
    }

    private void probeAndOpen() {
        linux.autoconfig();
        assertThat(linux.startup()).isTrue();
        linux.setTermios8n1(1);
    }

    @Test
    void autoconfigDetectsA16550AWithA16ByteFifo() {
        linux.autoconfig();
        assertThat(linux.type).isEqualTo("16550A");
        assertThat(linux.fifosize).isEqualTo(16);
        assertThat(linux.sizeFifo()).as("size_fifo() counts what loopback leaves in the receiver").isEqualTo(16);
    }

    @Test
    void autoconfigLeavesThePortQuietAndItsRegistersRestored() {
        linux.autoconfig();
        assertThat(linux.serialIn(UART_IER)).isZero();
        assertThat(linux.serialIn(UART_LCR)).isZero();
        assertThat(linux.serialIn(UART_MCR)).isZero();
        assertThat(linux.serialIn(UART_IIR)).as("FIFOs off again after clear_fifos").isEqualTo(UART_IIR_NO_INT);
        assertThat(linux.serialIn(UART_LSR)).isEqualTo(UART_LSR_THRE | UART_LSR_TEMT);
        assertThat(m.interrupts().level(IRQ)).isFalse();
        assertThat(peer.sent()).as("loopback traffic never reaches the line").isEmpty();
    }

    @Test
    void startupFindsNeitherTheThreBugNorTheTxenBug() {
        linux.autoconfig();
        assertThat(linux.startup()).isTrue();
        assertThat(linux.bugThre).as("UART_BUG_THRE").isFalse();
        assertThat(linux.bugTxen).as("UART_BUG_TXEN").isFalse();
        assertThat(m.interrupts().level(IRQ)).isFalse();
    }

    @Test
    void setTermiosProgramsDivisorLineControlFifoAndModemControl() {
        probeAndOpen();
        linux.serialOut(UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
        assertThat(linux.serialIn(UART_DLL)).isEqualTo(1);
        assertThat(linux.serialIn(UART_DLM)).isZero();
        linux.serialOut(UART_LCR, UART_LCR_WLEN8);
        assertThat(linux.serialIn(UART_IIR) & 0xc0).isEqualTo(0xc0);
        assertThat(linux.serialIn(UART_MCR)).isEqualTo(UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
        assertThat(linux.serialIn(UART_IER)).isEqualTo(UART_IER_RLSI | UART_IER_RDI);
    }

    @Test
    void transmitsAStringWithThreInterruptsSixteenAtATime() {
        probeAndOpen();
        String text = "Linux version 6.x (builder@vmm) #1 SMP PREEMPT_DYNAMIC\r\n";
        linux.write(text);
        assertThat(m.interrupts().level(IRQ)).as("enabling THRI raises THRE at once").isTrue();
        linux.serviceInterrupts();
        assertThat(linux.transmitDone()).isTrue();
        assertThat(peer.sent()).isEqualTo(text);
        assertThat(linux.interruptsHandled).isEqualTo((text.length() + 15) / 16);
        assertThat(m.interrupts().level(IRQ)).isFalse();
        assertThat(linux.serialIn(UART_IER) & UART_IER_THRI).as("__stop_tx cleared THRI").isZero();
    }

    @Test
    void receivesBelowTheTriggerByCharacterTimeoutAndAboveItByDataAvailable() {
        probeAndOpen();
        assertThat(peer.peerSends("ls\r")).isEqualTo(3);
        assertThat(m.interrupts().level(IRQ)).isTrue();
        assertThat(linux.serialIn(UART_IIR)).isEqualTo(UART_IIR_FIFO_ENABLED | UART_IIR_RX_TIMEOUT);
        linux.serviceInterrupts();
        assertThat(linux.receivedText()).isEqualTo("ls\r");

        String burst = "0123456789abcdefghij"; // more than the FIFO: the back end delivers what fits, then the rest
        int took = peer.peerSends(burst);
        assertThat(took).isEqualTo(16);
        assertThat(linux.serialIn(UART_IIR)).isEqualTo(UART_IIR_FIFO_ENABLED | UART_IIR_RDI);
        linux.serviceInterrupts();
        assertThat(peer.peerSends(burst.substring(took))).isEqualTo(4);
        linux.serviceInterrupts();
        assertThat(linux.receivedText()).isEqualTo("ls\r" + burst);
        assertThat(linux.serialIn(UART_LSR) & UART_LSR_OE).as("no overrun").isZero();
    }

    @Test
    void echoesWhileTransmittingLikeAnInteractiveShell() {
        probeAndOpen();
        linux.write("login: ");
        peer.peerSends("root\r");
        linux.serviceInterrupts();
        assertThat(peer.sent()).isEqualTo("login: ");
        assertThat(linux.receivedText()).isEqualTo("root\r");
    }

    @Test
    void thePolledConsoleWritesAndRestoresIer() {
        probeAndOpen();
        linux.consoleWrite("[    0.000000] console [ttyS0] enabled\r\n");
        assertThat(peer.sent()).isEqualTo("[    0.000000] console [ttyS0] enabled\r\n");
        assertThat(linux.serialIn(UART_IER)).isEqualTo(UART_IER_RLSI | UART_IER_RDI);
        assertThat(m.interrupts().level(IRQ)).isFalse();
    }
}
