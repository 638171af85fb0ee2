package device.uart.model;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * The 16550A register model under any interleaving of guest register
 * accesses (any offset, any value, DLAB and FIFO modes switched at will)
 * and line activity from the peer (characters with error flags, breaks,
 * idle periods, modem inputs, the transmitter draining). Every read gives
 * a byte, the FIFOs never hold more than their capacity, the interrupt
 * output agrees with IIR, and the state saved at any point restores into
 * a fresh model as the same state.
 */
class UartModelFuzzTest {
    private static final int FIFO_SIZE = 16;

    @FuzzTest(maxDuration = "5m")
    void anyGuestAndLineActivity(FuzzedDataProvider data) {
        UartModel uart = new UartModel();
        byte[] line = new byte[FIFO_SIZE + 4];
        while (data.remainingBytes() > 0) {
            switch (data.consumeInt(0, 9)) {
                case 0, 1 -> assertThat(uart.read(data.consumeInt())).isBetween(0, 0xff);
                case 2, 3, 4 -> uart.write(data.consumeInt(), data.consumeInt());
                case 5 -> uart.receive(data.consumeInt(), data.consumeInt());
                case 6 -> {
                    if (data.consumeBoolean()) uart.receiveBreak();
                    else uart.lineIdle();
                }
                case 7 -> assertThat(uart.takeTransmitted(new byte[data.consumeInt(0, line.length)]))
                        .isBetween(0, FIFO_SIZE);
                case 8 -> uart.setModemInputs(data.consumeInt());
                default -> {
                    if (data.consumeBoolean()) uart.reset();
                    else roundTrip(uart);
                }
            }
            assertThat(uart.rxCount()).isBetween(0, FIFO_SIZE);
            assertThat(uart.txPending()).isBetween(0, FIFO_SIZE);
            assertThat(uart.rxRoom()).isBetween(0, FIFO_SIZE);
            assertThat(uart.lsr()).isBetween(0, 0xff);
            assertThat(uart.interruptPending()).isEqualTo((uart.interruptId() & 1) == 0);
        }
        roundTrip(uart);
    }

    private static void roundTrip(UartModel uart) {
        UartModel copy = new UartModel();
        copy.restoreState(uart.saveState());
        assertThat(copy.saveState()).isEqualTo(uart.saveState());
        assertThat(copy.lsr()).isEqualTo(uart.lsr());
        assertThat(copy.interruptId()).isEqualTo(uart.interruptId());
    }
}
