package vmm.emu.internal.irq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.bus.Registration;
import vmm.core.irq.MsiMessage;

class EmuIrqChipTest {
    private final ManualClock clock = new ManualClock();
    private final EmuIrqChip chip = new EmuIrqChip(2, clock);
    private final IoPortBus io = new IoPortBus();
    private final MmioBus mmio = new MmioBus();
    private final AtomicInteger wakeups0 = new AtomicInteger(), wakeups1 = new AtomicInteger();
    private VcpuInterrupts cpu0, cpu1;
    private List<Registration> registrations;

    @BeforeEach
    void wire() {
        cpu0 = chip.attachVcpu(0, wakeups0::incrementAndGet);
        cpu1 = chip.attachVcpu(1, wakeups1::incrementAndGet);
        registrations = chip.register(io, mmio);
    }

    @AfterEach
    void unwire() {
        registrations.forEach(Registration::close);
        chip.close();
    }

    private static void apic(VcpuInterrupts cpu, int reg, int value) {
        cpu.mmio().write(reg, 4, value & 0xffff_ffffL);
    }

    private static int apic(VcpuInterrupts cpu, int reg) {
        return (int) cpu.mmio().read(reg, 4);
    }

    /** Software-enables both local APICs (SVR bit 8; spurious vector 0xff). */
    private void enableBoth() {
        apic(cpu0, LocalApic.SVR, 0x1ff);
        apic(cpu1, LocalApic.SVR, 0x1ff);
    }

    /** Flat logical destinations: CPU 0 is logical ID bit 0, CPU 1 bit 1. */
    private void logicalIds() {
        apic(cpu0, LocalApic.LDR, 0x0100_0000);
        apic(cpu1, LocalApic.LDR, 0x0200_0000);
    }

    private void ioapicEntry(int pin, long entry) {
        mmio.write(IoApic.BASE, 4, 0x10 + 2 * pin + 1);
        mmio.write(IoApic.BASE + 0x10, 4, entry >>> 32);
        mmio.write(IoApic.BASE, 4, 0x10 + 2 * pin);
        mmio.write(IoApic.BASE + 0x10, 4, entry & 0xffff_ffffL);
    }

    private void initPic() {
        for (int[] w : new int[][] {{0x20, 0x11}, {0x21, 0x08}, {0x21, 0x04}, {0x21, 0x01},
                {0xa0, 0x11}, {0xa1, 0x70}, {0xa1, 0x02}, {0xa1, 0x01}})
            io.write(w[0], 1, w[1]);
    }

    /** What an OS using the IOAPIC does with the 8259A: masks every input, so LINT0 stays quiet. */
    private void maskPic() {
        io.write(0x21, 1, 0xff);
        io.write(0xa1, 1, 0xff);
    }

    /** What SeaBIOS and Linux do to take the 8259A through LINT0: software-enable the APIC, LINT0 ExtINT, LINT1 NMI. */
    private void virtualWire() {
        apic(cpu0, LocalApic.SVR, 0x1ff);
        apic(cpu0, LocalApic.LVT_LINT0, 0x700);
        apic(cpu0, LocalApic.LVT_LINT1, 0x400);
    }

    @Test
    void claimsThePortsAndTheIoapicPageKvmsIrqchipClaims() {
        for (int port : new int[] {0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x40, 0x41, 0x42, 0x43, 0x61})
            assertThat(io.isClaimed(port)).as("port 0x%x", port).isTrue();
        assertThat(io.isClaimed(0x22)).isFalse();
        assertThat(mmio.isClaimed(IoApic.BASE)).isTrue();
        assertThat(mmio.isClaimed(IoApic.BASE + IoApic.SIZE - 1)).isTrue();
        assertThat(mmio.isClaimed(LocalApic.DEFAULT_BASE)).as("the APIC page is per vCPU").isFalse();
    }

    @Test
    void isaIrqReachesTheBspThroughThePicAndTheLint0VirtualWire() {
        initPic();
        virtualWire();
        chip.setLevel(1, true);
        assertThat(cpu0.hasInterrupt()).isTrue();
        assertThat(wakeups0.get()).isPositive();
        assertThat(cpu1.hasInterrupt()).as("only the BSP has the PIC on LINT0").isFalse();
        assertThat(cpu0.acknowledge()).isEqualTo(0x09);
        assertThat(cpu0.hasInterrupt()).isFalse();
        io.write(0x20, 1, 0x20);
    }

    @Test
    void theBspTakesThePicFromPowerOnBeforeFirmwareTouchesTheApic() {
        initPic();
        chip.setLevel(1, true);
        assertThat(cpu0.acknowledge()).isEqualTo(0x09);
    }

    @Test
    void picIsNotTakenWhileLint0IsMasked() {
        initPic();
        apic(cpu0, LocalApic.SVR, 0x1ff);
        apic(cpu0, LocalApic.LVT_LINT0, 0x1_0700);
        chip.setLevel(1, true);
        assertThat(cpu0.hasInterrupt()).isFalse();
        apic(cpu0, LocalApic.LVT_LINT0, 0x0700);
        assertThat(cpu0.hasInterrupt()).isTrue();
    }

    @Test
    void picReachesTheCpuDirectlyWhenTheApicIsDisabledInTheBaseMsr() {
        initPic();
        assertThat(cpu0.writeApicBase(0xfee0_0100L, 40)).isTrue();
        chip.setLevel(4, true);
        assertThat(cpu0.hasInterrupt()).isTrue();
        assertThat(cpu0.acknowledge()).isEqualTo(0x0c);
        assertThat(cpu0.decodesApicPage(LocalApic.DEFAULT_BASE)).isFalse();
    }

    @Test
    void irq0GoesToIoapicInput2AsTheMadtOverrideSays() {
        maskPic();
        apic(cpu0, LocalApic.SVR, 0x1ff);
        ioapicEntry(2, 0x30);
        ioapicEntry(0, 0x31);
        chip.setLevel(0, true);
        assertThat(cpu0.acknowledge()).isEqualTo(0x30);
        assertThat(cpu0.hasInterrupt()).isFalse();
    }

    @Test
    void gsi2DrivesNothingBecauseIrq2IsTheCascade() {
        maskPic();
        apic(cpu0, LocalApic.SVR, 0x1ff);
        ioapicEntry(2, 0x30);
        chip.setLevel(2, true);
        assertThat(cpu0.hasInterrupt()).isFalse();
    }

    @Test
    void pitCounter0InterruptsThroughTheIoapic() {
        maskPic();
        apic(cpu0, LocalApic.SVR, 0x1ff);
        ioapicEntry(2, 0x30);
        io.write(0x43, 1, 0x34);
        io.write(0x40, 1, 0xe8);
        io.write(0x40, 1, 0x03); // 1000 ticks
        assertThat(chip.timers().nextDeadline()).isEqualTo(Pit8254.nanosAt(1000));
        clock.set(Pit8254.nanosAt(1000));
        chip.timers().runDue();
        assertThat(cpu0.acknowledge()).isEqualTo(0x30);
        apic(cpu0, LocalApic.EOI, 0);
        clock.set(Pit8254.nanosAt(2000));
        chip.timers().runDue();
        assertThat(cpu0.acknowledge()).isEqualTo(0x30);
    }

    @Test
    void pitCounter0InterruptsThroughThePicInVirtualWireMode() {
        initPic();
        virtualWire();
        io.write(0x43, 1, 0x34);
        io.write(0x40, 1, 0x00);
        io.write(0x40, 1, 0x00);
        clock.set(Pit8254.nanosAt(65536));
        chip.timers().runDue();
        assertThat(cpu0.acknowledge()).isEqualTo(0x08);
    }

    @Test
    void pciLevelInterruptIsDeliveredAgainAfterTheEoiWhileStillAsserted() {
        apic(cpu1, LocalApic.SVR, 0x1ff);
        ioapicEntry(16, 0x0100_0000_0000_0000L | IoApic.RTE_LEVEL | IoApic.RTE_POLARITY_LOW | 0x41);
        chip.setLevel(16, true);
        assertThat(cpu1.acknowledge()).isEqualTo(0x41);
        apic(cpu1, LocalApic.EOI, 0);
        assertThat(cpu1.hasInterrupt()).as("the line is still up").isTrue();
        assertThat(cpu1.acknowledge()).isEqualTo(0x41);
        chip.setLevel(16, false);
        apic(cpu1, LocalApic.EOI, 0);
        assertThat(cpu1.hasInterrupt()).isFalse();
    }

    @Test
    void msiIsDecodedToItsDestinationAndVector() {
        enableBoth();
        chip.signalMsi(new MsiMessage(0xfee0_1000L, 0x0041));
        assertThat(cpu1.acknowledge()).isEqualTo(0x41);
        assertThat(cpu0.hasInterrupt()).isFalse();
        assertThat(wakeups1.get()).isPositive();
    }

    @Test
    void msiWithLogicalDestinationUsesTheLdr() {
        enableBoth();
        logicalIds();
        chip.signalMsi(new MsiMessage(0xfee0_2004L, 0x0052));
        assertThat(cpu1.hasInterrupt()).isTrue();
        assertThat(cpu0.hasInterrupt()).isFalse();
    }

    @Test
    void lowestPriorityMsiGoesToOneApicTheLeastBusy() {
        enableBoth();
        logicalIds();
        apic(cpu0, LocalApic.TPR, 0x80);
        chip.signalMsi(new MsiMessage(0xfee0_3004L, 0x0153));
        assertThat(cpu1.hasInterrupt()).isTrue();
        assertThat(apic(cpu0, LocalApic.IRR + 0x20)).isZero();
    }

    @Test
    void msiRedirectionHintArbitratesAmongTheDestinations() {
        enableBoth();
        logicalIds();
        apic(cpu1, LocalApic.TPR, 0x80);
        chip.signalMsi(new MsiMessage(0xfee0_300cL, 0x0053));
        assertThat(cpu0.hasInterrupt()).isTrue();
        assertThat(cpu1.hasInterrupt()).isFalse();
    }

    @Test
    void msiNmiAndAddressesOutsideTheApicWindow() {
        chip.signalMsi(new MsiMessage(0xfee0_0000L, 0x0400));
        assertThat(cpu0.takeNmi()).isTrue();
        chip.signalMsi(new MsiMessage(0xfed0_0000L, 0x0400));
        chip.signalMsi(new MsiMessage(0x1_fee0_0000L, 0x0400));
        assertThat(cpu0.takeNmi()).as("not an APIC address: dropped").isFalse();
    }

    @Test
    void msiRouteOnAGsiDeliversWhenTheGsiIsRaised() {
        apic(cpu1, LocalApic.SVR, 0x1ff);
        chip.routeMsi(30, new MsiMessage(0xfee0_1000L, 0x0061));
        chip.setLevel(30, true);
        assertThat(cpu1.acknowledge()).isEqualTo(0x61);
        chip.setLevel(30, false);
        chip.unrouteMsi(30);
        chip.setLevel(30, true);
        assertThat(cpu1.hasInterrupt()).isFalse();
    }

    @Test
    void msiRoutesAreRefusedOnIoapicInputsAndPastTheLimit() {
        MsiMessage m = new MsiMessage(0xfee0_0000L, 0x41);
        assertThatThrownBy(() -> chip.routeMsi(23, m)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> chip.routeMsi(EmuIrqChip.GSI_LIMIT, m)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void platformNmiReachesEveryCpuWhoseLint1IsProgrammedForIt() {
        apic(cpu0, LocalApic.SVR, 0x1ff);
        apic(cpu0, LocalApic.LVT_LINT1, 0x400);
        chip.nmi();
        assertThat(cpu0.takeNmi()).isTrue();
        assertThat(cpu1.takeNmi()).as("LINT1 masked").isFalse();
    }

    @Test
    void unknownGsisAreIgnored() {
        chip.setLevel(-1, true);
        chip.setLevel(100, true);
        assertThat(cpu0.hasInterrupt()).isFalse();
    }

    @Test
    void fixedIpiFromOneVcpuReachesTheOther() {
        apic(cpu1, LocalApic.SVR, 0x1ff);
        apic(cpu0, LocalApic.ICR_HIGH, 0x0100_0000);
        apic(cpu0, LocalApic.ICR_LOW, 0x0000_40f0);
        assertThat(cpu1.acknowledge()).isEqualTo(0xf0);
    }

    @Test
    void initSipiSequenceStartsAnAp() {
        assertThat(cpu1.waitingForStartup()).isTrue();
        apic(cpu0, LocalApic.ICR_HIGH, 0x0100_0000);
        apic(cpu0, LocalApic.ICR_LOW, 0x0000_c500); // INIT, level assert
        apic(cpu0, LocalApic.ICR_LOW, 0x0000_8500); // INIT de-assert
        assertThat(cpu1.hasEvent()).isTrue();
        assertThat(cpu1.takeInit()).isTrue();
        apic(cpu0, LocalApic.ICR_LOW, 0x0000_4609); // SIPI, vector 9: start at 0x9000
        assertThat(wakeups1.get()).isPositive();
        assertThat(cpu1.takeStartup()).isEqualTo(0x09);
        assertThat(cpu1.waitingForStartup()).isFalse();
    }

    @Test
    void shorthandsAddressSelfAllAndOthers() {
        enableBoth();
        apic(cpu0, LocalApic.ICR_LOW, 0x0004_0050); // self
        assertThat(cpu0.acknowledge()).isEqualTo(0x50);
        assertThat(cpu1.hasInterrupt()).isFalse();
        apic(cpu0, LocalApic.ICR_LOW, 0x000c_0060); // all excluding self
        assertThat(cpu1.acknowledge()).isEqualTo(0x60);
        assertThat(cpu0.hasInterrupt()).isFalse();
        apic(cpu0, LocalApic.ICR_LOW, 0x0008_0070); // all including self
        assertThat(cpu0.acknowledge()).isEqualTo(0x70);
        assertThat(cpu1.acknowledge()).isEqualTo(0x70);
    }

    @Test
    void apicTimersRunFromTheChipsScheduler() {
        apic(cpu1, LocalApic.SVR, 0x1ff);
        apic(cpu1, LocalApic.TIMER_DIVIDE, 0xb);
        apic(cpu1, LocalApic.LVT_TIMER, 0xef);
        apic(cpu1, LocalApic.TIMER_INITIAL, 5000);
        assertThat(chip.timers().nextDeadline()).isEqualTo(5000);
        clock.set(5000);
        chip.timers().runDue();
        assertThat(cpu1.acknowledge()).isEqualTo(0xef);
    }

    @Test
    void theApicPageFollowsTheBaseMsr() {
        assertThat(cpu0.decodesApicPage(0xfee0_0030L)).isTrue();
        assertThat(cpu0.writeApicBase(0xfed0_0900L, 40)).isTrue();
        assertThat(cpu0.decodesApicPage(0xfee0_0030L)).isFalse();
        assertThat(cpu0.decodesApicPage(0xfed0_0ff0L)).isTrue();
        assertThat(cpu0.writeApicBase(0xfee0_0d00L, 40)).as("x2APIC is not offered").isFalse();
    }

    @Test
    void resetPutsThePicsIoapicAndPitBackButLeavesTheApics() {
        initPic();
        apic(cpu0, LocalApic.SVR, 0x1ff);
        ioapicEntry(4, 0x44);
        io.write(0x43, 1, 0x34);
        io.write(0x40, 1, 0);
        io.write(0x40, 1, 0);
        chip.reset();
        assertThat(chip.timers().nextDeadline()).isEqualTo(Timed.NEVER);
        mmio.write(IoApic.BASE, 4, 0x18);
        assertThat(mmio.read(IoApic.BASE + 0x10, 4)).isEqualTo(0x1_0000);
        assertThat(io.read(0x21, 1)).isZero();
        assertThat(apic(cpu0, LocalApic.SVR)).isEqualTo(0x1ff);
    }

    @Test
    void aVcpuIsAttachedOnce() {
        assertThatThrownBy(() -> chip.attachVcpu(1, () -> { })).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> chip.attachVcpu(2, () -> { })).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void wordAccessToThePicPortsIsSplitIntoBytes() {
        initPic();
        io.write(0x20, 2, 0xff_0b); // OCW3 "read ISR" to 0x20, mask 0xff to 0x21
        assertThat(io.read(0x21, 1)).isEqualTo(0xff);
        assertThat(io.read(0x20, 2)).isEqualTo(0xff_00);
    }
}
