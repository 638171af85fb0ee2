package vmm.emu.internal.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import java.util.OptionalLong;

import org.junit.jupiter.api.Test;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.hypervisor.AddressSpace;
import vmm.core.hypervisor.Binding;
import vmm.core.hypervisor.EventFd;
import vmm.core.hypervisor.Registers;
import vmm.core.hypervisor.Segment;
import vmm.core.hypervisor.SpecialRegisters;
import vmm.core.hypervisor.Vcpu;
import vmm.core.hypervisor.VcpuExit;
import vmm.core.hypervisor.VcpuStateBlock;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.hypervisor.VmConfig;
import vmm.core.memory.GuestMemory;

/** The SPI over the software CPU: vCPU creation rules, register round trips, ioeventfd, the interrupt controllers. */
class EmuVmTest {
    @Test
    void vcpusAreCreatedOncePerIndexWithinTheConfiguredCount() {
        try (GuestMemory m = GuestMemory.ofSize(1 << 20);
             VirtualMachine vm = new EmuHypervisor().createVm(m, new VmConfig(2, false))) {
            vm.createVcpu(0);
            vm.createVcpu(1);
            assertThatThrownBy(() -> vm.createVcpu(1)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> vm.createVcpu(2)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void registersSpecialRegistersAndMsrsRoundTrip() {
        try (GuestMemory m = GuestMemory.ofSize(1 << 20);
             VirtualMachine vm = new EmuHypervisor().createVm(m, new VmConfig(1, false))) {
            Vcpu v = vm.createVcpu(0);
            Registers r = new Registers();
            long i = 1;
            for (Registers.Reg reg : Registers.Reg.values()) r.set(reg, i++ * 0x1111);
            r.rflags(0x202);
            v.setRegisters(r);
            assertThat(v.registers()).isEqualTo(r);
            SpecialRegisters s = v.specialRegisters();
            s.segment(SpecialRegisters.Seg.CS, Segment.flat32(8, true)).cr0(0x11).cr3(0x5000).efer(0);
            v.setSpecialRegisters(s);
            SpecialRegisters back = v.specialRegisters();
            assertThat(back.segment(SpecialRegisters.Seg.CS)).isEqualTo(Segment.flat32(8, true));
            assertThat(back.cr3()).isEqualTo(0x5000);
            v.setMsrs(Map.of(0x174, 0x10L));
            assertThat(v.msrs(0x174, 0x12345)).containsExactly(Map.entry(0x174, 0x10L));
            assertThat(v.state(VcpuStateBlock.MP_STATE)).hasSize(4);
        }
    }

    @Test
    void aBoundIoEventTakesTheWriteInsteadOfTheBus() {
        try (GuestMemory m = GuestMemory.ofSize(1 << 20);
             VirtualMachine vm = new EmuHypervisor().createVm(m, new VmConfig(1, false));
             EventFd fd = vm.createEventFd()) {
            Vcpu v = vm.createVcpu(0);
            m.write(0x1000, new byte[] {(byte) 0xB0, 0x07, (byte) 0xE6, (byte) 0xE0, (byte) 0xF4}, 0, 5); // out 0xe0, 7
            SpecialRegisters s = v.specialRegisters();
            s.segment(SpecialRegisters.Seg.CS, Segment.realMode(0, true));
            v.setSpecialRegisters(s);
            v.setRegisters(new Registers().rip(0x1000));
            IoPortBus ports = new IoPortBus();
            int[] busWrites = {0};
            ports.register("port", 0xE0, 1, new vmm.core.bus.IoHandler() {
                @Override public long read(long o, int size) { return 0; }
                @Override public void write(long o, int size, long value) { busWrites[0]++; }
            });
            try (Binding b = vm.bindIoEvent(fd, AddressSpace.IO_PORT, 0xE0, 1, OptionalLong.of(7))) {
                assertThat(v.run(ports, new MmioBus())).isInstanceOf(VcpuExit.Halted.class);
            }
            assertThat(fd.poll()).isEqualTo(1);
            assertThat(busWrites[0]).isZero();
        }
    }

    @Test
    void aVmWithoutTheIrqchipSaysSoAndOneWithItHasTheControllers() {
        try (GuestMemory m = GuestMemory.ofSize(1 << 20);
             VirtualMachine vm = new EmuHypervisor().createVm(m, new VmConfig(1, false))) {
            assertThatThrownBy(vm::irqChip).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("inKernelIrqchip");
            assertThatThrownBy(() -> vm.createVcpu(0).state(VcpuStateBlock.LAPIC))
                    .isInstanceOf(IllegalStateException.class);
        }
        try (GuestMemory m = GuestMemory.ofSize(1 << 20);
             VirtualMachine vm = new EmuHypervisor().createVm(m, new VmConfig(1, true))) {
            assertThat(vm.irqChip()).isNotNull();
            assertThat(vm.createVcpu(0).state(VcpuStateBlock.LAPIC)).hasSize(1024);
        }
    }

    @Test
    void theApicBaseMsrReachesTheLocalApicAndDisablingItResetsItsRegisters() {
        try (GuestMemory m = GuestMemory.ofSize(1 << 20);
             VirtualMachine vm = new EmuHypervisor().createVm(m, new VmConfig(1, true))) {
            Vcpu v = vm.createVcpu(0);
            byte[] page = v.state(VcpuStateBlock.LAPIC);
            // SVR: software-enabled
            java.nio.ByteBuffer.wrap(page).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(0xF0, 0x1FF);
            v.setState(VcpuStateBlock.LAPIC, page);
            assertThat(svr(v)).isEqualTo(0x1FF);

            v.setMsrs(Map.of(0x1B, 0xFEE00000L)); // the enable bit clear: the APIC goes to its power-up registers

            assertThat(svr(v)).isEqualTo(0xFF);
            assertThat(v.msrs(0x1B)).containsEntry(0x1B, 0xFEE00100L); // the BSP flag stays
            assertThat(v.specialRegisters().apicBase()).isEqualTo(0xFEE00100L);
        }
    }

    private static int svr(Vcpu v) {
        return java.nio.ByteBuffer.wrap(v.state(VcpuStateBlock.LAPIC)).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .getInt(0xF0);
    }

    @Test
    void msiGsisAreHandedOutLowestFirstAboveTheIoapicAndReused() {
        try (GuestMemory m = GuestMemory.ofSize(1 << 20);
             VirtualMachine vm = new EmuHypervisor().createVm(m, new VmConfig(1, true))) {
            assertThat(vm.allocateMsiGsi()).isEqualTo(24);
            assertThat(vm.allocateMsiGsi()).isEqualTo(25);
            vm.releaseMsiGsi(24);
            vm.releaseMsiGsi(24);
            assertThat(vm.allocateMsiGsi()).isEqualTo(24);
            assertThatThrownBy(() -> vm.routeMsi(5, new vmm.core.irq.MsiMessage(0xFEE00000L, 0x30)))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void closingTheVmStopsItsTimerAndIrqfdThreads() throws Exception {
        java.util.Set<Thread> before = Thread.getAllStackTraces().keySet();
        try (GuestMemory m = GuestMemory.ofSize(1 << 20);
             VirtualMachine vm = new EmuHypervisor().createVm(m, new VmConfig(2, true));
             EventFd fd = vm.createEventFd()) {
            vm.createVcpu(0);
            vm.bindIrqFd(fd, 30);
        }
        assertThat(Thread.getAllStackTraces().keySet()).filteredOn(t -> !before.contains(t) && t.isAlive())
                .extracting(Thread::getName).noneMatch(n -> n.startsWith("vmm-emu"));
    }
}
