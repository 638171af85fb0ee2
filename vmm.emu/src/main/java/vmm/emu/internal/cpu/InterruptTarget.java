package vmm.emu.internal.cpu;

/**
 * A vCPU as an interrupt controller sees it: after making an interrupt, NMI,
 * INIT or SIPI pending in its {@link InterruptSource}, the controller calls
 * {@link #wake()} so a vCPU halted or running guest code looks at it soon.
 * Thread-safe; called from any thread.
 */
public interface InterruptTarget {
    /** Makes the vCPU look at its interrupt source at its next instruction boundary, waking it from HLT. */
    void wake();
}
