package vmm.core.hypervisor;

/**
 * How to create a VM.
 *
 * @param vcpus            how many vCPUs the VM will have (1 or more); CPUID tells the guest this count
 * @param inKernelIrqchip  whether the back end emulates the PIC, IOAPIC and LAPICs (and the PIT) itself;
 *                         without it a guest's HLT ends up in the run loop as {@link VcpuExit.Halted}
 * @param deterministic    a reproducible run: virtual time follows the instruction count and the vCPUs take
 *                         turns in a fixed order, so the same guest and inputs give the same run (QEMU's icount).
 *                         Only a back end that executes the instructions itself can do that; one that cannot
 *                         refuses the VM with a {@link HypervisorException} saying so
 */
public record VmConfig(int vcpus, boolean inKernelIrqchip, boolean deterministic) {
    public VmConfig {
        if (vcpus < 1) throw new IllegalArgumentException("a VM needs at least one vCPU, got " + vcpus);
    }

    /** A VM that runs in real time. */
    public VmConfig(int vcpus, boolean inKernelIrqchip) {
        this(vcpus, inKernelIrqchip, false);
    }

    /** One vCPU with the in-kernel interrupt controllers. */
    public static VmConfig singleVcpu() {
        return new VmConfig(1, true);
    }
}
