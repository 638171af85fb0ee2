package vmm.core.internal.acpi;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import vmm.core.internal.chipset.AcpiPm;
import vmm.core.internal.chipset.PciEcam;
import vmm.core.internal.chipset.PciHotplug;
import vmm.core.internal.chipset.Piix;

/**
 * The ACPI tables of this machine (ACPI 6.5 chapter 5), generated for the
 * machine as configured: RSDP, XSDT, FADT (the PIIX4 PM block, the SCI, the
 * reset register 0xCF9), MCFG (the ECAM window), MADT (one LAPIC per vCPU, the IOAPIC, interrupt
 * source overrides for IRQ 0 and the SCI) and a DSDT (the PCI root with
 * {@code _PRT} routing each slot's INTA..D to GSIs 16..19 as
 * {@code IntxRouting.standard()} wires them, a PNP0C02 device reserving
 * the ECAM window, COM1 and COM2, and {@code _S5}).
 * The tables are laid out one after another from a guest-physical base, so
 * the pointers between them are final.
 */
public final class AcpiTables {
    public static final String OEM_ID = "VMMJVA", OEM_TABLE_ID = "VMMPC   ";
    static final int HEADER = 36;
    static final long LAPIC_BASE = 0xfee0_0000L, IOAPIC_BASE = 0xfec0_0000L;
    static final int IOAPIC_ID = 0, PIRQ_A_GSI = 16;
    /** The SCI's ISA IRQ (and GSI, identity-mapped with an override that makes it level, active high). */
    public static final int SCI_IRQ = 9;

    private AcpiTables() {}

    /** File names of the tables handed to firmware through fw_cfg, as QEMU names them. */
    public static final String FILE_TABLES = "etc/acpi/tables", FILE_RSDP = "etc/acpi/rsdp", FILE_LOADER = "etc/table-loader";

    /**
     * What the tables describe.
     *
     * @param vcpus  processors (one LAPIC each in the MADT)
     * @param pmBase the I/O base of the PIIX4 PM block, where the FADT points PM1a and the PM timer
     * @param ecamBase where the PCIe ECAM window starts (MCFG, and a PNP0C02 resource reserving it)
     * @param ecamBuses buses the window decodes from bus 0, 1 MiB each
     */
    public record Spec(int vcpus, int pmBase, long ecamBase, int ecamBuses) {
        public Spec {
            if (vcpus < 1 || vcpus > 255) throw new IllegalArgumentException("vcpus must be 1..255, was " + vcpus);
            if ((pmBase & ~0xffc0) != 0) throw new IllegalArgumentException("PM base must be a 64-byte aligned I/O port: " + pmBase);
            if (ecamBuses < 1 || ecamBuses > 256 || (ecamBase & 0xfffff) != 0 || ecamBase + ((long) ecamBuses << 20) > 1L << 32)
                throw new IllegalArgumentException("ECAM window must be 1..256 buses, 1 MiB aligned, below 4 GiB");
        }

        /** This machine's: the ECAM window of {@link PciEcam}. */
        public Spec(int vcpus, int pmBase) {
            this(vcpus, pmBase, PciEcam.BASE, PciEcam.BUSES);
        }
    }

    /**
     * The three fw_cfg files QEMU gives firmware: {@code etc/acpi/tables} (every
     * table but the RSDP, one after another, pointers between them relative to
     * the file's start and checksums zero), {@code etc/acpi/rsdp}, and
     * {@code etc/table-loader} with the commands that place both, patch the
     * pointers with the address the firmware chose and set the checksums.
     */
    public record FirmwareFiles(byte[] tables, byte[] rsdp, byte[] loader) {}

    /** One table at its offset in the tables blob. */
    private record Placed(String signature, int offset, byte[] bytes) {}

    /** The tables laid out from {@code base}; {@code pointers} are (offset, size) of every field holding a table's address. */
    private record Layout(byte[] blob, List<Placed> tables, List<int[]> pointers, long xsdt) {}

    /** The tables, in layout order, by signature ("RSD PTR " for the RSDP), for the PM block at its preset base. */
    public static Map<String, byte[]> build(long base, int vcpus) {
        Layout l = layout(base + 64, new Spec(vcpus, Piix.PM_IO_BASE)); // the RSDP takes a 64-byte slot at base
        Map<String, byte[]> out = new LinkedHashMap<>();
        out.put("RSD PTR ", rsdp(l.xsdt()));
        for (Placed p : l.tables()) out.put(p.signature(), Arrays.copyOfRange(l.blob(), p.offset(), p.offset() + p.bytes().length));
        return out;
    }

    /**
     * Builds the tables for {@code base} and writes them into {@code memory}
     * there: the RSDP at {@code base}, the tables from {@code base + 64}.
     *
     * @return the RSDP's address ({@code base})
     */
    public static long writeTo(vmm.core.memory.GuestMemory memory, long base, int vcpus) {
        Layout l = layout(base + 64, new Spec(vcpus, Piix.PM_IO_BASE));
        byte[] r = rsdp(l.xsdt());
        memory.write(base, r, 0, r.length);
        memory.write(base + 64, l.blob(), 0, l.blob().length);
        return base;
    }

    /** The tables as fw_cfg files for firmware that runs QEMU's linker/loader (SeaBIOS, OVMF). */
    public static FirmwareFiles forFirmware(Spec spec) {
        Layout l = layout(0, spec);
        byte[] blob = l.blob();
        TableLoader loader = new TableLoader()
                .allocate(FILE_RSDP, 16, TableLoader.ZONE_FSEG)     // found by the OS's scan of 0xE0000-0xFFFFF
                .allocate(FILE_TABLES, 64, TableLoader.ZONE_HIGH);
        for (int[] p : l.pointers()) loader.addPointer(FILE_TABLES, p[0], p[1], FILE_TABLES);
        for (Placed p : l.tables()) {
            blob[p.offset() + 9] = 0; // the loader sums after patching the pointers
            loader.addChecksum(FILE_TABLES, p.offset() + 9, p.offset(), p.bytes().length);
        }
        byte[] r = rsdp(l.xsdt());
        r[8] = 0;
        r[32] = 0;
        loader.addPointer(FILE_RSDP, RSDP_XSDT_ADDRESS, 8, FILE_TABLES)
                .addChecksum(FILE_RSDP, 8, 0, 20)    // the ACPI 1.0 checksum first: the extended one covers it
                .addChecksum(FILE_RSDP, 32, 0, RSDP_LENGTH);
        return new FirmwareFiles(blob, r, loader.toByteArray());
    }

    static final int RSDP_LENGTH = 36, RSDP_XSDT_ADDRESS = 24;
    /** Offsets of the FADT's DSDT pointers (5.2.9). */
    static final int FADT_DSDT = 40, FADT_X_DSDT = 140;

    /** DSDT, FADT, MADT, XSDT one after another, 16-aligned, the first at {@code base}; pointers are final for that base. */
    private static Layout layout(long base, Spec spec) {
        List<Placed> placed = new ArrayList<>();
        List<int[]> pointers = new ArrayList<>();
        byte[] dsdt = table("DSDT", 2, dsdtBody(spec));
        int dsdtAt = 0;
        int fadtAt = (int) align(dsdtAt + dsdt.length, 16);
        byte[] fadt = table("FACP", 6, fadtBody(base + dsdtAt, spec.pmBase()));
        pointers.add(new int[] {fadtAt + FADT_DSDT, 4});
        pointers.add(new int[] {fadtAt + FADT_X_DSDT, 8});
        byte[] madt = table("APIC", 5, madtBody(spec.vcpus()));
        int madtAt = (int) align(fadtAt + fadt.length, 16);
        byte[] mcfg = table("MCFG", 1, mcfgBody(spec));
        int mcfgAt = (int) align(madtAt + madt.length, 16);
        int xsdtAt = (int) align(mcfgAt + mcfg.length, 16);
        long[] entries = {base + fadtAt, base + madtAt, base + mcfgAt};
        ByteBuffer xb = ByteBuffer.allocate(8 * entries.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < entries.length; i++) {
            xb.putLong(entries[i]);
            pointers.add(new int[] {xsdtAt + HEADER + 8 * i, 8});
        }
        byte[] xsdt = table("XSDT", 1, xb.array());
        placed.add(new Placed("DSDT", dsdtAt, dsdt));
        placed.add(new Placed("FACP", fadtAt, fadt));
        placed.add(new Placed("APIC", madtAt, madt));
        placed.add(new Placed("MCFG", mcfgAt, mcfg));
        placed.add(new Placed("XSDT", xsdtAt, xsdt));
        byte[] blob = new byte[xsdtAt + xsdt.length];
        for (Placed p : placed) System.arraycopy(p.bytes(), 0, blob, p.offset(), p.bytes().length);
        return new Layout(blob, List.copyOf(placed), List.copyOf(pointers), base + xsdtAt);
    }

    private static long align(long v, int a) {
        return (v + a - 1) & -a;
    }

    private static byte[] rsdp(long xsdt) {
        ByteBuffer b = ByteBuffer.allocate(36).order(ByteOrder.LITTLE_ENDIAN);
        b.put("RSD PTR ".getBytes(StandardCharsets.US_ASCII)).put((byte) 0).put(OEM_ID.getBytes(StandardCharsets.US_ASCII))
                .put((byte) 2).putInt(0).putInt(36).putLong(xsdt).put((byte) 0).put(new byte[3]);
        byte[] r = b.array();
        r[8] = checksum(r, 0, 20);
        r[32] = checksum(r, 0, 36);
        return r;
    }

    /** The standard header (5.2.6) around {@code body}, with its checksum. */
    static byte[] table(String signature, int revision, byte[] body) {
        ByteBuffer b = ByteBuffer.allocate(HEADER + body.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(signature.getBytes(StandardCharsets.US_ASCII)).putInt(HEADER + body.length).put((byte) revision).put((byte) 0)
                .put(OEM_ID.getBytes(StandardCharsets.US_ASCII)).put(OEM_TABLE_ID.getBytes(StandardCharsets.US_ASCII)).putInt(1)
                .put("VMMJ".getBytes(StandardCharsets.US_ASCII)).putInt(1).put(body);
        byte[] t = b.array();
        t[9] = checksum(t, 0, t.length);
        return t;
    }

    static byte checksum(byte[] b, int from, int to) {
        int sum = 0;
        for (int i = from; i < to; i++) sum += b[i];
        return (byte) -sum;
    }

    /** FADT body for revision 6 (fields from FIRMWARE_CTRL on, 5.2.9). */
    private static byte[] fadtBody(long dsdt, int pm) {
        ByteBuffer b = ByteBuffer.allocate(276 - HEADER).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0);                       // FIRMWARE_CTRL: no FACS (no firmware waking vector here)
        b.putInt((int) dsdt);              // DSDT
        b.put((byte) 0);                   // reserved
        b.put((byte) 0);                   // Preferred_PM_Profile: unspecified
        b.putShort((short) SCI_IRQ);       // SCI_INT
        b.putInt(0);                       // SMI_CMD: none, ACPI is always enabled (no SMM)
        b.put((byte) 0).put((byte) 0).put((byte) 0).put((byte) 0); // ACPI_ENABLE, ACPI_DISABLE, S4BIOS_REQ, PSTATE_CNT
        b.putInt(pm + AcpiPm.PM1A_EVT);    // PM1a_EVT_BLK
        b.putInt(0);                       // PM1b_EVT_BLK
        b.putInt(pm + AcpiPm.PM1A_CNT);    // PM1a_CNT_BLK
        b.putInt(0);                       // PM1b_CNT_BLK
        b.putInt(0);                       // PM2_CNT_BLK
        b.putInt(pm + AcpiPm.PM_TMR);      // PM_TMR_BLK
        b.putInt(AcpiPm.GPE0_BASE).putInt(0); // GPE0_BLK (QEMU's, fixed), GPE1_BLK
        b.put((byte) 4).put((byte) 2).put((byte) 0).put((byte) 4); // PM1_EVT_LEN, PM1_CNT_LEN, PM2_CNT_LEN, PM_TMR_LEN
        b.put((byte) AcpiPm.GPE0_LEN).put((byte) 0).put((byte) 0).put((byte) 0); // GPE0_BLK_LEN, GPE1_BLK_LEN, GPE1_BASE, CST_CNT
        b.putShort((short) 0xfff).putShort((short) 0xfff);         // P_LVL2_LAT, P_LVL3_LAT: C2/C3 not supported
        b.putShort((short) 0).putShort((short) 0);                  // FLUSH_SIZE, FLUSH_STRIDE
        b.put((byte) 0).put((byte) 0);                              // DUTY_OFFSET, DUTY_WIDTH
        b.put((byte) 0).put((byte) 0).put((byte) 0x32);             // DAY_ALRM, MON_ALRM, CENTURY (CMOS 0x32)
        b.putShort((short) 0x0002);                                 // IAPC_BOOT_ARCH: 8042 present
        b.put((byte) 0);                                            // reserved
        // Flags: WBINVD, PROC_C1, SLP_BUTTON (none), RESET_REG_SUP.
        b.putInt(1 | 1 << 2 | 1 << 5 | 1 << 10);
        gas(b, 1, 8, 0, 1, 0xcf9);                                  // RESET_REG: I/O 0xCF9, byte
        b.put((byte) 0x06);                                         // RESET_VALUE: RST_CPU | SYS_RST
        b.putShort((short) 0).put((byte) 0);                        // ARM_BOOT_ARCH, FADT minor version
        b.putLong(0);                                               // X_FIRMWARE_CTRL
        b.putLong(dsdt);                                            // X_DSDT
        gas(b, 1, 32, 0, 2, pm + AcpiPm.PM1A_EVT);                  // X_PM1a_EVT_BLK
        gas(b, 0, 0, 0, 0, 0);                                      // X_PM1b_EVT_BLK
        gas(b, 1, 16, 0, 2, pm + AcpiPm.PM1A_CNT);                  // X_PM1a_CNT_BLK
        gas(b, 0, 0, 0, 0, 0);                                      // X_PM1b_CNT_BLK
        gas(b, 0, 0, 0, 0, 0);                                      // X_PM2_CNT_BLK
        gas(b, 1, 32, 0, 3, pm + AcpiPm.PM_TMR);                    // X_PM_TMR_BLK
        gas(b, 1, 8 * AcpiPm.GPE0_LEN, 0, 1, AcpiPm.GPE0_BASE);    // X_GPE0_BLK: byte access
        gas(b, 0, 0, 0, 0, 0);                                      // X_GPE1_BLK
        gas(b, 0, 0, 0, 0, 0);                                      // SLEEP_CONTROL_REG
        gas(b, 0, 0, 0, 0, 0);                                      // SLEEP_STATUS_REG
        b.putLong(0);                                               // hypervisor vendor identity
        return b.array();
    }

    /** A Generic Address Structure (5.2.3.2). */
    private static void gas(ByteBuffer b, int space, int bitWidth, int bitOffset, int accessSize, long address) {
        b.put((byte) space).put((byte) bitWidth).put((byte) bitOffset).put((byte) accessSize).putLong(address);
    }

    private static byte[] madtBody(int vcpus) {
        ByteBuffer b = ByteBuffer.allocate(8 + 8 * vcpus + 12 + 10 * 2).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt((int) LAPIC_BASE).putInt(1);                                  // local APIC address, PCAT_COMPAT
        for (int i = 0; i < vcpus; i++) b.put((byte) 0).put((byte) 8).put((byte) i).put((byte) i).putInt(1); // enabled
        b.put((byte) 1).put((byte) 12).put((byte) IOAPIC_ID).put((byte) 0).putInt((int) IOAPIC_BASE).putInt(0);
        b.put((byte) 2).put((byte) 10).put((byte) 0).put((byte) 0).putInt(2).putShort((short) 0);        // IRQ0 -> GSI2
        b.put((byte) 2).put((byte) 10).put((byte) 0).put((byte) SCI_IRQ).putInt(SCI_IRQ).putShort((short) 0x000d); // SCI: level, active high
        return b.array();
    }

    /** MCFG body (PCI Firmware 3.2, 4.1.2): 8 reserved bytes, then one allocation for segment 0. */
    private static byte[] mcfgBody(Spec spec) {
        return ByteBuffer.allocate(8 + 16).order(ByteOrder.LITTLE_ENDIAN).putLong(0)
                .putLong(spec.ecamBase()).putShort((short) 0).put((byte) 0).put((byte) (spec.ecamBuses() - 1)).putInt(0).array();
    }

    private static byte[] dsdtBody(Spec spec) {
        List<byte[]> prt = new ArrayList<>();
        for (int slot = 1; slot < 32; slot++)
            for (int pin = 0; pin < 4; pin++)
                prt.add(Aml.pkg(Aml.integer((long) slot << 16 | 0xffff), Aml.integer(pin), Aml.integer(0),
                        Aml.integer(PIRQ_A_GSI + ((slot + pin) & 3))));
        byte[] pci0 = Aml.device("PCI0",
                Aml.nameOf("_HID", Aml.eisaId("PNP0A03")),
                Aml.nameOf("_ADR", Aml.integer(0)),
                Aml.nameOf("_UID", Aml.integer(0)),
                Aml.nameOf("_PRT", Aml.pkg(prt.toArray(byte[][]::new))),
                // The windows the host bridge decodes, so that an OS placing BARs itself (a kernel booted without
                // firmware) has room for them: all buses, the I/O ports but the configuration ports, and the
                // 32-bit hole above the ECAM window up to the IOAPIC (SeaBIOS places its BARs there too).
                Aml.nameOf("_CRS", Aml.resourceTemplate(
                        Aml.wordWindow(Aml.BUS_NUMBER_RANGE, 0, 0xff),
                        Aml.wordWindow(Aml.IO_RANGE, 0, 0x0cf7),
                        Aml.wordWindow(Aml.IO_RANGE, 0x0d00, 0xffff),
                        Aml.dwordMemoryWindow(spec.ecamBase() + ((long) spec.ecamBuses() << 20), IOAPIC_BASE - 1))),
                // The ECAM window as a motherboard resource: Linux uses MCFG only for a range reserved so.
                Aml.device("PRES",
                        Aml.nameOf("_HID", Aml.eisaId("PNP0C02")),
                        Aml.nameOf("_UID", Aml.integer(1)),
                        Aml.nameOf("_CRS", Aml.resourceTemplate(Aml.memory32Fixed(spec.ecamBase(), (long) spec.ecamBuses() << 20)))),
                Aml.concat(hotplugSlots()));
        byte[] com1 = Aml.device("COM1",
                Aml.nameOf("_HID", Aml.eisaId("PNP0501")),
                Aml.nameOf("_UID", Aml.integer(1)),
                Aml.nameOf("_CRS", Aml.resourceTemplate(Aml.io(0x3f8, 8), Aml.irq(4))));
        byte[] com2 = Aml.device("COM2",
                Aml.nameOf("_HID", Aml.eisaId("PNP0501")),
                Aml.nameOf("_UID", Aml.integer(2)),
                Aml.nameOf("_CRS", Aml.resourceTemplate(Aml.io(0x2f8, 8), Aml.irq(3))));
        byte[] sb = Aml.scope("\\_SB", pci0, com1, com2);
        byte[] s5 = Aml.nameOf("\\_S5", Aml.pkg(Aml.integer(AcpiPm.SLP_TYP_S5), Aml.integer(0), Aml.integer(0), Aml.integer(0)));
        return Aml.concat(sb, s5, hotplugEvent());
    }

    /** The DSDT's names of the {@link PciHotplug} registers, in their region {@code \_SB.PCI0.PCST}. */
    static final String HOTPLUG_REGION = "PCST", PCI_UP = "PCIU", PCI_DOWN = "PCID", B0EJ = "B0EJ", PCI_RMV = "PCRM";

    /** The name of the slot's device object under PCI0: S and the slot in two hex digits ({@code S02}..{@code S1F}). */
    static String slotName(int slot) {
        return String.format("S%02X", slot);
    }

    /**
     * The hotplug register block as an operation region, and a device per hotpluggable slot (2..31, present or
     * not, as QEMU makes them): its address, its slot number, and {@code _EJ0}, which writes the slot's bit to
     * the eject register. The OS (Linux's acpiphp) calls {@code _EJ0} after it released the device.
     */
    private static byte[][] hotplugSlots() {
        List<byte[]> terms = new ArrayList<>();
        terms.add(Aml.ioRegion(HOTPLUG_REGION, PciHotplug.IO_BASE, PciHotplug.BLOCK_SIZE));
        terms.add(Aml.dwordFields(HOTPLUG_REGION, PCI_UP, PCI_DOWN, B0EJ, PCI_RMV));
        for (int slot = PciHotplug.FIRST_SLOT; slot < PciHotplug.SLOTS; slot++)
            terms.add(Aml.device(slotName(slot),
                    Aml.nameOf("_ADR", Aml.integer((long) slot << 16)),
                    Aml.nameOf("_SUN", Aml.integer(slot)),
                    Aml.method("_EJ0", 1, Aml.store(Aml.integer(1L << slot), Aml.ref(B0EJ)))));
        return terms.toArray(byte[][]::new);
    }

    /** ACPI notification values (5.6.6): Device Check for an insertion, Eject Request for a removal. */
    static final int NOTIFY_DEVICE_CHECK = 1, NOTIFY_EJECT_REQUEST = 3;

    /**
     * {@code \_GPE._E01} (the GPE {@link PciHotplug#GPE_BIT} handler): reads PCI_UP and PCI_DOWN once each and
     * notifies each slot whose bit is set, Device Check for an insertion and Eject Request for a removal, as
     * QEMU's PCNT does.
     */
    private static byte[] hotplugEvent() {
        List<byte[]> body = new ArrayList<>();
        body.add(Aml.store(Aml.ref("\\_SB.PCI0." + PCI_UP), Aml.local(0)));
        body.add(Aml.store(Aml.ref("\\_SB.PCI0." + PCI_DOWN), Aml.local(1)));
        for (int slot = PciHotplug.FIRST_SLOT; slot < PciHotplug.SLOTS; slot++) {
            String dev = "\\_SB.PCI0." + slotName(slot);
            body.add(Aml.ifThen(Aml.and(Aml.local(0), Aml.integer(1L << slot)), Aml.notify(dev, NOTIFY_DEVICE_CHECK)));
            body.add(Aml.ifThen(Aml.and(Aml.local(1), Aml.integer(1L << slot)), Aml.notify(dev, NOTIFY_EJECT_REQUEST)));
        }
        String method = String.format("_E%02X", PciHotplug.GPE_BIT);
        return Aml.scope("\\_GPE", Aml.method(method, 0, body.toArray(byte[][]::new)));
    }
}
