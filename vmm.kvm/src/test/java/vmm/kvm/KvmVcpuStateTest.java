package vmm.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;

import org.junit.jupiter.api.Test;

import vmm.core.hypervisor.Registers;
import vmm.core.hypervisor.SpecialRegisters;
import vmm.core.hypervisor.Vcpu;
import vmm.core.hypervisor.VcpuStateBlock;
import vmm.core.hypervisor.VmConfig;
import vmm.kvm.guest.KvmBackEnd;
import vmm.testing.guest.GuestVm;

/** vCPU state goes to KVM and comes back unchanged, in each of the kernel's structures. */
class KvmVcpuStateTest implements KvmBackEnd {

    @Test
    void registersAndSpecialRegistersRoundTrip() throws Exception {
        try (GuestVm t = vm(true)) {
            Vcpu v = t.vcpu();
            Registers r = new Registers().rip(0x1234).rsp(0x8000).set(Registers.Reg.R15, -2L).set(Registers.Reg.RAX, 7);
            v.setRegisters(r);
            assertThat(v.registers()).isEqualTo(r);

            t.protectedMode(v, 0x1000, 0x600, 32);
            SpecialRegisters s = v.specialRegisters();
            assertThat(s.cr0() & SpecialRegisters.CR0_PE).isNotZero();
            assertThat(s.gdt().base()).isEqualTo(GuestVm.GDT);
            assertThat(s.idt().limit()).isEqualTo(32 * 8 - 1);
            assertThat(s.segment(SpecialRegisters.Seg.DS).limit()).isEqualTo(0xFFFFFFFF);
            v.setSpecialRegisters(s);
            assertThat(v.specialRegisters()).isEqualTo(s);
        }
    }

    @Test
    void msrsRoundTripAndOnesTheHostRefusesAreLeftOut() throws Exception {
        try (GuestVm t = vm(true)) {
            Vcpu v = t.vcpu();
            v.setMsrs(Map.of(0x174, 0x10L, 0x175, 0x9000L)); // IA32_SYSENTER_CS, IA32_SYSENTER_ESP
            assertThat(v.msrs(0x174, 0x12345678, 0x175)).containsExactly(Map.entry(0x174, 0x10L), Map.entry(0x175, 0x9000L));
            assertThatThrownBy(() -> v.setMsrs(Map.of(0x12345678, 1L))).hasMessageContaining("refused MSR 0x12345678");
        }
    }

    @Test
    void eachVcpuHasItsOwnApicIdAndOnlyTheBootProcessorIsRunnable() throws Exception {
        try (GuestVm t = vm(new VmConfig(2, true))) {
            byte[] lapic1 = t.vcpus.get(1).state(VcpuStateBlock.LAPIC);
            int apicId = ByteBuffer.wrap(lapic1).order(ByteOrder.LITTLE_ENDIAN).getInt(0x20) >>> 24;
            assertThat(apicId).isEqualTo(1);
            assertThat(mpState(t.vcpus.get(0))).isZero();           // KVM_MP_STATE_RUNNABLE
            assertThat(mpState(t.vcpus.get(1))).isEqualTo(1);       // KVM_MP_STATE_UNINITIALIZED: waits for INIT/SIPI
        }
    }

    private static int mpState(Vcpu v) {
        return ByteBuffer.wrap(v.state(VcpuStateBlock.MP_STATE)).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }

    @Test
    void fpuAndEventStateRoundTrip() throws Exception {
        try (GuestVm t = vm(true)) {
            Vcpu v = t.vcpu();
            byte[] fpu = v.state(VcpuStateBlock.FPU);
            assertThat(fpu).hasSize(416);
            ByteBuffer.wrap(fpu).order(ByteOrder.LITTLE_ENDIAN).putShort(128, (short) 0x027F); // fcw: 53-bit precision
            v.setState(VcpuStateBlock.FPU, fpu);
            assertThat(ByteBuffer.wrap(v.state(VcpuStateBlock.FPU)).order(ByteOrder.LITTLE_ENDIAN).getShort(128)).isEqualTo((short) 0x027F);

            byte[] events = v.state(VcpuStateBlock.EVENTS);
            assertThat(events).hasSize(64);
            v.setState(VcpuStateBlock.EVENTS, events);
            assertThatThrownBy(() -> v.setState(VcpuStateBlock.LAPIC, new byte[10])).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void translationWithoutPagingIsTheIdentity() throws Exception {
        try (GuestVm t = vm(false)) {
            t.protectedMode(t.vcpu(), 0x1000, 0, 0);
            assertThat(t.vcpu().translate(0x12345)).hasValue(0x12345);
        }
    }

    @Test
    void vcpuIndicesOutsideTheConfigOrTakenTwiceAreRefused() throws Exception {
        try (GuestVm t = vm(true)) {
            assertThatThrownBy(() -> t.vm.createVcpu(0)).hasMessageContaining("already exists");
            assertThatThrownBy(() -> t.vm.createVcpu(1)).hasMessageContaining("outside [0, 1)");
        }
    }

    @Test
    void aVmWithoutTheIrqchipHasNoIrqChip() throws Exception {
        try (GuestVm t = vm(false)) {
            assertThatThrownBy(t.vm::irqChip).isInstanceOf(IllegalStateException.class).hasMessageContaining("without the in-kernel irqchip");
        }
    }
}
