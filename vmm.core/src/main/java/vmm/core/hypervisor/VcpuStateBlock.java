package vmm.core.hypervisor;

/** Blocks of vCPU state that {@link Vcpu#state} saves and {@link Vcpu#setState} restores. */
public enum VcpuStateBlock {
    /** x87 and SSE registers (FXSAVE-like). */
    FPU,
    /** The local APIC's 1 KiB register page; needs the in-kernel irqchip. */
    LAPIC,
    /** Pending exceptions, interrupts, NMIs and SIPI, interrupt shadow. */
    EVENTS,
    /** Multiprocessing state: runnable, halted, waiting for INIT or SIPI. */
    MP_STATE
}
