package vmm.core.internal.chipset;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.Registration;
import vmm.core.pci.PciAddress;
import vmm.core.pci.PciBus;
import vmm.core.pci.PciFunctionSpec;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * The PCI functions of an i440FX/PIIX chipset, as firmware written for
 * QEMU's "pc" machine (SeaBIOS) identifies and programs them: the host
 * bridge at 00:00.0 with its PAM registers (shadow RAM: the BIOS area is
 * RAM here already, so the registers only store what is written, reset to
 * "read/write"), the PIIX3 PCI-to-ISA bridge at 00:01.0 with its PIRQ route
 * registers, and the PIIX4 power-management function at 00:01.3 whose PM
 * I/O base (config 0x40, enabled by bit 0 of 0x80) places the
 * {@link AcpiPm} registers. As on the chip, the PM block decodes nowhere
 * until firmware places it (SeaBIOS at 0xB000).
 */
public final class Piix {
    public static final PciAddress HOST_BRIDGE = PciAddress.slot(0), ISA_BRIDGE = new PciAddress(0, 1, 0),
            PM = new PciAddress(0, 1, 3);
    public static final int VENDOR_INTEL = 0x8086, DEVICE_I440FX = 0x1237, DEVICE_PIIX3_ISA = 0x7000, DEVICE_PIIX4_PM = 0x7113;
    /** i440FX PAM0..PAM6 at 0x59..0x5f; 0x30 per nibble pair = read/write RAM. */
    static final int I440FX_PAM0 = 0x59, I440FX_PAM_COUNT = 7, PAM_RW = 0x33;
    /** PIIX3 PIRQA..D route control at 0x60..0x63; 0x80 = disabled. */
    static final int PIIX_PIRQC = 0x60, PIRQ_DISABLED = 0x80;
    /** PIIX4 PM: PMBA (I/O base, bit 0 reads 1) at 0x40, PMREGMISC (bit 0: PM I/O enable) at 0x80. */
    static final int PIIX4_PMBA = 0x40, PIIX4_PMREGMISC = 0x80, PMIOSE = 0x01;
    /**
     * PIIX4 PM DEVACTB (0x58) bit 25, APMC_EN: SMIs on writes to the APM port. There is no SMM here; set, it
     * tells firmware SMM set-up is already done (what QEMU does without SMM), so SeaBIOS does not wait for an SMI.
     */
    static final int PIIX4_DEVACTB = 0x58, DEVACTB_APMC_EN = 1 << 25;
    /** Where the VMM places the PM block for a kernel booted without firmware, the base its FADT names (QEMU's too). */
    public static final int PM_IO_BASE = 0x600;

    private final IoPortBus io;
    private final AcpiPm pm;
    private final ConfigRegisters pmRegs;
    private ConfigRegisters pam, pirq;
    private Registration pmMapping;

    private Piix(IoPortBus io, AcpiPm pm) {
        this.io = io;
        this.pm = pm;
        this.pmRegs = new ConfigRegisters(0xa0, this::pmWritten)
                .readOnly(PIIX4_PMBA - 0x40, 4, 0xffff003f)
                .readOnly(PIIX4_DEVACTB - 0x40, 4, DEVACTB_APMC_EN);
        pmPowerOn();
    }

    /** The PM function's power-on values: PMBA 0 (bit 0 reads 1), PM I/O decoding off, APMC_EN set. */
    private void pmPowerOn() {
        pmRegs.clear();
        pmRegs.set(PIIX4_PMBA - 0x40, 4, 1).set(PIIX4_DEVACTB - 0x40, 4, DEVACTB_APMC_EN);
    }

    /** Attaches the three functions to {@code bus} with their power-on register values. */
    public static Piix attach(PciBus bus, IoPortBus io, AcpiPm pm) {
        Piix p = new Piix(io, pm);
        ConfigRegisters pam = new ConfigRegisters(I440FX_PAM_COUNT, at -> { });
        ConfigRegisters pirq = new ConfigRegisters(4, at -> { });
        p.pam = pam;
        p.pirq = pirq;
        bus.attach("i440fx", HOST_BRIDGE, PciFunctionSpec.builder(VENDOR_INTEL, DEVICE_I440FX).classCode(0x06, 0x00, 0x00)
                .revision(0x02).deviceRegisters(I440FX_PAM0, I440FX_PAM_COUNT, pam).build(), null);
        bus.attach("piix3-isa", ISA_BRIDGE, PciFunctionSpec.builder(VENDOR_INTEL, DEVICE_PIIX3_ISA).classCode(0x06, 0x01, 0x00)
                .deviceRegisters(PIIX_PIRQC, 4, pirq).build(), null);
        bus.attach("piix4-pm", PM, PciFunctionSpec.builder(VENDOR_INTEL, DEVICE_PIIX4_PM).classCode(0x06, 0x80, 0x00)
                .revision(0x03).interruptPin(1).deviceRegisters(0x40, 0xa0, p.pmRegs).build(), null);
        p.reset();
        return p;
    }

    /**
     * The chipset registers' power-on values, for a machine reset: PAM
     * read/write, PIRQ routes disabled, the PM block unmapped until firmware
     * (or {@link #enablePm}) places it. Not for a running vCPU's use.
     */
    public void reset() {
        for (int i = 0; i < I440FX_PAM_COUNT; i++) pam.set(i, 1, PAM_RW);
        for (int i = 0; i < 4; i++) pirq.set(i, 1, PIRQ_DISABLED);
        pmPowerOn();
        remapPm();
    }

    /**
     * What firmware does before an OS runs: places the PM block at {@code base}
     * and turns its decoding on. For a kernel booted without firmware, whose
     * FADT names {@link #PM_IO_BASE}.
     */
    public void enablePm(int base) {
        if ((base & ~0xffc0) != 0 || base == 0) throw new IllegalArgumentException("PM base must be a non-zero 64-byte aligned port: " + base);
        pmRegs.set(PIIX4_PMBA - 0x40, 4, base | 1).set(PIIX4_PMREGMISC - 0x40, 1, PMIOSE);
        remapPm();
    }

    /** The PM I/O base PMBA holds now (64-byte aligned), whether or not PMREGMISC enables decoding. */
    public int pmBase() {
        return pmRegs.get(PIIX4_PMBA - 0x40, 4) & 0xffc0;
    }

    private void pmWritten(int at) {
        if (at + 0x40 >= PIIX4_PMBA && at + 0x40 < PIIX4_PMBA + 4 || at + 0x40 == PIIX4_PMREGMISC) remapPm();
    }

    /** Places the PM block where PMBA says, when PMREGMISC enables it; a base that collides is left unmapped. */
    private synchronized void remapPm() {
        int base = pmRegs.get(PIIX4_PMBA - 0x40, 4) & 0xffc0;
        boolean on = (pmRegs.get(PIIX4_PMREGMISC - 0x40, 1) & PMIOSE) != 0 && base != 0;
        if (pmMapping != null && on && pmMapping.base() == base) return;
        if (pmMapping != null) {
            pmMapping.close();
            pmMapping = null;
        }
        if (!on) return;
        try {
            pmMapping = io.register("acpi-pm", base, AcpiPm.BLOCK_SIZE, pm.registers());
        } catch (RuntimeException e) {
            System.getLogger("vmm.platform").log(System.Logger.Level.WARNING,
                    "guest placed the ACPI PM block at 0x{0}, where something else decodes: {1}", Integer.toHexString(base), e.getMessage());
        }
    }

    /** PAM, PIRQ routes and the PM function's registers (where its block decodes), for a snapshot. */
    public DeviceState save() {
        return DeviceState.builder("vmm.platform.piix", 1).put("pam", pam.save()).put("pirq", pirq.save())
                .put("pm", pmRegs.save()).build();
    }

    /** Puts back {@link #save()}'s registers and places the PM block where they say. */
    public void restore(DeviceState s) {
        s.require("vmm.platform.piix", 1);
        byte[] a = s.getBytes("pam"), b = s.getBytes("pirq"), c = s.getBytes("pm");
        if (a.length != I440FX_PAM_COUNT || b.length != 4 || c.length != 0xa0)
            throw new IncompatibleStateException("vmm.platform.piix state: 7 PAM, 4 PIRQ and 160 PM register bytes");
        pam.restore(a, "vmm.platform.piix state");
        pirq.restore(b, "vmm.platform.piix state");
        pmRegs.restore(c, "vmm.platform.piix state");
        remapPm();
    }
}
