package vmm.emu.internal.irq;

import static org.assertj.core.api.Assertions.assertThat;
import static vmm.emu.internal.irq.LocalApic.*;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

class LocalApicTest {
    private final ManualClock clock = new ManualClock();
    private final List<ApicMessage> sent = new ArrayList<>();
    private final List<Integer> eois = new ArrayList<>();
    private int wakeups;

    private LocalApic apic(int index) {
        return new LocalApic(index, clock, (m, from) -> {
            sent.add(m);
            return 1;
        }, eois::add, () -> wakeups++);
    }

    private static int reg(LocalApic a, int offset) {
        return (int) a.read(offset, 4);
    }

    private static void set(LocalApic a, int offset, int value) {
        a.write(offset, 4, value & 0xffff_ffffL);
    }

    private static LocalApic enabled(LocalApic a) {
        set(a, SVR, 0x1ff);
        return a;
    }

    private static ApicMessage fixed(int vector, boolean level) {
        return ApicMessage.of(vector, ApicMessage.DM_FIXED, false, 0, level);
    }

    @Test
    void versionIs0x14WithSixLvtEntries() {
        assertThat(reg(apic(0), VERSION)).isEqualTo(0x0005_0014);
    }

    @Test
    void powerOnStateHasTheVcpuIndexAsIdAndTheBaseMsrWithEnableAndBsp() {
        LocalApic bsp = apic(0), ap = apic(3);
        assertThat(reg(ap, ID)).isEqualTo(3 << 24);
        assertThat(bsp.apicBase()).isEqualTo(0xfee0_0900L);
        assertThat(ap.apicBase()).isEqualTo(0xfee0_0800L);
        assertThat(reg(bsp, SVR)).isEqualTo(0xff);
        assertThat(reg(bsp, DFR)).isEqualTo(0xffff_ffff);
        for (int lvt = LVT_TIMER; lvt <= LVT_ERROR; lvt += 0x10) assertThat(reg(ap, lvt)).isEqualTo(LVT_MASKED);
        assertThat(reg(bsp, LVT_LINT0)).as("the BSP takes the 8259A through LINT0 from power-on").isEqualTo(0x700);
        assertThat(reg(bsp, LVT_LINT1)).isEqualTo(LVT_MASKED);
    }

    @Test
    void initMasksTheBspsLint0LikeEveryOtherLvt() {
        LocalApic bsp = apic(0);
        bsp.accept(new ApicMessage(0, ApicMessage.DM_INIT, false, 0, 0, false, true, false));
        bsp.takeInit();
        assertThat(reg(bsp, LVT_LINT0)).isEqualTo(LVT_MASKED);
    }

    @Test
    void levelDeassertOfAFixedInterruptIsDropped() {
        LocalApic a = enabled(apic(0));
        assertThat(a.accept(new ApicMessage(0x40, ApicMessage.DM_FIXED, false, 0, 0, true, false, false))).isFalse();
        assertThat(a.hasInterrupt()).isFalse();
    }

    @Test
    void fixedInterruptIsDroppedWhileSoftwareDisabled() {
        LocalApic a = apic(0);
        assertThat(a.accept(fixed(0x40, false))).isFalse();
        assertThat(a.hasInterrupt()).isFalse();
    }

    @Test
    void acceptedInterruptWakesTheCpuAndAcknowledgeMovesItFromIrrToIsr() {
        LocalApic a = enabled(apic(0));
        a.accept(fixed(0x40, false));
        assertThat(wakeups).isEqualTo(1);
        assertThat(a.hasInterrupt()).isTrue();
        assertThat(reg(a, IRR + 0x20)).isEqualTo(1);
        assertThat(a.acknowledge()).isEqualTo(0x40);
        assertThat(a.irrBit(0x40)).isFalse();
        assertThat(reg(a, ISR + 0x20)).isEqualTo(1);
        assertThat(a.hasInterrupt()).isFalse();
        assertThat(a.acknowledge()).as("nothing left").isEqualTo(-1);
    }

    @Test
    void acknowledgeTakesTheHighestVectorFirst() {
        LocalApic a = enabled(apic(0));
        a.accept(fixed(0x41, false));
        a.accept(fixed(0xe0, false));
        a.accept(fixed(0x80, false));
        assertThat(a.acknowledge()).isEqualTo(0xe0);
    }

    @Test
    void tprBlocksInterruptsOfItsPriorityClassAndBelow() {
        LocalApic a = enabled(apic(0));
        set(a, TPR, 0x55);
        a.accept(fixed(0x5f, false));
        assertThat(a.hasInterrupt()).isFalse();
        assertThat(a.acknowledge()).isEqualTo(-1);
        a.accept(fixed(0x61, false));
        assertThat(a.hasInterrupt()).isTrue();
        assertThat(a.acknowledge()).isEqualTo(0x61);
        set(a, TPR, 0);
        assertThat(a.hasInterrupt()).as("0x5f is below 0x61 in service").isFalse();
    }

    @Test
    void pprIsTheInServiceClassWhenItIsAboveTpr() {
        LocalApic a = enabled(apic(0));
        set(a, TPR, 0x23);
        assertThat(reg(a, PPR)).isEqualTo(0x23);
        a.accept(fixed(0x71, false));
        a.acknowledge();
        assertThat(reg(a, PPR)).isEqualTo(0x70);
        set(a, TPR, 0x92);
        assertThat(reg(a, PPR)).isEqualTo(0x92);
    }

    @Test
    void higherClassInterruptNestsAboveOneInService() {
        LocalApic a = enabled(apic(0));
        a.accept(fixed(0x50, false));
        a.acknowledge();
        a.accept(fixed(0x55, false));
        assertThat(a.hasInterrupt()).as("same class as the one in service").isFalse();
        a.accept(fixed(0x61, false));
        assertThat(a.acknowledge()).isEqualTo(0x61);
        set(a, EOI, 0);
        set(a, EOI, 0);
        assertThat(a.acknowledge()).isEqualTo(0x55);
    }

    @Test
    void eoiClearsTheHighestVectorInService() {
        LocalApic a = enabled(apic(0));
        a.accept(fixed(0x50, false));
        a.acknowledge();
        a.accept(fixed(0x90, false));
        a.acknowledge();
        set(a, EOI, 0);
        assertThat(a.isrBit(0x90)).isFalse();
        assertThat(a.isrBit(0x50)).isTrue();
    }

    @Test
    void eoiOfALevelTriggeredVectorIsBroadcastAndOfAnEdgeOneIsNot() {
        LocalApic a = enabled(apic(0));
        a.accept(fixed(0x50, true));
        assertThat(reg(a, TMR + 0x20)).isEqualTo(1 << 16);
        a.acknowledge();
        set(a, EOI, 0);
        a.accept(fixed(0x51, false));
        a.acknowledge();
        set(a, EOI, 0);
        assertThat(eois).containsExactly(0x50);
    }

    @Test
    void vectorsBelow16AreRefusedWithReceiveIllegalVectorInEsr() {
        LocalApic a = enabled(apic(0));
        set(a, LVT_ERROR, 0xfe);
        assertThat(a.accept(fixed(0x0e, false))).isFalse();
        assertThat(reg(a, ESR)).as("not before a write to ESR").isZero();
        set(a, ESR, 0);
        assertThat(reg(a, ESR)).isEqualTo(ESR_RECEIVE_ILLEGAL_VECTOR);
        assertThat(a.acknowledge()).as("the error LVT").isEqualTo(0xfe);
        set(a, ESR, 0);
        assertThat(reg(a, ESR)).isZero();
    }

    @Test
    void fixedIpiWithAVectorBelow16IsNotSentAndSetsSendIllegalVector() {
        LocalApic a = enabled(apic(0));
        set(a, ICR_LOW, 0x0000_4005);
        assertThat(sent).isEmpty();
        set(a, ESR, 0);
        assertThat(reg(a, ESR)).isEqualTo(ESR_SEND_ILLEGAL_VECTOR);
    }

    @Test
    void icrSendsTheMessageItDescribesAndReadsAsDelivered() {
        LocalApic a = enabled(apic(0));
        set(a, ICR_HIGH, 0x0312_3456);
        set(a, ICR_LOW, 0x0000_c9a7 | 1 << 12); // level, assert, logical, lowest priority, vector 0xa7
        assertThat(sent).containsExactly(new ApicMessage(0xa7, ApicMessage.DM_LOWEST, true, 0x03,
                ApicMessage.SHORTHAND_NONE, true, true, false));
        assertThat(reg(a, ICR_HIGH)).isEqualTo(0x0300_0000);
        assertThat(reg(a, ICR_LOW)).as("delivery status idle").isEqualTo(0x0000_c9a7);
    }

    @Test
    void icrShorthandIsPassedOn() {
        LocalApic a = enabled(apic(0));
        set(a, ICR_LOW, 0x000c_0000 | 0x4500); // all excluding self, INIT
        assertThat(sent.getFirst().shorthand()).isEqualTo(ApicMessage.SHORTHAND_OTHERS);
        assertThat(sent.getFirst().deliveryMode()).isEqualTo(ApicMessage.DM_INIT);
    }

    @Test
    void apsStartInWaitForSipiAndTheBspDoesNot() {
        assertThat(apic(1).waitingForStartup()).isTrue();
        assertThat(apic(0).waitingForStartup()).isFalse();
    }

    @Test
    void initIpiPutsTargetInWaitForSipi() {
        LocalApic ap = apic(1);
        ap.accept(new ApicMessage(0, ApicMessage.DM_STARTUP, false, 1, 0, false, true, false));
        ap.takeStartup(); // the AP is running now
        assertThat(ap.waitingForStartup()).isFalse();
        ap.accept(new ApicMessage(0, ApicMessage.DM_INIT, false, 1, 0, true, true, false));
        assertThat(wakeups).isPositive();
        assertThat(ap.initPending()).isTrue();
        assertThat(ap.takeInit()).isTrue();
        assertThat(ap.waitingForStartup()).isTrue();
        ap.accept(new ApicMessage(0x9a, ApicMessage.DM_STARTUP, false, 1, 0, false, true, false));
        assertThat(ap.takeStartup()).isEqualTo(0x9a);
        assertThat(ap.waitingForStartup()).isFalse();
    }

    @Test
    void aSipiAfterAnInitStillStartsAnApThatLooksAtBothTogether() {
        LocalApic ap = apic(1);
        ap.accept(new ApicMessage(0x11, ApicMessage.DM_STARTUP, false, 1, 0, false, true, false));
        ap.takeStartup(); // the AP is running now
        ap.accept(new ApicMessage(0x22, ApicMessage.DM_STARTUP, false, 1, 0, false, true, false)); // ignored: running
        ap.accept(new ApicMessage(0, ApicMessage.DM_INIT, false, 1, 0, true, true, false));
        ap.accept(new ApicMessage(0x9b, ApicMessage.DM_STARTUP, false, 1, 0, false, true, false));
        assertThat(ap.takeInit()).isTrue();
        assertThat(ap.takeStartup()).as("the SIPI sent after the INIT").isEqualTo(0x9b);
    }

    @Test
    void aSipiBeforeAnInitIsDroppedByIt() {
        LocalApic ap = apic(1);
        ap.accept(new ApicMessage(0x9c, ApicMessage.DM_STARTUP, false, 1, 0, false, true, false));
        ap.accept(new ApicMessage(0, ApicMessage.DM_INIT, false, 1, 0, true, true, false));
        assertThat(ap.takeInit()).isTrue();
        assertThat(ap.takeStartup()).isEqualTo(-1);
    }

    @Test
    void sipiOutsideWaitForSipiIsIgnored() {
        LocalApic bsp = apic(0);
        bsp.accept(new ApicMessage(0x10, ApicMessage.DM_STARTUP, false, 0, 0, false, true, false));
        assertThat(bsp.takeStartup()).isEqualTo(-1);
    }

    @Test
    void initOfTheBspRestartsItWithoutWaitingForSipi() {
        LocalApic bsp = apic(0);
        bsp.accept(new ApicMessage(0, ApicMessage.DM_INIT, false, 0, 0, false, true, false));
        assertThat(bsp.takeInit()).isTrue();
        assertThat(bsp.waitingForStartup()).isFalse();
    }

    @Test
    void initLevelDeassertIsIgnored() {
        LocalApic ap = apic(1);
        assertThat(ap.accept(new ApicMessage(0, ApicMessage.DM_INIT, false, 1, 0, true, false, false))).isFalse();
        assertThat(ap.takeInit()).isFalse();
    }

    @Test
    void initResetsTheRegistersButKeepsTheIdAndTheBaseMsr() {
        LocalApic a = enabled(apic(2));
        set(a, ID, 0x0700_0000);
        set(a, TPR, 0x40);
        set(a, LDR, 0x0100_0000);
        a.writeApicBase(0xfed0_0800L, 40);
        a.accept(new ApicMessage(0, ApicMessage.DM_INIT, false, 7, 0, false, true, false));
        a.takeInit();
        assertThat(reg(a, ID)).isEqualTo(0x0700_0000);
        assertThat(a.apicBase()).isEqualTo(0xfed0_0800L);
        assertThat(reg(a, TPR)).isZero();
        assertThat(reg(a, LDR)).isZero();
        assertThat(reg(a, SVR)).isEqualTo(0xff);
    }

    @Test
    void nmiIsPendingUntilTakenAndWakesTheCpu() {
        LocalApic a = apic(0);
        a.accept(ApicMessage.of(0, ApicMessage.DM_NMI, false, 0, false));
        assertThat(wakeups).isEqualTo(1);
        assertThat(a.takeNmi()).isTrue();
        assertThat(a.takeNmi()).isFalse();
    }

    @Test
    void lint1DeliversAsItsLvtSays() {
        LocalApic a = enabled(apic(0));
        a.lint1();
        assertThat(a.takeNmi()).as("masked").isFalse();
        set(a, LVT_LINT1, 0x400);
        a.lint1();
        assertThat(a.takeNmi()).isTrue();
        set(a, LVT_LINT1, 0x43);
        a.lint1();
        assertThat(a.acknowledge()).isEqualTo(0x43);
        a.writeApicBase(0xfee0_0100L, 40);
        a.lint1();
        assertThat(a.takeNmi()).as("the NMI pin itself with the APIC off").isTrue();
    }

    @Test
    void physicalDestinationMatchesTheIdOrBroadcast() {
        LocalApic a = apic(2);
        assertThat(a.matches(ApicMessage.of(0x40, 0, false, 2, false))).isTrue();
        assertThat(a.matches(ApicMessage.of(0x40, 0, false, 3, false))).isFalse();
        assertThat(a.matches(ApicMessage.of(0x40, 0, false, 0xff, false))).isTrue();
    }

    @Test
    void flatLogicalDestinationMatchesAnyCommonLdrBit() {
        LocalApic a = apic(0);
        set(a, LDR, 0x0400_0000);
        assertThat(a.matches(ApicMessage.of(0x40, 0, true, 0x06, false))).isTrue();
        assertThat(a.matches(ApicMessage.of(0x40, 0, true, 0x03, false))).isFalse();
    }

    @Test
    void clusterLogicalDestinationMatchesClusterAndMember() {
        LocalApic a = apic(0);
        set(a, DFR, 0x0fff_ffff);
        assertThat(reg(a, DFR)).isEqualTo(0x0fff_ffff);
        set(a, LDR, 0x2200_0000); // cluster 2, member bit 1
        assertThat(a.matches(ApicMessage.of(0x40, 0, true, 0x23, false))).isTrue();
        assertThat(a.matches(ApicMessage.of(0x40, 0, true, 0x32, false))).as("other cluster").isFalse();
        assertThat(a.matches(ApicMessage.of(0x40, 0, true, 0x21, false))).as("other member").isFalse();
        assertThat(a.matches(ApicMessage.of(0x40, 0, true, 0xff, false))).isTrue();
    }

    @Test
    void dfrReservedBitsReadAsOnes() {
        LocalApic a = apic(0);
        set(a, DFR, 0);
        assertThat(reg(a, DFR)).isEqualTo(0x0fff_ffff);
    }

    @Test
    void softwareDisableMasksEveryLvtAndKeepsThemMasked() {
        LocalApic a = enabled(apic(0));
        set(a, LVT_LINT0, 0x700);
        assertThat(reg(a, LVT_LINT0)).isEqualTo(0x700);
        set(a, SVR, 0xff);
        assertThat(reg(a, LVT_LINT0)).isEqualTo(0x1_0700);
        set(a, LVT_LINT0, 0x700);
        assertThat(reg(a, LVT_LINT0)).isEqualTo(0x1_0700);
    }

    @Test
    void lvtReadOnlyAndReservedBitsAreNotWritten() {
        LocalApic a = enabled(apic(0));
        set(a, LVT_ERROR, 0xffff_ffff);
        assertThat(reg(a, LVT_ERROR)).isEqualTo(0x1_00ff);
        set(a, LVT_TIMER, 0xffff_ffff);
        assertThat(reg(a, LVT_TIMER)).as("no TSC-deadline mode").isEqualTo(0x3_00ff);
    }

    @Test
    void apicBaseRefusesReservedBitsX2apicAndAddressesPastThePhysicalWidth() {
        LocalApic a = apic(0);
        assertThat(a.writeApicBase(0xfee0_0d00L, 40)).as("x2APIC").isFalse();
        assertThat(a.writeApicBase(0xfee0_0901L, 40)).isFalse();
        assertThat(a.writeApicBase(0x100_fee0_0900L, 40)).isFalse();
        assertThat(a.apicBase()).isEqualTo(0xfee0_0900L);
    }

    @Test
    void disablingTheApicInTheBaseMsrHidesItAndResetsItsRegisters() {
        LocalApic a = enabled(apic(0));
        set(a, TPR, 0x30);
        assertThat(a.writeApicBase(0xfee0_0100L, 40)).isTrue();
        assertThat(a.hardwareEnabled()).isFalse();
        assertThat(a.matches(ApicMessage.of(0x40, 0, false, 0xff, false))).isFalse();
        a.writeApicBase(0xfee0_0900L, 40);
        assertThat(reg(a, TPR)).isZero();
        assertThat(reg(a, SVR)).isEqualTo(0xff);
    }

    @Test
    void onlyAlignedDwordWritesReachARegister() {
        LocalApic a = apic(0);
        a.write(TPR, 1, 0x40);
        a.write(TPR + 4, 4, 0x40);
        assertThat(reg(a, TPR)).isZero();
    }

    @Test
    void readsWithinARegisterReturnItsBytesAndReservedOffsetsReadZero() {
        LocalApic a = apic(0);
        assertThat(a.read(VERSION + 2, 2)).isEqualTo(0x0005);
        assertThat(a.read(VERSION + 2, 4)).as("crosses the register").isZero();
        assertThat(a.read(0x400, 4)).isZero();
        assertThat(a.read(0x3f0, 4)).isZero();
    }

    @Test
    void writeToAReservedRegisterIsAnIllegalRegisterAddress() {
        LocalApic a = apic(0);
        set(a, 0x3f0, 1);
        set(a, ESR, 0);
        assertThat(reg(a, ESR)).isEqualTo(ESR_ILLEGAL_REGISTER);
    }

    // ---- the timer ----

    @Test
    void oneShotTimerCountsDownFiresOnceAndStaysAtZero() {
        LocalApic a = enabled(apic(0));
        set(a, TIMER_DIVIDE, 0xb); // divide by 1: one count per ns
        set(a, LVT_TIMER, 0xec);
        set(a, TIMER_INITIAL, 1000);
        assertThat(a.nextDeadline()).isEqualTo(1000);
        clock.set(400);
        assertThat(reg(a, TIMER_CURRENT)).isEqualTo(600);
        clock.set(1000);
        a.advanceTo(1000);
        assertThat(a.acknowledge()).isEqualTo(0xec);
        assertThat(reg(a, TIMER_CURRENT)).isZero();
        assertThat(a.nextDeadline()).isEqualTo(Timed.NEVER);
    }

    @Test
    void periodicTimerReloadsFromInitialCount() {
        LocalApic a = enabled(apic(0));
        set(a, TIMER_DIVIDE, 0x3); // divide by 16
        set(a, LVT_TIMER, LVT_TIMER_PERIODIC | 0xec);
        set(a, TIMER_INITIAL, 100_000); // 1.6 ms
        assertThat(a.nextDeadline()).isEqualTo(1_600_000);
        clock.set(1_600_000);
        a.advanceTo(clock.nanos());
        assertThat(a.acknowledge()).isEqualTo(0xec);
        set(a, EOI, 0);
        assertThat(a.nextDeadline()).isEqualTo(3_200_000);
        clock.set(1_600_000 + 16 * 10);
        assertThat(reg(a, TIMER_CURRENT)).isEqualTo(100_000 - 10);
        clock.set(3_200_000);
        a.advanceTo(clock.nanos());
        assertThat(a.acknowledge()).isEqualTo(0xec);
    }

    @Test
    void aLatePeriodicTimerFiresOnceAndKeepsItsPhase() {
        LocalApic a = enabled(apic(0));
        set(a, TIMER_DIVIDE, 0xb);
        set(a, LVT_TIMER, LVT_TIMER_PERIODIC | 0xec);
        set(a, TIMER_INITIAL, 1_000_000);
        clock.set(3_500_000);
        a.advanceTo(clock.nanos());
        assertThat(a.acknowledge()).isEqualTo(0xec);
        assertThat(a.acknowledge()).isEqualTo(-1);
        assertThat(a.nextDeadline()).isEqualTo(4_000_000);
    }

    @Test
    void divideConfigurationScalesTheCount() {
        assertThat(ApicTimer.divisor(0x0)).isEqualTo(2);
        assertThat(ApicTimer.divisor(0x1)).isEqualTo(4);
        assertThat(ApicTimer.divisor(0x2)).isEqualTo(8);
        assertThat(ApicTimer.divisor(0x3)).isEqualTo(16);
        assertThat(ApicTimer.divisor(0x8)).isEqualTo(32);
        assertThat(ApicTimer.divisor(0x9)).isEqualTo(64);
        assertThat(ApicTimer.divisor(0xa)).isEqualTo(128);
        assertThat(ApicTimer.divisor(0xb)).isEqualTo(1);
        LocalApic a = enabled(apic(0));
        set(a, TIMER_INITIAL, 1000);
        assertThat(a.nextDeadline()).as("reset divides by 2").isEqualTo(2000);
    }

    @Test
    void changingTheDivisorKeepsTheCountReached() {
        LocalApic a = enabled(apic(0));
        set(a, TIMER_DIVIDE, 0xb);
        set(a, TIMER_INITIAL, 1000);
        clock.set(300);
        set(a, TIMER_DIVIDE, 0x0);
        assertThat(reg(a, TIMER_CURRENT)).isEqualTo(700);
        assertThat(a.nextDeadline()).isEqualTo(300 + 1400);
    }

    @Test
    void maskedTimerCountsButDoesNotInterrupt() {
        LocalApic a = enabled(apic(0));
        set(a, LVT_TIMER, LVT_MASKED | LVT_TIMER_PERIODIC | 0xec);
        set(a, TIMER_INITIAL, 1_000_000);
        clock.set(1_000_000);
        a.advanceTo(clock.nanos());
        assertThat(a.hasInterrupt()).isFalse();
        assertThat(a.nextDeadline()).isEqualTo(2_000_000);
    }

    @Test
    void zeroInitialCountStopsTheTimer() {
        LocalApic a = enabled(apic(0));
        set(a, TIMER_INITIAL, 1000);
        set(a, TIMER_INITIAL, 0);
        assertThat(a.nextDeadline()).isEqualTo(Timed.NEVER);
        assertThat(reg(a, TIMER_CURRENT)).isZero();
    }

    @Test
    void periodicTimerNeverFiresFasterThanTheMinimumPeriod() {
        LocalApic a = enabled(apic(0));
        set(a, TIMER_DIVIDE, 0xb);
        set(a, LVT_TIMER, LVT_TIMER_PERIODIC | 0xec);
        set(a, TIMER_INITIAL, 1);
        assertThat(a.nextDeadline()).isEqualTo(ApicTimer.MIN_PERIOD_NS);
    }

    @Test
    void timerInterruptWhileSoftwareDisabledIsNotDelivered() {
        LocalApic a = enabled(apic(0));
        set(a, LVT_TIMER, 0xec);
        set(a, TIMER_INITIAL, 10);
        set(a, SVR, 0xff);
        clock.set(100);
        a.advanceTo(100);
        assertThat(a.hasInterrupt()).isFalse();
    }
}
