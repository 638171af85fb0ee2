package vmm.core.hypervisor;

import vmm.core.memory.GuestMemory;

/**
 * A CPU virtualization back end, published as a service by the bundle that
 * owns the host's hypervisor (for example KVM on an AMD-V or VT-x host).
 * Thread-safe.
 */
public interface Hypervisor {
    /**
     * What the back end and the host CPU offer, for logs and for choosing a
     * machine configuration. Cheap to call; the answer does not change.
     */
    Capabilities capabilities();

    /**
     * Creates a VM whose guest-physical memory is {@code memory}: every RAM
     * region is mapped writable and every ROM region read-only. The VM does not
     * own {@code memory}; the caller closes it after the VM.
     *
     * @throws HypervisorException if the host refuses (a region it cannot map,
     *                             too many VMs, out of memory)
     */
    VirtualMachine createVm(GuestMemory memory, VmConfig config);
}
