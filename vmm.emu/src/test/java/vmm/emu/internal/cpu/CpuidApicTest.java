package vmm.emu.internal.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** CPUID advertises the local APIC the VM has, and neither x2APIC nor the TSC-deadline timer, which it lacks. */
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
    void withoutAnInterruptControllerTheApicBitIsClear() {
        assertThat(CpuidModel.leaf(1, 0, 0, 1, false)[3] & EDX_APIC).isZero();
    }
}
