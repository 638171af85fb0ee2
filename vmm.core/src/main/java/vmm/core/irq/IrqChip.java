package vmm.core.irq;

/**
 * The interrupt controller as the core sees it: a hypervisor back end (the
 * in-kernel IOAPIC and LAPICs) or the test kit's recorder. Devices never get
 * this; they get {@link InterruptLine}s and MSI-X vectors from their bus.
 * Thread-safe; called from vCPU and device threads.
 */
public interface IrqChip {
    /** Sets the level of global system interrupt {@code gsi} (IOAPIC input). Unknown GSIs are ignored. */
    void setLevel(int gsi, boolean level);

    /** Delivers one MSI. A message the platform cannot route is dropped. */
    void signalMsi(MsiMessage message);

    /** A line on {@code gsi} whose level this chip tracks. */
    default InterruptLine line(int gsi) {
        return new GsiLine(this, gsi);
    }
}
