package vmm.emu;

import vmm.core.hypervisor.Hypervisor;
import vmm.emu.internal.vm.EmuHypervisor;
import vmm.testing.guest.GuestSuite;

/** The shared guest suite ({@code vmm.testing.guest}) on the software CPU, on every host. */
class EmuGuestSuiteTest implements GuestSuite {
    @Override
    public Hypervisor openHypervisor() {
        return new EmuHypervisor();
    }
}
