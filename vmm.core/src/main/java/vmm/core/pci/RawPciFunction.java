package vmm.core.pci;

/**
 * The bus's side of a function attached with {@link PciBus#attachConfigSpace}:
 * where it is and how its INTx pin is routed. Thread-safe.
 */
public interface RawPciFunction {
    /** Where the function sits. */
    PciAddress address();

    /** The GSI interrupt pin {@code pin} (1..4 for INTA#..INTD#) arrives at; IllegalArgumentException for others. */
    int intxGsi(int pin);

    /**
     * Whether another function of the same slot is attached, so function 0 must report a
     * multi-function device in its header type.
     */
    boolean hasOtherFunctions();

    /** Removes the function from the bus; further config accesses read all ones. Idempotent. */
    void detach();
}
