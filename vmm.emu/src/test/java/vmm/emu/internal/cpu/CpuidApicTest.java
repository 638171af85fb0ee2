package vmm.emu.internal.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * CPUID advertises the local APIC the VM has, and neither x2APIC nor the TSC-deadline timer, which it lacks; it
 * advertises IA32_TSC_ADJUST, which the model implements.
 */
class CpuidApicTest {
    static final int EDX_APIC = 1 << 9, ECX_X2APIC = 1 << 21, ECX_TSC_DEADLINE = 1 << 24;

    @Test
    void leafOneHasTheApicButNotX2apicOrTscDeadline() {
        int[] r = CpuidModel.leaf(1, 0, 1, 2, true);
        assertThat(r[3] & EDX_APIC).isEqualTo(EDX_APIC);
        assertThat(r[2] & (ECX_X2APIC | ECX_TSC_DEADLINE)).isZero();
        assertThat(r[1] >>> 24).as("initial APIC ID = vCPU index, as the MADT says").isEqualTo(1);
    }

    @Test
    void leafSevenAdvertisesTscAdjustAndTheMsrMovesWithTheTsc() {
        assertThat(CpuidModel.leaf(7, 0, 0, 2, true)[1] & CpuidModel.LEAF7_EBX_TSC_ADJUST).isNotZero();
        assertThat(CpuidModel.leaf(7, 1, 0, 2, true)).containsOnly(0);
        try (Harness h = Harness.real(0xF4)) {
            Cpu c = h.c;
            assertThat(SystemOps.readMsr(c, SystemOps.IA32_TSC_ADJUST)).isZero();
            long before = SystemOps.readMsr(c, SystemOps.IA32_TSC);
            // A write to IA32_TSC_ADJUST moves the TSC by the same amount (SDM 17.17.3).
            assertThat(SystemOps.writeMsr(c, SystemOps.IA32_TSC_ADJUST, 1L << 40)).isTrue();
            long after = SystemOps.readMsr(c, SystemOps.IA32_TSC);
            assertThat(after - before).isGreaterThanOrEqualTo(1L << 40);
            assertThat(SystemOps.readMsr(c, SystemOps.IA32_TSC_ADJUST)).isEqualTo(1L << 40);
            // A write to the TSC moves IA32_TSC_ADJUST by what the TSC moved: back to 0 when the TSC goes back.
            assertThat(SystemOps.writeMsr(c, SystemOps.IA32_TSC, 5)).isTrue();
            long adjust = SystemOps.readMsr(c, SystemOps.IA32_TSC_ADJUST);
            assertThat(adjust).as("2^40 + 5 - the TSC before the write, which was past 2^40").isLessThanOrEqualTo(5);
            assertThat(SystemOps.readMsr(c, SystemOps.IA32_TSC)).isGreaterThanOrEqualTo(5);
        }
    }

    @Test
    void withoutAnInterruptControllerTheApicBitIsClear() {
        assertThat(CpuidModel.leaf(1, 0, 0, 1, false)[3] & EDX_APIC).isZero();
    }
}
