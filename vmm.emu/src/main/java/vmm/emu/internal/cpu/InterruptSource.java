package vmm.emu.internal.cpu;

/**
 * What the CPU asks its interrupt controller (the local APIC, or the PIC in
 * through-local mode): the INTR line and the interrupt acknowledge cycle, and
 * the NMI, INIT and SIPI events. Called on the vCPU's own thread; the
 * controller calls {@link InterruptTarget#wake()} when something arrives.
 */
public interface InterruptSource {
    /** Whether a maskable interrupt is pending (the INTR line). */
    boolean hasInterrupt();

    /** The INTA cycle: the vector of the highest pending interrupt, now in service, or -1 if it went away. */
    int acknowledge();

    /** Takes a pending NMI: true once per NMI. */
    default boolean takeNmi() {
        return false;
    }

    /** Takes a pending INIT: true once per INIT. */
    default boolean takeInit() {
        return false;
    }

    /** Takes a pending start-up IPI: its vector (the page number of the start address), or -1. */
    default int takeSipi() {
        return -1;
    }

    /** After an INIT: whether the CPU now waits for a SIPI (an AP) or restarts at the reset vector (the BSP). */
    default boolean waitingForStartup() {
        return true;
    }

    /** WRMSR IA32_APIC_BASE reaching the local APIC (enable, relocate); false when it refuses the value (#GP). */
    default boolean writeApicBase(long value) {
        return true;
    }

    /** No controller: the INTR line stays low. */
    InterruptSource NONE = new InterruptSource() {
        @Override public boolean hasInterrupt() { return false; }
        @Override public int acknowledge() { return -1; }
    };
}
