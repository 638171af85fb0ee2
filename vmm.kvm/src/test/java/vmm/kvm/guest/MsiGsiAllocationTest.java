package vmm.kvm.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

import vmm.core.hypervisor.Binding;
import vmm.core.hypervisor.EventFd;
import vmm.core.hypervisor.GsiPool;
import vmm.core.irq.MsiMessage;
import vmm.testing.guest.GuestVm;

/** GSIs for in-kernel MSI routes are handed out once each, and a level irqfd with resampling binds to an IOAPIC input. */
class MsiGsiAllocationTest implements KvmBackEnd {

    @Test
    void allocatedGsisAreDistinctAboveTheIoapicAndComeBackWhenReleased() throws Exception {
        try (GuestVm t = vm(true)) {
            int a = t.vm.allocateMsiGsi(), b = t.vm.allocateMsiGsi();
            assertThat(a).isGreaterThanOrEqualTo(24);
            assertThat(b).isNotEqualTo(a).isGreaterThanOrEqualTo(24);
            t.vm.routeMsi(a, new MsiMessage(0xfee0_0000L, 0x41));
            try (EventFd fd = t.vm.createEventFd()) {
                Binding irqfd = t.vm.bindIrqFd(fd, a);
                irqfd.close();
            }
            t.vm.releaseMsiGsi(a);
            t.vm.releaseMsiGsi(a);
            assertThat(t.vm.allocateMsiGsi()).isEqualTo(a);
        }
    }

    @Test
    void theVirtioTransportsPoolAndPassthroughDrawFromTheSameGsis() throws Exception {
        try (GuestVm t = vm(true)) {
            GsiPool transport = GsiPool.of(t.vm);
            int viaPool = transport.allocate(), direct = t.vm.allocateMsiGsi();
            assertThat(direct).isNotEqualTo(viaPool);
            transport.free(viaPool);
            assertThat(t.vm.allocateMsiGsi()).as("freed through the pool, free in the VM").isEqualTo(viaPool);
            transport.free(viaPool);
            assertThat(t.vm.allocateMsiGsi()).as("a pool frees only what it handed out").isNotEqualTo(viaPool);
        }
    }

    @Test
    void aResamplingIrqfdBindsToAnIoapicInputOnly() throws Exception {
        try (GuestVm t = vm(true); EventFd trigger = t.vm.createEventFd(); EventFd resample = t.vm.createEventFd()) {
            Binding b = t.vm.bindIrqFd(trigger, resample, 18);
            b.close();
            assertThatThrownBy(() -> t.vm.bindIrqFd(trigger, resample, 40))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("IOAPIC input");
        }
    }
}
