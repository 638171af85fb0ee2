package vmm.core.pci;

/**
 * Answers guest accesses to a function's BARs. Called on vCPU threads while
 * the BAR is decoded (its command-register enable bit set and an address
 * assigned); never for accesses that touch the MSI-X table or PBA, which
 * the bus emulates (other registers may share their pages). No lock of the
 * bus is held during the call, so a handler may signal interrupts from it.
 * {@code offset + size} never passes the BAR's size.
 */
public interface BarHandler {
    /** Returns the value of {@code size} bytes at {@code offset} in BAR {@code bar}. */
    long readBar(int bar, long offset, int size);

    /** Takes a write of the low {@code size} bytes of {@code value}. */
    void writeBar(int bar, long offset, int size, long value);
}
