package vmm.emu.internal.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import vmm.core.hypervisor.VcpuExit;
import vmm.emu.StateEdit;
import vmm.emu.internal.irq.ManualClock;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * A software vCPU's snapshot state: a vCPU restored from another's state part way through a program ends it
 * exactly as an uninterrupted run does (registers, SSE, instruction count), the TSC goes on from where it was, and
 * a state the model could not hold is refused in one line that names the field.
 */
class CpuStateTest {
    /**
     * {@code loop: add rax, rcx; movq xmm0, rax; paddq xmm1, xmm0; dec rcx; jnz loop}, then HLT (the harness
     * adds it): with RCX = 1000, RAX ends as 500,500 and XMM1's low quadword as the sum of RAX's values.
     */
    private static final int[] PROGRAM = {0x48, 0x01, 0xC8, 0x66, 0x48, 0x0F, 0x6E, 0xC0, 0x66, 0x0F, 0xD4, 0xC8,
            0x48, 0xFF, 0xC9, 0x75, 0xEF};

    private static Harness program() {
        Harness h = Harness.long64(PROGRAM);
        h.c.cr4 |= Cpu.CR4_OSFXSR | Cpu.CR4_OSXMMEXCPT;
        h.c.cr0 |= Cpu.CR0_MP | Cpu.CR0_NE;
        h.c.r[Cpu.RCX] = 1000;
        h.machine.stateChanged();
        assertThat(h.machine.writeMsr(SystemOps.LSTAR, 0xffff_ffff_8100_0000L)).isTrue();
        assertThat(h.machine.writeMsr(SystemOps.TSC_AUX, 7)).isTrue();
        assertThat(h.machine.writeMsr(SystemOps.KERNEL_GS_BASE, 0x1234_5000L)).isTrue();
        return h;
    }

    @Test
    void aVcpuRestoredPartWayThroughAProgramEndsItAsAnUninterruptedRunDoes() {
        try (Harness whole = program(); Harness cut = program()) {
            whole.runToHalt();
            assertThat(whole.reg(Cpu.RAX)).isEqualTo(500_500);

            assertThat(cut.machine.step(cut.ports, cut.mmio, 2345)).isNull();
            DeviceState saved = DeviceState.decode(cut.machine.saveState().toDeviceState().encode());
            cut.machine.reset(); // nothing of the old vCPU is left to lean on: a fresh one takes the state
            Machine fresh = new Machine(0, 1, cut.phys, VirtualClock.host(), false);
            fresh.restoreState(CpuState.from(saved));
            assertThat(fresh.step(cut.ports, cut.mmio, 50_000_000)).isInstanceOf(VcpuExit.Halted.class);

            CpuState expected = whole.machine.saveState(), actual = fresh.saveState();
            assertThat(actual.gprs()).isEqualTo(expected.gprs());
            assertThat(actual.rip()).isEqualTo(expected.rip());
            assertThat(actual.rflags()).isEqualTo(expected.rflags());
            assertThat(actual.fpu()).isEqualTo(expected.fpu());
            assertThat(actual.fpu().xmm()[2]).as("XMM1's low quadword").isNotZero();
            assertThat(actual.instructions()).isEqualTo(expected.instructions());
            assertThat(actual.msrs()).isEqualTo(expected.msrs()).containsEntry(SystemOps.TSC_AUX, 7L);
            assertThat(actual.kernelGsBase()).isEqualTo(0x1234_5000L);
            assertThat(actual.segments()).isEqualTo(expected.segments());
            assertThat(List.of(actual.cr0(), actual.cr3(), actual.cr4(), actual.efer()))
                    .isEqualTo(List.of(expected.cr0(), expected.cr3(), expected.cr4(), expected.efer()));
        }
    }

    @Test
    void everyFieldSurvivesTheVersionedFormAndARestore() {
        try (Harness h = program()) {
            h.machine.step(h.ports, h.mmio, 100);
            h.c.dr[0] = 0x4000;
            h.c.cr2 = 0xdead_b000L;
            h.c.fpu.ftw = 0x5A5A;
            h.c.fpu.st[3] = 9;
            h.machine.setInterruptShadow(true);
            h.machine.setHalted(true);
            h.machine.nmiBlocked = true;
            CpuState s = h.machine.saveState();
            CpuState back = CpuState.from(DeviceState.decode(s.toDeviceState().encode()));
            assertThat(back).isEqualTo(s);

            Machine other = new Machine(0, 1, h.phys, VirtualClock.host(), false);
            other.restoreState(back);
            assertThat(other.inInterruptShadow()).isTrue();
            assertThat(other.halted()).isTrue();
            assertThat(other.nmiBlocked).isTrue();
            assertThat(other.cpu().fpu.ftw).as("the full tag word, not FXSAVE's abridged one").isEqualTo(0x5A5A);
            assertThat(other.saveState().toDeviceState()).isEqualTo(s.toDeviceState());
        }
    }

    @Test
    void theTscAndItsAdjustGoOnFromWhereTheyWere() {
        try (Harness h = new Harness()) {
            ManualClock clock = new ManualClock(), later = new ManualClock();
            Machine m = new Machine(0, 1, h.phys, clock, false);
            clock.set(1_000);
            assertThat(m.writeMsr(SystemOps.IA32_TSC, 5_000_000)).isTrue();
            clock.set(4_000);
            long tsc = m.readMsr(SystemOps.IA32_TSC), adjust = m.readMsr(SystemOps.IA32_TSC_ADJUST);
            assertThat(tsc).isEqualTo(5_003_000);
            assertThat(adjust).isNotZero();

            // The VM's clock is restored to the saved time (the VM's part); the vCPU keeps its offset from it.
            later.set(4_000);
            Machine restored = new Machine(0, 1, h.phys, later, false);
            restored.restoreState(CpuState.from(m.saveState().toDeviceState()));
            assertThat(restored.readMsr(SystemOps.IA32_TSC)).isEqualTo(tsc);
            assertThat(restored.readMsr(SystemOps.IA32_TSC_ADJUST)).isEqualTo(adjust);
            later.advance(250);
            assertThat(restored.readMsr(SystemOps.IA32_TSC)).isEqualTo(tsc + 250);
        }
    }

    @Test
    void aStateTheModelCannotHoldIsRefusedNamingTheField() {
        try (Harness h = program()) {
            DeviceState good = h.machine.saveState().toDeviceState();
            assertThatThrownBy(() -> CpuState.from(StateEdit.with(good, "efer", 1L << 12)))
                    .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("'efer'");
            assertThatThrownBy(() -> CpuState.from(StateEdit.with(good, "msrs", List.of(0x10L, 5L))))
                    .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("MSR 0x10 is not one");
            assertThatThrownBy(() -> CpuState.from(StateEdit.with(good, "gprs", List.of(1L, 2L))))
                    .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("'gprs'");
            List<Object> segs = new ArrayList<>(good.getList("segments"));
            segs.set(Cpu.SS, StateEdit.with((DeviceState) segs.get(Cpu.SS), "dpl", 4L));
            assertThatThrownBy(() -> CpuState.from(StateEdit.with(good, "segments", segs)))
                    .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("'dpl'");
            assertThatThrownBy(() -> CpuState.from(StateEdit.without(good, "fpu")))
                    .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("'fpu'");
            assertThatThrownBy(() -> CpuState.from(StateEdit.retyped(good, CpuState.TYPE, 2)))
                    .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("version 2");
        }
    }

    @Test
    void aRefusedMsrValueLeavesTheVcpuAsItWas() {
        try (Harness h = program()) {
            DeviceState good = h.machine.saveState().toDeviceState();
            List<Object> msrs = List.of(SystemOps.TSC_AUX & 0xFFFF_FFFFL, 1L << 40); // TSC_AUX is 32 bits
            CpuState bad = CpuState.from(StateEdit.with(good, "msrs", msrs));
            long rip = h.c.rip;
            assertThatThrownBy(() -> h.machine.restoreState(bad))
                    .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("MSR 0xc0000103");
            assertThat(h.machine.readMsr(SystemOps.TSC_AUX)).isEqualTo(7);
            assertThat(h.c.rip).isEqualTo(rip);
        }
    }
}
