package vmm.core.pci;

/**
 * Answers the whole configuration space of one function itself, header
 * included: for a function whose registers are another system's (a host
 * device passed through), where the bus's own emulation from a
 * {@link PciFunctionSpec} cannot stand in. The owner then also decodes its
 * BARs on the buses and drives its interrupts. Attached with
 * {@link PciBus#attachConfigSpace}.
 *
 * <p>Called on vCPU threads, possibly several at once; no bus lock is held.
 * The guest is the caller: every offset and value must be treated as hostile.
 */
public interface ConfigSpaceHandler {
    /**
     * Returns {@code size} (1, 2 or 4) bytes at {@code offset}, aligned to the size and
     * below 4096 (the bus has checked both). Must not throw for any guest value.
     */
    int configRead(int offset, int size);

    /**
     * Takes a guest write of the low {@code size} bytes of {@code value} at {@code offset}
     * (checked as for reads); refuses silently what the guest may not change. Must not throw
     * for any guest value.
     */
    void configWrite(int offset, int size, int value);

    /**
     * Platform reset ({@link PciBus#resetAll()}): return to the state after attach
     * (no decode, interrupts off) and reset the device behind it. Called with the vCPUs stopped.
     */
    void reset();
}
