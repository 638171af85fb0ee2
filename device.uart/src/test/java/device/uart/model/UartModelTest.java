package device.uart.model;

import static device.uart.model.UartRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

class UartModelTest {
    private final UartModel uart = new UartModel();

    private void fifo(int trigger) {
        uart.write(UART_FCR, UART_FCR_ENABLE_FIFO | trigger);
    }

    private void receive(String s) {
        for (char c : s.toCharArray()) uart.receive(c, 0);
    }

    private int iirId() {
        return uart.read(UART_IIR) & UART_IIR_ID;
    }

    private byte[] drainTx() {
        byte[] b = new byte[FIFO_SIZE];
        int n = uart.takeTransmitted(b);
        return java.util.Arrays.copyOf(b, n);
    }

    @Nested
    class PowerOn {
        @Test
        void registersHaveTheirDatasheetResetValues() {
            assertThat(uart.read(UART_IER)).isZero();
            assertThat(uart.read(UART_IIR)).isEqualTo(UART_IIR_NO_INT);
            assertThat(uart.read(UART_LCR)).isZero();
            assertThat(uart.read(UART_MCR)).isZero();
            assertThat(uart.read(UART_LSR)).isEqualTo(UART_LSR_THRE | UART_LSR_TEMT);
            assertThat(uart.read(UART_MSR) & UART_MSR_STATUS_BITS).isEqualTo(UartModel.DEFAULT_MODEM_INPUTS);
            assertThat(uart.interruptPending()).isFalse();
        }

        @Test
        void masterResetClearsControlRegistersButKeepsDivisorAndScratch() {
            uart.write(UART_SCR, 0x5a);
            uart.write(UART_LCR, UART_LCR_DLAB);
            uart.write(UART_DLL, 3);
            uart.write(UART_LCR, UART_LCR_WLEN8);
            uart.write(UART_IER, 0x0f);
            fifo(UART_FCR_TRIGGER_8);
            uart.write(UART_MCR, 0x0b);
            receive("ab");

            uart.reset();

            assertThat(uart.read(UART_IER)).isZero();
            assertThat(uart.read(UART_LCR)).isZero();
            assertThat(uart.read(UART_MCR)).isZero();
            assertThat(uart.read(UART_IIR)).isEqualTo(UART_IIR_NO_INT);
            assertThat(uart.read(UART_LSR)).isEqualTo(0x60);
            assertThat(uart.read(UART_SCR)).isEqualTo(0x5a);
            assertThat(uart.divisor()).isEqualTo(3);
        }
    }

    @Nested
    class Dlab {
        @Test
        void dlabSwapsRbrThrAndIerForTheDivisorLatches() {
            uart.write(UART_IER, UART_IER_RDI);
            uart.write(UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
            uart.write(UART_DLL, 0x34);
            uart.write(UART_DLM, 0x12);
            assertThat(uart.read(UART_DLL)).isEqualTo(0x34);
            assertThat(uart.read(UART_DLM)).isEqualTo(0x12);
            assertThat(uart.txPending()).as("DLL write is not a transmit").isZero();

            uart.write(UART_LCR, UART_LCR_WLEN8);
            assertThat(uart.read(UART_IER)).isEqualTo(UART_IER_RDI);
            assertThat(uart.divisor()).isEqualTo(0x1234);
        }

        @Test
        void iirFcrLcrAndStatusRegistersIgnoreDlab() {
            uart.write(UART_LCR, UART_LCR_DLAB);
            uart.write(UART_FCR, UART_FCR_ENABLE_FIFO);
            uart.write(UART_SCR, 0x77);
            assertThat(uart.read(UART_IIR)).isEqualTo(UART_IIR_FIFO_ENABLED | UART_IIR_NO_INT);
            assertThat(uart.read(UART_LSR)).isEqualTo(0x60);
            assertThat(uart.read(UART_SCR)).isEqualTo(0x77);
            assertThat(uart.read(UART_LCR)).isEqualTo(UART_LCR_DLAB);
        }
    }

    @Nested
    class Fifos {
        @Test
        void iirBits6And7FollowTheFifoEnable() {
            fifo(0);
            assertThat(uart.read(UART_IIR) & 0xc0).isEqualTo(0xc0);
            uart.write(UART_FCR, 0);
            assertThat(uart.read(UART_IIR) & 0xc0).isZero();
        }

        @Test
        void receiverHoldsSixteenCharactersInOrderWithFifos() {
            fifo(UART_FCR_TRIGGER_14);
            receive("0123456789abcdef");
            assertThat(uart.rxRoom()).isZero();
            StringBuilder got = new StringBuilder();
            while ((uart.read(UART_LSR) & UART_LSR_DR) != 0) got.append((char) uart.read(UART_RX));
            assertThat(got).hasToString("0123456789abcdef");
            assertThat(uart.rxRoom()).isEqualTo(16);
        }

        @Test
        void withoutFifosTheReceiverHoldsOneCharacter() {
            assertThat(uart.rxRoom()).isEqualTo(1);
            uart.receive('x', 0);
            assertThat(uart.rxRoom()).isZero();
        }

        @Test
        void transmitterHoldsSixteenWithFifosAndOneWithout() {
            for (int i = 0; i < 20; i++) uart.write(UART_TX, 'a' + i);
            assertThat(uart.txPending()).isEqualTo(1);
            assertThat(uart.txOverflows()).isEqualTo(19);
            assertThat(drainTx()).containsExactly('a');

            fifo(0);
            for (int i = 0; i < 20; i++) uart.write(UART_TX, 'a' + i);
            assertThat(uart.txPending()).isEqualTo(16);
            assertThat(new String(drainTx())).isEqualTo("abcdefghijklmnop");
        }

        @Test
        void fcrClearBitsEmptyEachFifoAlone() {
            fifo(0);
            receive("abc");
            uart.write(UART_TX, 'x');
            uart.write(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR);
            assertThat(uart.read(UART_LSR) & UART_LSR_DR).isZero();
            assertThat(uart.txPending()).isEqualTo(1);
            uart.write(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_XMIT);
            assertThat(uart.txPending()).isZero();
            assertThat(uart.read(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT)).isEqualTo(0x60);
        }

        @Test
        void clearBitsWithoutFifoEnableDisableTheFifosAndEmptyThem() {
            fifo(0);
            receive("abc");
            uart.write(UART_FCR, UART_FCR_CLEAR_RCVR | UART_FCR_TRIGGER_14);
            assertThat(uart.fifoEnabled()).isFalse();
            assertThat(uart.rxCount()).isZero();
        }

        @ParameterizedTest(name = "FCR trigger 0x{0} -> {1} characters")
        @CsvSource({"00, 1", "40, 4", "80, 8", "c0, 14"})
        void receivedDataInterruptWaitsForTheTriggerLevel(String bits, int level) {
            fifo(Integer.parseInt(bits, 16));
            uart.write(UART_IER, UART_IER_RDI);
            for (int i = 1; i < level; i++) {
                uart.receive('a', 0);
                assertThat(iirId()).as("%d below trigger %d", i, level).isEqualTo(UART_IIR_NO_INT);
            }
            uart.receive('a', 0);
            assertThat(iirId()).isEqualTo(UART_IIR_RDI);
            assertThat(uart.interruptPending()).isTrue();
            uart.read(UART_RX);
            if (level > 1) assertThat(iirId()).as("back below trigger").isEqualTo(UART_IIR_NO_INT);
        }

        @Test
        void characterTimeoutReportsDataBelowTheTriggerOnceTheLineIsQuiet() {
            fifo(UART_FCR_TRIGGER_8);
            uart.write(UART_IER, UART_IER_RDI);
            receive("abc");
            assertThat(iirId()).isEqualTo(UART_IIR_NO_INT);
            uart.lineIdle();
            assertThat(iirId()).isEqualTo(UART_IIR_RX_TIMEOUT);
            assertThat(uart.read(UART_IIR)).isEqualTo(UART_IIR_FIFO_ENABLED | UART_IIR_RX_TIMEOUT);
            uart.read(UART_RX);
            assertThat(iirId()).as("still data, still quiet").isEqualTo(UART_IIR_RX_TIMEOUT);
            uart.receive('d', 0);
            assertThat(iirId()).as("a new character restarts the timeout").isEqualTo(UART_IIR_NO_INT);
            uart.read(UART_RX);
            uart.read(UART_RX);
            uart.read(UART_RX);
            uart.lineIdle();
            assertThat(iirId()).as("empty FIFO: nothing to time out").isEqualTo(UART_IIR_NO_INT);
        }

        @Test
        void withoutFifosThereIsNoCharacterTimeoutOnlyDataAvailable() {
            uart.write(UART_IER, UART_IER_RDI);
            uart.receive('a', 0);
            uart.lineIdle();
            assertThat(iirId()).isEqualTo(UART_IIR_RDI);
            assertThat(uart.read(UART_IIR) & 0xc0).isZero();
        }
    }

    @Nested
    class InterruptPriority {
        /** Makes every source pending at once: line status, data, THRE, modem status. */
        private void allSourcesPending() {
            fifo(UART_FCR_TRIGGER_1);
            uart.write(UART_IER, 0x0f);
            uart.receive('a', UART_LSR_PE);
            uart.setModemInputs(UART_MSR_CTS);
        }

        @Test
        void lineStatusOutranksDataOutranksThreOutranksModemStatus() {
            allSourcesPending();
            assertThat(iirId()).isEqualTo(UART_IIR_RLSI);
            uart.read(UART_LSR);
            assertThat(iirId()).isEqualTo(UART_IIR_RDI);
            uart.read(UART_RX);
            assertThat(iirId()).isEqualTo(UART_IIR_THRI);
            uart.read(UART_IIR); // reading IIR clears THRE when it is the source reported
            assertThat(iirId()).isEqualTo(UART_IIR_MSI);
            uart.read(UART_MSR);
            assertThat(iirId()).isEqualTo(UART_IIR_NO_INT);
            assertThat(uart.interruptPending()).isFalse();
        }

        @Test
        void characterTimeoutSharesTheDataPriority() {
            fifo(UART_FCR_TRIGGER_4);
            uart.write(UART_IER, 0x0f);
            uart.receive('a', 0);
            uart.lineIdle();
            assertThat(iirId()).isEqualTo(UART_IIR_RX_TIMEOUT);
        }

        @Test
        void readingIirDoesNotClearThreWhenAHigherSourceIsReported() {
            allSourcesPending();
            uart.read(UART_IIR); // reports line status
            uart.read(UART_LSR);
            uart.read(UART_IIR); // reports data
            uart.read(UART_RX);
            assertThat(iirId()).as("THRE survived the reads that reported other sources").isEqualTo(UART_IIR_THRI);
        }

        @Test
        void disabledSourcesNeitherShowNorInterrupt() {
            fifo(UART_FCR_TRIGGER_1);
            uart.receive('a', UART_LSR_FE);
            uart.setModemInputs(0);
            assertThat(uart.read(UART_IIR)).isEqualTo(UART_IIR_FIFO_ENABLED | UART_IIR_NO_INT);
            assertThat(uart.interruptPending()).isFalse();
        }
    }

    @Nested
    class Thre {
        @Test
        void enablingEtbeiWhileTheTransmitterIsEmptyRaisesThre() {
            uart.write(UART_IER, UART_IER_THRI);
            assertThat(uart.interruptPending()).isTrue();
            assertThat(iirId()).isEqualTo(UART_IIR_THRI);
        }

        @Test
        void readingIirThatReportsThreClearsIt() {
            uart.write(UART_IER, UART_IER_THRI);
            assertThat(uart.read(UART_IIR)).isEqualTo(UART_IIR_THRI);
            assertThat(uart.read(UART_IIR)).isEqualTo(UART_IIR_NO_INT);
            assertThat(uart.read(UART_LSR) & UART_LSR_THRE).as("the status bit stays; only the interrupt clears").isNotZero();
        }

        @Test
        void rewritingIerFromZeroRearmsThreAfterAnIirReadClearedIt() {
            uart.write(UART_IER, UART_IER_THRI);
            uart.read(UART_IIR);
            uart.write(UART_IER, 0);
            uart.write(UART_IER, UART_IER_THRI);
            assertThat(iirId()).isEqualTo(UART_IIR_THRI);
        }

        @Test
        void windowsStyleIerRewriteZeroThenAllRearmsThre() {
            uart.write(UART_IER, 0x0f);
            uart.read(UART_IIR);
            uart.read(UART_MSR);
            assertThat(uart.interruptPending()).isFalse();
            uart.write(UART_IER, 0);
            assertThat(uart.interruptPending()).isFalse();
            uart.write(UART_IER, 0x0f);
            assertThat(uart.interruptPending()).isTrue();
            assertThat(iirId()).isEqualTo(UART_IIR_THRI);
        }

        @Test
        void rewritingIerWithEtbeiAlreadySetDoesNotRearm() {
            uart.write(UART_IER, UART_IER_THRI);
            uart.read(UART_IIR);
            uart.write(UART_IER, UART_IER_THRI | UART_IER_RDI);
            assertThat(iirId()).isEqualTo(UART_IIR_NO_INT);
        }

        @Test
        void enablingEtbeiWhileTheTransmitterHoldsDataDoesNotRaiseThre() {
            uart.write(UART_TX, 'a');
            uart.write(UART_IER, UART_IER_THRI);
            assertThat(iirId()).isEqualTo(UART_IIR_NO_INT);
            drainTx();
            assertThat(iirId()).as("raised when the transmitter empties").isEqualTo(UART_IIR_THRI);
        }

        @Test
        void writingThrClearsThreUntilTheTransmitterEmptiesAgain() {
            fifo(0);
            uart.write(UART_IER, UART_IER_THRI);
            uart.write(UART_TX, 'a');
            assertThat(iirId()).isEqualTo(UART_IIR_NO_INT);
            assertThat(uart.read(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT)).isZero();
            uart.write(UART_TX, 'b');
            byte[] one = new byte[1];
            uart.takeTransmitted(one);
            assertThat(iirId()).as("one character still queued").isEqualTo(UART_IIR_NO_INT);
            uart.takeTransmitted(one);
            assertThat(iirId()).isEqualTo(UART_IIR_THRI);
            assertThat(uart.read(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT)).isEqualTo(0x60);
        }

        @Test
        void thrWriteClearsAPendingThreEvenBeforeAnyIirRead() {
            uart.write(UART_IER, UART_IER_THRI);
            uart.write(UART_TX, 'a');
            assertThat(uart.interruptPending()).isFalse();
        }

        @Test
        void disablingEtbeiDropsThreAndTheTransmitterEmptyingLaterIsSeenOnReenable() {
            uart.write(UART_IER, UART_IER_THRI);
            uart.write(UART_IER, 0);
            assertThat(uart.interruptPending()).isFalse();
            uart.write(UART_TX, 'a');
            drainTx();
            uart.write(UART_IER, UART_IER_THRI);
            assertThat(iirId()).isEqualTo(UART_IIR_THRI);
        }

        @Test
        void clearingANonEmptyTransmitFifoRaisesThre() {
            fifo(0);
            uart.write(UART_IER, UART_IER_THRI);
            uart.write(UART_TX, 'a');
            uart.write(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_XMIT);
            assertThat(iirId()).isEqualTo(UART_IIR_THRI);
        }
    }

    @Nested
    class LineStatus {
        @Test
        void overrunWhenTheReceiveFifoIsFullLosesTheNewCharacter() {
            fifo(UART_FCR_TRIGGER_14);
            uart.write(UART_IER, UART_IER_RLSI);
            receive("0123456789abcdef");
            uart.receive('X', 0);
            assertThat(uart.rxOverruns()).isEqualTo(1);
            assertThat(iirId()).isEqualTo(UART_IIR_RLSI);
            assertThat(uart.read(UART_LSR) & UART_LSR_OE).isNotZero();
            assertThat(uart.read(UART_LSR) & UART_LSR_OE).as("cleared by the read").isZero();
            StringBuilder got = new StringBuilder();
            while ((uart.read(UART_LSR) & UART_LSR_DR) != 0) got.append((char) uart.read(UART_RX));
            assertThat(got).hasToString("0123456789abcdef");
        }

        @Test
        void overrunWithoutFifosReplacesTheUnreadCharacter() {
            uart.receive('a', 0);
            uart.receive('b', 0);
            assertThat(uart.read(UART_LSR) & (UART_LSR_OE | UART_LSR_DR)).isEqualTo(UART_LSR_OE | UART_LSR_DR);
            assertThat(uart.read(UART_RX)).isEqualTo('b');
        }

        @Test
        void errorBitsShowWhenTheirCharacterReachesTheTopOfTheFifo() {
            fifo(UART_FCR_TRIGGER_1);
            uart.receive('a', 0);
            uart.receive('b', UART_LSR_PE);
            uart.receive('c', UART_LSR_FE);
            int lsr = uart.read(UART_LSR);
            assertThat(lsr & (UART_LSR_PE | UART_LSR_FE)).as("'a' on top has no error").isZero();
            assertThat(lsr & UART_LSR_FIFOE).as("but the FIFO holds some").isNotZero();
            assertThat(uart.read(UART_RX)).isEqualTo('a');
            assertThat(uart.read(UART_LSR) & (UART_LSR_PE | UART_LSR_FE)).isEqualTo(UART_LSR_PE);
            assertThat(uart.read(UART_RX)).isEqualTo('b');
            assertThat(uart.read(UART_LSR) & (UART_LSR_PE | UART_LSR_FE | UART_LSR_FIFOE)).isEqualTo(UART_LSR_FE | UART_LSR_FIFOE);
            assertThat(uart.read(UART_LSR) & UART_LSR_FIFOE).as("no error behind the reported one: cleared by the read").isZero();
            assertThat(uart.read(UART_RX)).isEqualTo('c');
            assertThat(uart.read(UART_LSR) & (UART_LSR_BRK_ERROR_BITS | UART_LSR_FIFOE)).isZero();
        }

        @Test
        void breakArrivesAsANulWithBiAndRaisesLineStatus() {
            fifo(UART_FCR_TRIGGER_1);
            uart.write(UART_IER, UART_IER_RLSI | UART_IER_RDI);
            uart.receiveBreak();
            assertThat(iirId()).isEqualTo(UART_IIR_RLSI);
            int lsr = uart.read(UART_LSR);
            assertThat(lsr & (UART_LSR_BI | UART_LSR_DR)).isEqualTo(UART_LSR_BI | UART_LSR_DR);
            assertThat(iirId()).isEqualTo(UART_IIR_RDI);
            assertThat(uart.read(UART_RX)).isZero();
        }

        @Test
        void dataReadyFollowsTheReceiver() {
            assertThat(uart.read(UART_LSR) & UART_LSR_DR).isZero();
            uart.receive('q', 0);
            assertThat(uart.read(UART_LSR) & UART_LSR_DR).isNotZero();
            assertThat(uart.read(UART_RX)).isEqualTo('q');
            assertThat(uart.read(UART_LSR) & UART_LSR_DR).isZero();
            assertThat(uart.read(UART_RX)).as("an empty RBR reads as its last character").isEqualTo('q');
        }
    }

    @Nested
    class ModemAndLoopback {
        @Test
        void modemInputChangesSetDeltaBitsUntilMsrIsRead() {
            uart.write(UART_IER, UART_IER_MSI);
            uart.setModemInputs(UART_MSR_DSR | UART_MSR_RI); // CTS and DCD drop, RI rises
            assertThat(iirId()).isEqualTo(UART_IIR_MSI);
            assertThat(uart.read(UART_MSR)).isEqualTo(UART_MSR_DSR | UART_MSR_RI | UART_MSR_DCTS | UART_MSR_DDCD);
            assertThat(uart.read(UART_MSR)).isEqualTo(UART_MSR_DSR | UART_MSR_RI);
            assertThat(uart.interruptPending()).isFalse();
        }

        @Test
        void onlyTheTrailingEdgeOfRingIsLatched() {
            uart.setModemInputs(UartModel.DEFAULT_MODEM_INPUTS | UART_MSR_RI);
            assertThat(uart.read(UART_MSR) & UART_MSR_ANY_DELTA).isZero();
            uart.setModemInputs(UartModel.DEFAULT_MODEM_INPUTS);
            assertThat(uart.read(UART_MSR) & UART_MSR_ANY_DELTA).isEqualTo(UART_MSR_TERI);
        }

        @Test
        void loopbackMapsModemOutputsOntoModemInputs() {
            uart.read(UART_MSR);
            uart.write(UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_OUT2);
            assertThat(uart.read(UART_MSR) & UART_MSR_STATUS_BITS).isEqualTo(UART_MSR_CTS | UART_MSR_DCD);
            uart.write(UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT1);
            assertThat(uart.read(UART_MSR)).isEqualTo(UART_MSR_DSR | UART_MSR_RI
                    | UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_DDCD);
            uart.write(UART_MCR, UART_MCR_LOOP);
            assertThat(uart.read(UART_MSR)).as("OUT1 going low is a trailing ring edge").isEqualTo(UART_MSR_DDSR | UART_MSR_TERI);
            assertThat(uart.modemOutputs()).as("outputs held inactive in loopback").isZero();
        }

        @Test
        void loopbackSendsTransmittedCharactersToTheReceiverNotTheLine() {
            fifo(UART_FCR_TRIGGER_14);
            uart.write(UART_MCR, UART_MCR_LOOP);
            uart.write(UART_TX, 'h');
            uart.write(UART_TX, 'i');
            assertThat(uart.txPending()).isZero();
            assertThat(uart.read(UART_RX)).isEqualTo('h');
            assertThat(uart.read(UART_RX)).isEqualTo('i');
            assertThat(uart.rxRoom()).as("the serial input is disconnected in loopback").isZero();
        }

        @Test
        void loopbackOverrunsLikeHardwareWhenMoreThanSixteenAreSent() {
            fifo(0);
            uart.write(UART_MCR, UART_MCR_LOOP);
            for (int i = 0; i < 256; i++) uart.write(UART_TX, i);
            int count = 0;
            while ((uart.read(UART_LSR) & UART_LSR_DR) != 0 && count < 256) {
                assertThat(uart.read(UART_RX)).isEqualTo(count);
                count++;
            }
            assertThat(count).isEqualTo(FIFO_SIZE);
        }

        @Test
        void loopbackStillInterruptsThroughIer() {
            uart.write(UART_MCR, UART_MCR_LOOP);
            uart.write(UART_IER, UART_IER_RDI | UART_IER_MSI);
            uart.read(UART_MSR);
            uart.write(UART_MCR, UART_MCR_LOOP | UART_MCR_RTS);
            assertThat(iirId()).isEqualTo(UART_IIR_MSI);
            uart.read(UART_MSR);
            uart.write(UART_TX, 'z');
            assertThat(iirId()).isEqualTo(UART_IIR_RDI);
        }

        @Test
        void mcrAndIerReadBackOnlyTheirImplementedBits() {
            uart.write(UART_MCR, 0xff);
            assertThat(uart.read(UART_MCR)).isEqualTo(UART_MCR_MASK);
            uart.write(UART_IER, 0xff);
            assertThat(uart.read(UART_IER)).isEqualTo(UART_IER_MASK);
        }
    }

    @Test
    void scratchRegisterHoldsAnyByte() {
        for (int v : new int[] {0x00, 0xa5, 0x5a, 0xff}) {
            uart.write(UART_SCR, v);
            assertThat(uart.read(UART_SCR)).isEqualTo(v);
        }
    }

    @Nested
    class State {
        @Test
        void aSwapMidTransferLosesAndDuplicatesNothingAndKeepsTheInterruptState() {
            fifo(UART_FCR_TRIGGER_8);
            uart.write(UART_LCR, UART_LCR_DLAB);
            uart.write(UART_DLL, 1);
            uart.write(UART_LCR, UART_LCR_WLEN8);
            uart.write(UART_IER, 0x0f);
            uart.write(UART_MCR, 0x0b);
            uart.write(UART_SCR, 0x42);
            receive("hello");
            uart.receive('!', UART_LSR_PE);
            uart.read(UART_IIR); // reports and consumes the THRE raised by enabling ETBEI
            for (char c : "world".toCharArray()) uart.write(UART_TX, c);
            uart.setModemInputs(UART_MSR_CTS | UART_MSR_DSR);
            int iirBefore = uart.interruptId();
            boolean levelBefore = uart.interruptPending();

            // the pause/save/restore as the core would do it: through the encoded form
            DeviceState saved = DeviceState.decode(uart.saveState().encode());
            UartModel fresh = new UartModel();
            fresh.restoreState(saved);

            assertThat(fresh.interruptId()).isEqualTo(iirBefore);
            assertThat(fresh.interruptPending()).isEqualTo(levelBefore);
            assertThat(fresh.saveState()).isEqualTo(saved);
            byte[] sent = new byte[16];
            assertThat(new String(sent, 0, fresh.takeTransmitted(sent))).isEqualTo("world");
            StringBuilder got = new StringBuilder();
            int errorsSeen = 0;
            while (true) {
                int lsr = fresh.read(UART_LSR);
                errorsSeen |= lsr & UART_LSR_PE;
                if ((lsr & UART_LSR_DR) == 0) break;
                got.append((char) fresh.read(UART_RX));
            }
            assertThat(got).hasToString("hello!");
            assertThat(errorsSeen).isEqualTo(UART_LSR_PE);
            assertThat(fresh.read(UART_SCR)).isEqualTo(0x42);
            assertThat(fresh.divisor()).isEqualTo(1);
            assertThat(fresh.read(UART_MSR) & UART_MSR_ANY_DELTA).isEqualTo(UART_MSR_DDCD);
        }

        @Test
        void thePendingThreLatchSurvivesASwap() {
            uart.write(UART_IER, UART_IER_THRI);
            UartModel fresh = new UartModel();
            fresh.restoreState(uart.saveState());
            assertThat(fresh.read(UART_IIR)).isEqualTo(UART_IIR_THRI);
            uart.read(UART_IIR);
            UartModel cleared = new UartModel();
            cleared.restoreState(uart.saveState());
            assertThat(cleared.read(UART_IIR)).as("a consumed THRE stays consumed").isEqualTo(UART_IIR_NO_INT);
        }

        @Test
        void stateOfAnotherTypeOrNewerVersionIsRefused() {
            assertThatThrownBy(() -> uart.restoreState(DeviceState.builder("virtio-rng", 1).build()))
                    .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("virtio-rng");
            assertThatThrownBy(() -> uart.restoreState(DeviceState.builder(UartModel.STATE_TYPE, 2).build()))
                    .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("version 2");
        }

        @Test
        void inconsistentStateIsRefusedAndLeavesTheModelAlone() {
            uart.write(UART_SCR, 9);
            DeviceState good = uart.saveState();
            DeviceState.Builder b = DeviceState.builder(UartModel.STATE_TYPE, 1);
            for (String n : good.names()) {
                if (n.equals("rx")) b.put(n, new byte[2]); // two characters with FIFOs disabled
                else if (n.equals("rx-errors")) b.put(n, new byte[2]);
                else if (n.equals("tx")) b.put(n, good.getBytes(n));
                else b.put(n, good.getLong(n));
            }
            assertThatThrownBy(() -> uart.restoreState(b.build())).isInstanceOf(IncompatibleStateException.class)
                    .hasMessageContaining("FIFO of 1");
            assertThat(uart.read(UART_SCR)).isEqualTo(9);
        }
    }
}
