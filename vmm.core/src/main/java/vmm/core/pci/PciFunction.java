package vmm.core.pci;

import vmm.core.irq.InterruptLine;
import vmm.core.irq.MsiMessage;

/**
 * The bus's side of one attached function, handed to the device that
 * attached it: its interrupts and what the guest has programmed. Thread-safe.
 */
public interface PciFunction {
    PciAddress address();

    PciFunctionSpec spec();

    /** The INTx line after routing; raising it while the guest set Interrupt Disable only records status. */
    InterruptLine intx();

    /**
     * Signals MSI-X vector {@code vector}: delivered now if MSI-X is enabled
     * and neither the function nor the vector is masked, otherwise its
     * pending bit is set and it is delivered when unmasked. Returns false
     * (and does nothing) when MSI-X is disabled or the vector is out of range.
     */
    boolean signalMsiX(int vector);

    /** Signals MSI vector {@code vector} (0-based within the enabled count); false when MSI is disabled. */
    boolean signalMsi(int vector);

    boolean msixEnabled();

    boolean msiEnabled();

    /** Whether the guest set Bus Master Enable; a device must not DMA when it is clear. */
    boolean busMasterEnabled();

    /**
     * The guest-physical or port address BAR {@code index} decodes at, or -1
     * when it is not decoded (also for the upper register of a 64-bit BAR);
     * IllegalArgumentException for an index outside 0..5.
     */
    long barAddress(int index);

    /**
     * Config-space offset of the {@code i}-th capability of
     * {@link PciFunctionSpec#capabilities()}; IndexOutOfBoundsException when there is none.
     */
    int capabilityOffset(int i);

    /**
     * The message MSI-X vector {@code vector} would be delivered with now, or
     * null when a signal would only set its pending bit (MSI-X disabled, the
     * function or the vector masked) or the vector is out of range. For a
     * device that delivers interrupts past the bus (an irqfd routed to this
     * message); any thread.
     */
    default MsiMessage msixMessage(int vector) {
        return null;
    }

    /**
     * Registers {@code listener} to run after every guest change that can
     * move the function's BARs or alter its MSI-X delivery (a configuration
     * write, an MSI-X table write, a platform reset), on the thread that made
     * it, before that access completes. It runs with the function's
     * configuration-cycle lock held but not its state lock: it may call this
     * function's getters and signals, not the bus's configuration accesses.
     */
    default void addChangeListener(Runnable listener) {
    }

    /** Removes the function from the bus, unregistering its BARs and lowering its INTx. Idempotent. */
    void detach();
}
