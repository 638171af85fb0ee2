package vmm.core.hypervisor;

/**
 * How to create a VM.
 *
 * @param vcpus            how many vCPUs the VM will have (1 or more); CPUID tells the guest this count
 * @param inKernelIrqchip  whether the back end emulates the PIC, IOAPIC and LAPICs (and the PIT) itself;
 *                         without it a guest's HLT ends up in the run loop as {@link VcpuExit.Halted}
 */
public record VmConfig(int vcpus, boolean inKernelIrqchip) {
    public VmConfig {
        if (vcpus < 1) throw new IllegalArgumentException("a VM needs at least one vCPU, got " + vcpus);
    }

    /** One vCPU with the in-kernel interrupt controllers. */
    public static VmConfig singleVcpu() {
        return new VmConfig(1, true);
    }
}
