package vmm.emu.internal.irq;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class Pit8254Test {
    private final ManualClock clock = new ManualClock();
    private int irq0Pulses;
    private final Pit8254 pit = new Pit8254(clock, () -> irq0Pulses++);

    /** Moves the clock to {@code ticks} input-clock ticks and runs the timer as the scheduler would. */
    private void at(long ticks) {
        clock.set(Pit8254.nanosAt(ticks));
        pit.advanceTo(clock.nanos());
    }

    private void count(int port, int value) {
        pit.write(port, value & 0xff);
        pit.write(port, value >>> 8);
    }

    private int read16(int port) {
        int lsb = pit.read(port);
        return lsb | pit.read(port) << 8;
    }

    private boolean out2() {
        return (pit.read(0x61) & 0x20) != 0;
    }

    @Test
    void tickConversionIsExactAtTheClockRate() {
        assertThat(Pit8254.ticksAt(1_000_000_000L)).isEqualTo(1_193_182L);
        assertThat(Pit8254.ticksAt(Pit8254.nanosAt(12345))).isEqualTo(12345);
        assertThat(Pit8254.ticksAt(Pit8254.nanosAt(12345) - 1)).isEqualTo(12344);
        assertThat(Pit8254.ticksAt(Long.MAX_VALUE / 2)).isPositive();
    }

    @Test
    void mode2RateGeneratorPulsesIrq0EveryPeriod() {
        pit.write(0x43, 0x34);
        count(0x40, 1000);
        assertThat(pit.nextDeadline()).isEqualTo(Pit8254.nanosAt(1000));
        at(999);
        assertThat(irq0Pulses).isZero();
        at(1000);
        assertThat(irq0Pulses).isEqualTo(1);
        assertThat(pit.nextDeadline()).isEqualTo(Pit8254.nanosAt(2000));
        at(2000);
        assertThat(irq0Pulses).isEqualTo(2);
    }

    @Test
    void aLatePeriodicCounterPulsesOnceAndKeepsItsPhase() {
        pit.write(0x43, 0x34);
        count(0x40, 1000);
        at(5500);
        assertThat(irq0Pulses).isEqualTo(1);
        assertThat(pit.nextDeadline()).isEqualTo(Pit8254.nanosAt(6000));
    }

    @Test
    void mode2OutGoesLowForOneTickWhenTheCountReachesOne() {
        pit.write(0x61, 1);
        pit.write(0x43, 0xb4);
        count(0x42, 10);
        at(8);
        assertThat(out2()).isTrue();
        at(9);
        assertThat(out2()).isFalse();
        at(10);
        assertThat(out2()).isTrue();
        pit.write(0x43, 0x80);
        assertThat(read16(0x42)).as("reloaded").isEqualTo(10);
    }

    @Test
    void mode0OutRisesAtTerminalCountAndTheCountWrapsOn() {
        pit.write(0x61, 1);
        pit.write(0x43, 0xb0);
        assertThat(out2()).as("mode 0 starts low").isFalse();
        count(0x42, 100);
        at(99);
        assertThat(out2()).isFalse();
        at(100);
        assertThat(out2()).isTrue();
        at(110);
        assertThat(read16(0x42)).isEqualTo(65526);
        assertThat(out2()).as("stays high").isTrue();
    }

    @Test
    void mode0OnCounter0PulsesIrq0Once() {
        pit.write(0x43, 0x30);
        count(0x40, 500);
        at(500);
        at(70_000);
        assertThat(irq0Pulses).isEqualTo(1);
        assertThat(pit.nextDeadline()).isEqualTo(Timed.NEVER);
    }

    @Test
    void writingTheFirstByteInMode0StopsTheCount() {
        pit.write(0x61, 1);
        pit.write(0x43, 0xb0);
        count(0x42, 10);
        at(20);
        assertThat(out2()).isTrue();
        pit.write(0x42, 5);
        assertThat(out2()).isFalse();
        pit.write(0x42, 0);
        at(24);
        assertThat(out2()).isFalse();
        at(25);
        assertThat(out2()).isTrue();
    }

    @Test
    void gateLowSuspendsCountingInMode0() {
        pit.write(0x61, 1);
        pit.write(0x43, 0xb0);
        count(0x42, 100);
        at(40);
        pit.write(0x61, 0);
        at(1000);
        pit.write(0x43, 0x80);
        assertThat(read16(0x42)).isEqualTo(60);
        pit.write(0x61, 1);
        at(1059);
        assertThat(out2()).isFalse();
        at(1060);
        assertThat(out2()).isTrue();
    }

    @Test
    void counterLatchHoldsTheValueUntilBothBytesAreRead() {
        pit.write(0x43, 0x34);
        count(0x40, 1000);
        at(100);
        pit.write(0x43, 0x00);
        at(300);
        assertThat(read16(0x40)).isEqualTo(900);
        assertThat(read16(0x40)).as("the live count again").isEqualTo(700);
    }

    @Test
    void aSecondLatchBeforeTheFirstIsReadIsIgnored() {
        pit.write(0x43, 0x34);
        count(0x40, 1000);
        at(100);
        pit.write(0x43, 0x00);
        at(200);
        pit.write(0x43, 0x00);
        assertThat(read16(0x40)).isEqualTo(900);
    }

    @Test
    void readBackLatchesStatusThenCount() {
        pit.write(0x43, 0x34);
        count(0x40, 1000);
        at(10);
        pit.write(0x43, 0xc2); // read-back: count and status of counter 0
        at(20);
        assertThat(pit.read(0x40)).as("OUT high, RW 3, mode 2, binary").isEqualTo(0x80 | 0x34);
        assertThat(read16(0x40)).isEqualTo(990);
    }

    @Test
    void readBackOfStatusAloneLeavesTheCountLive() {
        pit.write(0x43, 0x34);
        count(0x40, 1000);
        pit.write(0x43, 0xe2); // status only
        at(10);
        assertThat(pit.read(0x40)).isEqualTo(0xb4);
        assertThat(read16(0x40)).isEqualTo(990);
    }

    @Test
    void readBackSelectsSeveralCounters() {
        pit.write(0x43, 0x34);
        count(0x40, 1000);
        pit.write(0x43, 0xb4);
        count(0x42, 2000);
        pit.write(0x61, 1);
        at(5);
        pit.write(0x43, 0xea); // status of counters 0 and 2
        assertThat(pit.read(0x40)).isEqualTo(0xb4);
        assertThat(pit.read(0x42)).isEqualTo(0xb4);
    }

    @Test
    void statusShowsNullCountFromTheControlWordUntilTheCountIsWritten() {
        pit.write(0x43, 0x34);
        pit.write(0x43, 0xe2);
        assertThat(pit.read(0x40) & 0x40).isNotZero();
        count(0x40, 100);
        pit.write(0x43, 0xe2);
        assertThat(pit.read(0x40) & 0x40).isZero();
    }

    @Test
    void statusReturnsTheModeBitsAsWritten() {
        pit.write(0x43, 0x3c); // mode 6 = mode 2
        count(0x40, 1000);
        pit.write(0x43, 0xe2);
        assertThat(pit.read(0x40) & 0x3f).isEqualTo(0x3c);
        at(1000);
        assertThat(irq0Pulses).as("runs as mode 2").isEqualTo(1);
    }

    @Test
    void bcdCountsInDecimal() {
        pit.write(0x43, 0x35); // mode 2, BCD
        count(0x40, 0x1000);
        at(1);
        assertThat(read16(0x40)).isEqualTo(0x0999);
        at(1000);
        assertThat(irq0Pulses).isEqualTo(1);
    }

    @Test
    void zeroCountMeans65536OrInBcd10000() {
        pit.write(0x43, 0x34);
        count(0x40, 0);
        assertThat(pit.nextDeadline()).isEqualTo(Pit8254.nanosAt(65536));
        pit.write(0x43, 0x35);
        count(0x40, 0);
        assertThat(pit.nextDeadline()).isEqualTo(Pit8254.nanosAt(10000));
    }

    @Test
    void lsbOnlyAndMsbOnlyAccessWriteAndReadOneByte() {
        pit.write(0x43, 0x14); // LSB only, mode 2
        pit.write(0x40, 0x50);
        assertThat(pit.nextDeadline()).isEqualTo(Pit8254.nanosAt(Pit8254.MIN_PERIOD_TICKS));
        assertThat(pit.read(0x40)).isEqualTo(0x50);
        pit.write(0x43, 0x24); // MSB only
        pit.write(0x40, 0x02);
        assertThat(pit.nextDeadline()).isEqualTo(Pit8254.nanosAt(0x200));
        assertThat(pit.read(0x40)).isEqualTo(0x02);
    }

    @Test
    void theReadFlipFlopAlternatesLsbAndMsb() {
        pit.write(0x43, 0x30);
        count(0x40, 0x1234);
        assertThat(pit.read(0x40)).isEqualTo(0x34);
        assertThat(pit.read(0x40)).isEqualTo(0x12);
        assertThat(pit.read(0x40)).isEqualTo(0x34);
    }

    @Test
    void mode3SquareWaveIsHighForTheFirstHalfOfThePeriod() {
        pit.write(0x61, 1);
        pit.write(0x43, 0xb6);
        count(0x42, 100);
        at(49);
        assertThat(out2()).isTrue();
        at(50);
        assertThat(out2()).isFalse();
        at(99);
        assertThat(out2()).isFalse();
        at(100);
        assertThat(out2()).isTrue();
    }

    @Test
    void mode3CountsDownByTwo() {
        pit.write(0x43, 0x36);
        count(0x40, 1000);
        at(100);
        assertThat(read16(0x40)).isEqualTo(800);
    }

    @Test
    void mode1OneShotWaitsForAGateTriggerAndIsRetriggerable() {
        pit.write(0x43, 0xb2);
        count(0x42, 50);
        assertThat(out2()).isTrue();
        at(10);
        pit.write(0x61, 1); // trigger
        assertThat(out2()).isFalse();
        at(59);
        assertThat(out2()).isFalse();
        at(60);
        assertThat(out2()).isTrue();
        pit.write(0x61, 0);
        pit.write(0x61, 1); // retrigger
        assertThat(out2()).isFalse();
        at(110);
        assertThat(out2()).isTrue();
    }

    @Test
    void mode4StrobeGoesLowForOneTickAtTerminalCount() {
        pit.write(0x61, 1);
        pit.write(0x43, 0xb8);
        count(0x42, 30);
        at(29);
        assertThat(out2()).isTrue();
        at(30);
        assertThat(out2()).isFalse();
        at(31);
        assertThat(out2()).isTrue();
    }

    @Test
    void mode5StrobeWaitsForTheGate() {
        pit.write(0x43, 0xba);
        count(0x42, 30);
        at(100);
        assertThat(out2()).isTrue();
        pit.write(0x61, 1);
        at(130);
        assertThat(out2()).isFalse();
        at(131);
        assertThat(out2()).isTrue();
    }

    @Test
    void mode2GateLowHoldsOutHighAndARisingGateReloads() {
        pit.write(0x61, 1);
        pit.write(0x43, 0xb4);
        count(0x42, 10);
        at(9);
        assertThat(out2()).isFalse();
        pit.write(0x61, 0);
        assertThat(out2()).isTrue();
        at(50);
        pit.write(0x61, 1);
        at(58);
        assertThat(out2()).isTrue();
        at(59);
        assertThat(out2()).isFalse();
    }

    @Test
    void port61ShowsGate2SpeakerDataOut2AndARefreshToggle() {
        assertThat(pit.read(0x61) & 0x23).isZero();
        pit.write(0x61, 0x03);
        assertThat(pit.read(0x61) & 0x03).isEqualTo(0x03);
        int before = pit.read(0x61) & 0x10;
        clock.advance(1 << Pit8254.REFRESH_SHIFT);
        assertThat(pit.read(0x61) & 0x10).isNotEqualTo(before);
    }

    @Test
    void periodicIrq0NeverFasterThanTheMinimumPeriod() {
        pit.write(0x43, 0x34);
        count(0x40, 2);
        assertThat(pit.nextDeadline()).isGreaterThanOrEqualTo(Pit8254.MIN_PERIOD_NS);
    }

    @Test
    void counter2DoesNotDriveIrq0() {
        pit.write(0x61, 1);
        pit.write(0x43, 0xb4);
        count(0x42, 300);
        at(10_000);
        assertThat(irq0Pulses).isZero();
    }

    @Test
    void controlPortReadsAllOnes() {
        assertThat(pit.read(0x43)).isEqualTo(0xff);
    }

    @Test
    void resetStopsCounter0() {
        pit.write(0x43, 0x34);
        count(0x40, 1000);
        pit.reset();
        assertThat(pit.nextDeadline()).isEqualTo(Timed.NEVER);
    }
}
