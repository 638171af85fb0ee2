package vmm.emu.internal.irq;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class DualPicTest {
    private final AtomicInteger outputChanges = new AtomicInteger();
    private final DualPic pic = new DualPic(outputChanges::incrementAndGet);

    /** The initialization a PC BIOS does: master vectors 0x08, slave 0x70, cascade on IR2, 8086 mode. */
    @BeforeEach
    void initialize() {
        initialize(0x01);
    }

    private void initialize(int icw4) {
        pic.write(0x20, 0x11);
        pic.write(0x21, 0x08);
        pic.write(0x21, 0x04);
        pic.write(0x21, icw4);
        pic.write(0xa0, 0x11);
        pic.write(0xa1, 0x70);
        pic.write(0xa1, 0x02);
        pic.write(0xa1, icw4);
    }

    @Test
    void initializationSetsVectorBaseAndInterruptAcknowledgeReturnsIt() {
        pic.setIrq(1, true);
        assertThat(pic.output()).isTrue();
        assertThat(pic.acknowledge()).isEqualTo(0x09);
        assertThat(pic.isr(true)).isEqualTo(1 << 1);
        assertThat(pic.irr(true)).isZero();
        assertThat(pic.output()).isFalse();
    }

    @Test
    void icw1ClearsMaskAndInService() {
        pic.write(0x21, 0xff);
        pic.setIrq(3, true);
        pic.write(0x21, 0x00);
        pic.acknowledge();
        initialize();
        assertThat(pic.read(0x21)).isZero();
        assertThat(pic.isr(true)).isZero();
    }

    @Test
    void edgeTriggeredIrqStaysRequestedAfterLineDropsUntilAcknowledged() {
        pic.setIrq(4, true);
        pic.setIrq(4, false);
        assertThat(pic.irr(true)).isEqualTo(1 << 4);
        assertThat(pic.acknowledge()).isEqualTo(0x0c);
        assertThat(pic.irr(true)).isZero();
    }

    @Test
    void edgeTriggeredIrqNeedsANewRisingEdgeToRequestAgain() {
        pic.setIrq(4, true);
        assertThat(pic.acknowledge()).isEqualTo(0x0c);
        pic.write(0x20, 0x20);
        pic.setIrq(4, true); // still high: no edge
        assertThat(pic.output()).isFalse();
        pic.setIrq(4, false);
        pic.setIrq(4, true);
        assertThat(pic.output()).isTrue();
    }

    @Test
    void levelTriggeredIrqStaysInIrrUntilLineDrops() {
        pic.write(DualPic.ELCR2, 1 << 2); // IRQ10 level
        pic.setIrq(10, true);
        assertThat(pic.acknowledge()).isEqualTo(0x72);
        assertThat(pic.irr(false)).isEqualTo(1 << 2);
        pic.write(0xa0, 0x20);
        pic.write(0x20, 0x20);
        assertThat(pic.output()).as("still driven after EOI: interrupts again").isTrue();
        pic.setIrq(10, false);
        assertThat(pic.irr(false)).isZero();
        // The master latched the cascade's edge: an INTA now finds nothing in the slave.
        assertThat(pic.acknowledge()).isEqualTo(0x77);
    }

    @Test
    void elcrBitsForIrq0To2AndIrq8AndIrq13AreHardwiredToEdge() {
        pic.write(DualPic.ELCR1, 0xff);
        pic.write(DualPic.ELCR2, 0xff);
        assertThat(pic.read(DualPic.ELCR1)).isEqualTo(0xf8);
        assertThat(pic.read(DualPic.ELCR2)).isEqualTo(0xde);
    }

    @Test
    void ltimInIcw1MakesEveryInputLevelTriggered() {
        pic.write(0x20, 0x19);
        pic.write(0x21, 0x08);
        pic.write(0x21, 0x04);
        pic.write(0x21, 0x01);
        pic.setIrq(5, true);
        pic.acknowledge();
        assertThat(pic.irr(true)).isEqualTo(1 << 5);
    }

    @Test
    void maskedIrqDoesNotInterruptUntilUnmasked() {
        pic.write(0x21, 1 << 6);
        pic.setIrq(6, true);
        assertThat(pic.output()).isFalse();
        assertThat(pic.read(0x21)).isEqualTo(1 << 6);
        pic.write(0x21, 0);
        assertThat(pic.output()).isTrue();
        assertThat(pic.acknowledge()).isEqualTo(0x0e);
    }

    @Test
    void lowerPriorityWaitsWhileHigherIsInServiceButHigherNests() {
        pic.setIrq(3, true);
        assertThat(pic.acknowledge()).isEqualTo(0x0b);
        pic.setIrq(5, true);
        assertThat(pic.output()).as("IRQ5 is below IRQ3 in service").isFalse();
        pic.setIrq(1, true);
        assertThat(pic.output()).as("IRQ1 is above IRQ3").isTrue();
        assertThat(pic.acknowledge()).isEqualTo(0x09);
        assertThat(pic.isr(true)).isEqualTo(1 << 1 | 1 << 3);
    }

    @Test
    void specificEoiClearsOnlyThatIsrBit() {
        pic.setIrq(3, true);
        pic.acknowledge();
        pic.setIrq(1, true);
        pic.acknowledge();
        pic.write(0x20, 0x60 | 3);
        assertThat(pic.isr(true)).isEqualTo(1 << 1);
    }

    @Test
    void nonSpecificEoiClearsTheHighestPriorityInService() {
        pic.setIrq(3, true);
        pic.acknowledge();
        pic.setIrq(1, true);
        pic.acknowledge();
        pic.write(0x20, 0x20);
        assertThat(pic.isr(true)).isEqualTo(1 << 3);
        pic.write(0x20, 0x20);
        assertThat(pic.isr(true)).isZero();
    }

    @Test
    void automaticEoiLeavesNothingInService() {
        initialize(0x03);
        pic.setIrq(1, true);
        assertThat(pic.acknowledge()).isEqualTo(0x09);
        assertThat(pic.isr(true)).isZero();
        pic.setIrq(4, true);
        assertThat(pic.output()).isTrue();
    }

    @Test
    void rotateOnNonSpecificEoiMakesTheServedIrqLowestPriority() {
        pic.setIrq(1, true);
        pic.acknowledge();
        pic.write(0x20, 0xa0); // rotate on non-specific EOI: IRQ1 becomes lowest, IRQ2 highest
        pic.setIrq(0, true);
        pic.setIrq(3, true);
        assertThat(pic.acknowledge()).as("IRQ3 now outranks IRQ0").isEqualTo(0x0b);
    }

    @Test
    void rotateInAutomaticEoiModeRotatesOnEachAcknowledge() {
        initialize(0x03);
        pic.write(0x20, 0x80); // set rotate in AEOI
        pic.setIrq(4, true);
        pic.acknowledge();
        pic.setIrq(0, true);
        pic.setIrq(6, true);
        assertThat(pic.acknowledge()).as("IRQ5 is highest after IRQ4 was served").isEqualTo(0x0e);
    }

    @Test
    void rotateOnSpecificEoiMakesTheNamedIrqLowest() {
        pic.setIrq(2 + 1, true);
        pic.acknowledge();
        pic.write(0x20, 0xe0 | 3);
        assertThat(pic.isr(true)).isZero();
        pic.setIrq(0, true);
        pic.setIrq(4, true);
        assertThat(pic.acknowledge()).isEqualTo(0x0c);
    }

    @Test
    void setPriorityCommandMakesTheNamedIrqLowest() {
        pic.write(0x20, 0xc0 | 5); // IRQ5 lowest, IRQ6 highest
        pic.setIrq(0, true);
        pic.setIrq(6, true);
        assertThat(pic.acknowledge()).isEqualTo(0x0e);
    }

    @Test
    void ocw3SelectsWhetherTheCommandPortReadsIrrOrIsr() {
        pic.setIrq(3, true);
        pic.acknowledge();
        pic.setIrq(5, true);
        assertThat(pic.read(0x20)).as("IRR after init").isEqualTo(1 << 5);
        pic.write(0x20, 0x0b);
        assertThat(pic.read(0x20)).as("ISR").isEqualTo(1 << 3);
        pic.write(0x20, 0x08); // RR clear: selection unchanged
        assertThat(pic.read(0x20)).isEqualTo(1 << 3);
        pic.write(0x20, 0x0a);
        assertThat(pic.read(0x20)).isEqualTo(1 << 5);
    }

    @Test
    void pollModeReadsTheHighestRequestAndAcknowledgesIt() {
        pic.setIrq(6, true);
        pic.setIrq(4, true);
        pic.write(0x20, 0x0c);
        assertThat(pic.read(0x20)).isEqualTo(0x80 | 4);
        assertThat(pic.isr(true)).isEqualTo(1 << 4);
        assertThat(pic.read(0x20)).as("the poll is over: IRR").isEqualTo(1 << 6);
    }

    @Test
    void pollWithNoRequestReadsZero() {
        pic.write(0x20, 0x0c);
        assertThat(pic.read(0x20)).isZero();
    }

    @Test
    void specialMaskModeLetsLowerPriorityInterruptWhileAMaskedLevelIsInService() {
        pic.setIrq(1, true);
        pic.acknowledge();
        pic.setIrq(4, true);
        assertThat(pic.output()).isFalse();
        pic.write(0x21, 1 << 1);
        pic.write(0x20, 0x68); // set special mask
        assertThat(pic.output()).isTrue();
        assertThat(pic.acknowledge()).isEqualTo(0x0c);
        pic.write(0x20, 0x48); // reset special mask
        pic.write(0x20, 0x60 | 4);
        pic.setIrq(5, true);
        assertThat(pic.output()).as("IRQ1 in service blocks again").isFalse();
    }

    @Test
    void spuriousIrq7WhenTheRequestGoesAwayBeforeAcknowledge() {
        pic.write(DualPic.ELCR1, 1 << 3);
        pic.setIrq(3, true);
        assertThat(pic.output()).isTrue();
        pic.setIrq(3, false);
        assertThat(pic.acknowledge()).isEqualTo(0x0f);
        assertThat(pic.isr(true)).as("a spurious IRQ7 sets no ISR bit").isZero();
    }

    @Test
    void slaveInterruptCascadesThroughIrq2() {
        pic.setIrq(12, true);
        assertThat(pic.output()).isTrue();
        assertThat(pic.acknowledge()).isEqualTo(0x74);
        assertThat(pic.isr(true)).isEqualTo(1 << 2);
        assertThat(pic.isr(false)).isEqualTo(1 << 4);
    }

    @Test
    void spuriousIrq15WhenTheSlaveRequestGoesAway() {
        pic.write(DualPic.ELCR2, 1 << 3); // IRQ11 level
        pic.setIrq(11, true);
        pic.setIrq(11, false);
        // The master latched the cascade's edge; the slave has nothing left.
        assertThat(pic.acknowledge()).isEqualTo(0x77);
        assertThat(pic.isr(false)).isZero();
        assertThat(pic.isr(true)).as("the master took IR2").isEqualTo(1 << 2);
    }

    @Test
    void slaveInterruptWaitsForBothEois() {
        pic.setIrq(9, true);
        pic.acknowledge();
        pic.setIrq(8, true);
        assertThat(pic.output()).as("IRQ8 outranks IRQ9 in the slave, but the master has IR2 in service").isFalse();
        pic.write(0xa0, 0x20);
        pic.write(0x20, 0x20);
        assertThat(pic.acknowledge()).isEqualTo(0x70);
    }

    @Test
    void specialFullyNestedModeLetsAHigherSlaveInterruptThroughTheCascadeInService() {
        initialize(0x11);
        pic.setIrq(9, true);
        pic.acknowledge();
        pic.setIrq(8, true);
        assertThat(pic.output()).isTrue();
        assertThat(pic.acknowledge()).isEqualTo(0x70);
    }

    @Test
    void irq2CannotBeDrivenFromOutside() {
        pic.setIrq(2, true);
        assertThat(pic.output()).isFalse();
    }

    @Test
    void everyChangeOfTheOutputIsReported() {
        int before = outputChanges.get();
        pic.setIrq(1, true);
        pic.acknowledge();
        assertThat(outputChanges.get() - before).isEqualTo(2);
    }

    @Test
    void resetLowersTheOutput() {
        pic.setIrq(1, true);
        pic.reset();
        assertThat(pic.output()).isFalse();
        assertThat(pic.read(DualPic.ELCR1)).isZero();
    }
}
