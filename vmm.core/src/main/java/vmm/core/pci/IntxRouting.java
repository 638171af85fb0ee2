package vmm.core.pci;

/**
 * Where a function's INTx pin arrives at the interrupt controller: the
 * platform's wiring of slot pins onto GSIs. {@link PciBus} asks once per
 * function, at attach; an implementation must be a pure function of its
 * arguments (the answer must not change while the function is attached).
 */
@FunctionalInterface
public interface IntxRouting {
    /**
     * The GSI that interrupt pin {@code pin} (1..4 for INTA#..INTD#) of the
     * function at {@code address} drives. Never called with pin 0.
     */
    int gsi(PciAddress address, int pin);

    /**
     * The usual slot swizzle onto PIRQ A..D at GSIs 16..19: INTA# of slot
     * {@code d} goes to PIRQ {@code d mod 4}, INTB# to the next, and so on,
     * so that the single-function devices of neighbouring slots do not share
     * a line. Equals {@code 16 + ((device + pin - 1) & 3)}; throws
     * IllegalArgumentException for a pin outside 1..4.
     */
    static IntxRouting standard() {
        return (address, pin) -> {
            if (pin < 1 || pin > 4) throw new IllegalArgumentException("interrupt pin must be 1..4, was " + pin);
            return PciRegs.PIRQ_A_GSI + ((address.device() + pin - 1) & 3);
        };
    }
}
