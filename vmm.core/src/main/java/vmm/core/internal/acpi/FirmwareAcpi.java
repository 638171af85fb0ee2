package vmm.core.internal.acpi;

import java.util.function.IntSupplier;

import vmm.core.internal.fwcfg.FwCfg;

/**
 * The ACPI tables as firmware reads them through fw_cfg: built when the
 * firmware first selects one of the three files, from the chipset as the
 * firmware left it (SeaBIOS moves the PM block before it loads the tables),
 * then kept, so the three files agree with each other, until the machine
 * resets. What QEMU's {@code acpi_build_update} does. Thread-safe.
 */
public final class FirmwareAcpi {
    private final int vcpus;
    private final IntSupplier pmBase;
    private AcpiTables.FirmwareFiles built;

    /** @param pmBase reads the PM I/O base the chipset decodes now (PIIX4 PMBA) */
    public FirmwareAcpi(int vcpus, IntSupplier pmBase) {
        this.vcpus = vcpus;
        this.pmBase = pmBase;
    }

    /** Adds {@code etc/acpi/tables}, {@code etc/acpi/rsdp} and {@code etc/table-loader} to {@code fwCfg}. */
    public void publish(FwCfg fwCfg) {
        fwCfg.addGeneratedFile(AcpiTables.FILE_TABLES, () -> current().tables());
        fwCfg.addGeneratedFile(AcpiTables.FILE_RSDP, () -> current().rsdp());
        fwCfg.addGeneratedFile(AcpiTables.FILE_LOADER, () -> current().loader());
        reset(); // that build only sized the directory entries; the firmware's first read builds again
    }

    /** The files, built now if they were not since the last {@link #reset()}. */
    public synchronized AcpiTables.FirmwareFiles current() {
        if (built == null) built = AcpiTables.forFirmware(new AcpiTables.Spec(vcpus, pmBase.getAsInt()));
        return built;
    }

    /** Forgets the built files: the next read after a machine reset describes the chipset as the firmware sets it up again. */
    public synchronized void reset() {
        built = null;
    }
}
