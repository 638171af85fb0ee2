package vmm.core.irq;

/**
 * A level-triggered interrupt wire that a device drives (an ISA IRQ or a PCI
 * INTx pin after routing). Thread-safe; raising a raised line or lowering a
 * lowered one does nothing.
 */
public interface InterruptLine {
    /** Drives the line active. */
    void raise();

    /** Releases the line. */
    void lower();

    /** Whether the device currently drives the line. */
    boolean isRaised();

    /** Raises and lowers the line, for edge semantics on an edge-configured input. */
    default void pulse() {
        raise();
        lower();
    }
}
