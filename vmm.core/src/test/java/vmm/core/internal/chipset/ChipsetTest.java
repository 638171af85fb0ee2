package vmm.core.internal.chipset;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import vmm.core.Inert;
import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.pci.PciBus;
import vmm.core.platform.PowerControl;

/** The chipset registers behave as firmware and kernels program them. */
class ChipsetTest {
    private final List<String> power = new ArrayList<>();
    private final PowerControl recorder = new PowerControl() {
        @Override public void powerOff(String how) { power.add("off"); }
        @Override public void reset(String how) { power.add("reset"); }
    };
    @Test
    void configMechanismOneReachesTheHostBridgeAndAbsentFunctionsReadAllOnes() {
        IoPortBus io = new IoPortBus();
        PciBus bus = new PciBus(io, new MmioBus(), Inert.IRQS);
        Piix.attach(bus, io, new AcpiPm(recorder, () -> 0));
        PciConfigPorts cfg = new PciConfigPorts(bus, new ResetControl(recorder));
        cfg.addressPorts().write(0, 4, 0x8000_0000L);
        assertThat(cfg.dataPorts().read(0, 4)).isEqualTo(0x1237_8086L);
        cfg.addressPorts().write(0, 4, 0x8000_0800L | 0x08); // 00:01.0 class/revision
        assertThat(cfg.dataPorts().read(2, 2)).as("class 06 01: ISA bridge").isEqualTo(0x0601);
        cfg.addressPorts().write(0, 4, 0x8000_1800L);         // 00:03.0, nothing there
        assertThat(cfg.dataPorts().read(0, 4)).isEqualTo(0xffff_ffffL);
        cfg.addressPorts().write(0, 4, 0x0000_0000L);         // enable bit clear: no cycle
        assertThat(cfg.dataPorts().read(0, 4)).isEqualTo(0xffff_ffffL);
    }

    @Test
    void writingRstCpuToCf9Resets() {
        PciConfigPorts cfg = new PciConfigPorts(new PciBus(new IoPortBus(), new MmioBus(), Inert.IRQS), new ResetControl(recorder));
        cfg.addressPorts().write(1, 1, 0x02);
        assertThat(power).isEmpty();
        assertThat(cfg.addressPorts().read(1, 1)).isEqualTo(0x02);
        cfg.addressPorts().write(1, 1, 0x06);
        assertThat(power).containsExactly("reset");
    }

    @Test
    void movingThePmBaseMovesThePmRegisters() {
        IoPortBus io = new IoPortBus();
        PciBus bus = new PciBus(io, new MmioBus(), Inert.IRQS);
        Piix piix = Piix.attach(bus, io, new AcpiPm(recorder, () -> 0));
        assertThat(bus.configRead(Piix.PM, 0x80, 1) & 1).as("PMIOSE off at power-on, as on the chip").isZero();
        assertThat(io.isClaimed(Piix.PM_IO_BASE + 4)).isFalse();
        piix.enablePm(Piix.PM_IO_BASE);
        assertThat(io.isClaimed(Piix.PM_IO_BASE + 4)).isTrue();
        bus.configWrite(Piix.PM, 0x40, 4, 0xb001);
        assertThat(io.isClaimed(Piix.PM_IO_BASE + 4)).isFalse();
        io.write(0xb004, 2, 0x2000);
        assertThat(power).containsExactly("off");
        assertThat(bus.configRead(Piix.PM, 0x58, 4) & (1 << 25)).as("APMC_EN: no SMM set-up").isNotZero();
    }

    @Test
    void onlyS5PowersOffAndThePmTimerCountsAt3579545Hz() {
        long[] now = {0};
        AcpiPm pm = new AcpiPm(recorder, () -> now[0]);
        pm.registers().write(AcpiPm.PM1A_CNT, 2, 0x2000 | 5 << 10); // SLP_TYP 5: not S5 here
        assertThat(power).isEmpty();
        now[0] = 1_000_000_000L;
        assertThat(pm.registers().read(AcpiPm.PM_TMR, 4)).isEqualTo(3_579_545L & 0xffffff);
        pm.registers().write(AcpiPm.PM1A_CNT, 2, 0x2000);
        assertThat(power).containsExactly("off");
    }

    @Test
    void theCmosHoldsTheMemorySizesAndTheHostTimeInBcd() {
        Clock c = Clock.fixed(Instant.parse("2026-11-25T13:45:59Z"), ZoneOffset.UTC);
        Cmos cmos = new Cmos(64L << 20, 1L << 30, 2, c);
        assertThat(read(cmos, Cmos.RTC_HOURS)).isEqualTo(0x13);
        assertThat(read(cmos, Cmos.RTC_SECONDS)).isEqualTo(0x59);
        assertThat(read(cmos, Cmos.RTC_YEAR)).isEqualTo(0x26);
        assertThat(read(cmos, Cmos.CMOS_CENTURY)).isEqualTo(0x20);
        assertThat(read(cmos, Cmos.RTC_REG_A) & 0x80).as("never updating").isZero();
        int above16m = read(cmos, Cmos.CMOS_MEM_ABOVE_16M_LOW) | read(cmos, Cmos.CMOS_MEM_ABOVE_16M_HIGH) << 8;
        assertThat((long) above16m << 16).isEqualTo((64L - 16) << 20);
        int above4g = read(cmos, Cmos.CMOS_MEM_ABOVE_4G) | read(cmos, Cmos.CMOS_MEM_ABOVE_4G + 1) << 8;
        assertThat((long) above4g << 16).isEqualTo(1L << 30);
        assertThat(read(cmos, Cmos.CMOS_CPU_COUNT)).isEqualTo(1);
        write(cmos, Cmos.RTC_REG_B, Cmos.REG_B_24H | Cmos.REG_B_BINARY);
        assertThat(read(cmos, Cmos.RTC_MINUTES)).as("binary mode").isEqualTo(45);
    }

    @Test
    void theKeyboardControllerPassesItsSelfTestAndResetsOnPulse() {
        I8042 kbc = new I8042(recorder);
        kbc.controller().write(1, 1, I8042.CMD_SELF_TEST);
        assertThat(kbc.controller().read(1, 1) & I8042.STATUS_OBF).isNotZero();
        assertThat(kbc.controller().read(0, 1)).isEqualTo(I8042.SELF_TEST_OK);
        assertThat(kbc.controller().read(1, 1) & I8042.STATUS_OBF).isZero();
        kbc.controller().write(1, 1, I8042.CMD_PULSE_RESET);
        assertThat(power).containsExactly("reset");
        kbc.portA().write(0, 1, 0x03);
        assertThat(power).containsExactly("reset", "reset");
    }

    @Test
    void theDebugConsoleCutsLinesAndBoundsThem() {
        List<String> lines = new ArrayList<>();
        DebugPorts d = new DebugPorts(lines::add);
        for (char ch : "hi\nthere".toCharArray()) d.debugcon().write(0, 1, ch);
        assertThat(lines).containsExactly("hi");
        for (int i = 0; i < 3000; i++) d.debugcon().write(0, 1, 'x');
        assertThat(lines).hasSizeGreaterThanOrEqualTo(3).allMatch(l -> l.length() <= DebugPorts.MAX_LINE);
        assertThat(d.debugcon().read(0, 1)).isEqualTo(0xe9);
    }

    private static int read(Cmos c, int reg) {
        c.ports().write(0, 1, reg);
        return (int) c.ports().read(1, 1);
    }

    private static void write(Cmos c, int reg, int v) {
        c.ports().write(0, 1, reg);
        c.ports().write(1, 1, v);
    }
}
