package vmm.emu.internal.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;
import vmm.core.hypervisor.Registers;
import vmm.core.hypervisor.Vcpu;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.hypervisor.VmConfig;
import vmm.core.memory.GuestMemory;
import vmm.emu.StateEdit;

/**
 * Saving and restoring a software-CPU VM through the SPI: a VM made later goes on from the saved VM's time (the
 * guest's clock does not jump back to 0), its vCPUs and interrupt controllers take the saved states, and what
 * cannot be restored is refused in one line.
 */
class EmuVmStateTest {
    private static final long SECOND = 1_000_000_000L;

    @Test
    void aRestoredVmGoesOnFromTheSavedTimeWithTheSavedVcpus() throws Exception {
        try (GuestMemory m1 = GuestMemory.ofSize(1 << 20); GuestMemory m2 = GuestMemory.ofSize(1 << 20);
             VirtualMachine a = new EmuHypervisor().createVm(m1, new VmConfig(2, true))) {
            Vcpu a0 = a.createVcpu(0);
            a.createVcpu(1);
            Registers r = a0.registers();
            r.set(Registers.Reg.RBX, 0x5151).rip(0x7c00);
            a0.setRegisters(r);
            a.restoreState(StateEdit.with(a.saveState(), "time", 5 * SECOND)); // a VM that has run 5 s
            DeviceState vmState = DeviceState.decode(a.saveState().encode());
            DeviceState cpu0 = DeviceState.decode(a0.saveState().encode());
            long saved = vmState.getLong("time");
            assertThat(saved).isGreaterThanOrEqualTo(5 * SECOND);

            try (VirtualMachine b = new EmuHypervisor().createVm(m2, new VmConfig(2, true))) {
                Vcpu b0 = b.createVcpu(0);
                b.createVcpu(1);
                b.restoreState(vmState);
                b0.restoreState(cpu0);
                assertThat(b.guestNanos()).as("the guest's time goes on, not from 0").isBetween(saved, saved
                        + 60 * SECOND);
                assertThat(b0.registers().get(Registers.Reg.RBX)).isEqualTo(0x5151);
                assertThat(b0.registers().rip()).isEqualTo(0x7c00);
                assertThat(StateEdit.without(b.saveState().getState("irqchip"), "time"))
                        .as("the controllers as saved (their time moved on)")
                        .isEqualTo(StateEdit.without(vmState.getState("irqchip"), "time"));
            }
        }
    }

    @Test
    void aStateOfAnotherShapeOrADeterministicRunIsRefused() {
        try (GuestMemory m = GuestMemory.ofSize(1 << 20);
             VirtualMachine two = new EmuHypervisor().createVm(m, new VmConfig(2, true));
             VirtualMachine one = new EmuHypervisor().createVm(m, new VmConfig(1, true));
             VirtualMachine noChip = new EmuHypervisor().createVm(m, new VmConfig(2, false));
             VirtualMachine det = new EmuHypervisor().createVm(m, new VmConfig(1, true, true))) {
            two.createVcpu(0);
            two.createVcpu(1);
            one.createVcpu(0);
            DeviceState s = two.saveState();
            assertThatThrownBy(() -> one.restoreState(s)).isInstanceOf(IncompatibleStateException.class)
                    .hasMessageContaining("2 vCPUs given to a VM of 1");
            assertThatThrownBy(() -> noChip.restoreState(s)).isInstanceOf(IncompatibleStateException.class)
                    .hasMessageContaining("this VM has none");
            assertThatThrownBy(det::saveState).isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageContaining("deterministic");
        }
    }
}
