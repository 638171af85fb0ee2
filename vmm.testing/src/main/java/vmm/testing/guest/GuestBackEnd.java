package vmm.testing.guest;

import java.util.function.Supplier;

import vmm.core.hypervisor.Hypervisor;
import vmm.core.hypervisor.VmConfig;
import vmm.core.memory.GuestMemory;

/**
 * The back end a guest test runs on: a test class implements this (and the guest interfaces it
 * wants, or all of them through {@link GuestSuite}) and says how to open its {@link Hypervisor}.
 */
public interface GuestBackEnd {
    /**
     * A new hypervisor for one test's VM, which the VM closes (when it is {@link AutoCloseable}).
     * Called on the test thread; where the host lacks the back end, skips the test with a JUnit
     * assumption saying why instead of failing.
     */
    Hypervisor openHypervisor();

    /** A VM with one vCPU and {@link GuestVm#RAM_SIZE} of RAM, with or without the back end's irqchip. */
    default GuestVm vm(boolean irqchip) {
        return GuestVm.create(openHypervisor(), new VmConfig(1, irqchip));
    }

    /** A VM with {@code config}'s vCPUs and {@link GuestVm#RAM_SIZE} of RAM. */
    default GuestVm vm(VmConfig config) {
        return GuestVm.create(openHypervisor(), config);
    }

    /** A VM over memory the test lays out (ROM regions, holes). */
    default GuestVm vm(VmConfig config, Supplier<GuestMemory> memory) {
        return GuestVm.create(openHypervisor(), config, memory);
    }
}
