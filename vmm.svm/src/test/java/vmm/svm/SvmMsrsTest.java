package vmm.svm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

import vmm.kvm.fixtures.Fixtures;

/** The AMD MSR list, alone and against this machine's recorded KVM_GET_MSR_INDEX_LIST. */
class SvmMsrsTest {
    private final SvmVendor vendor = new SvmVendor(Fixtures.host("amd-epyc-7742"));

    @Test
    void theListHoldsTheSyscallSysenterPatAndKvmClockMsrsOnceEach() {
        assertThat(vendor.msrsToSave())
                .contains(0x174, 0x175, 0x176, 0x277, 0xC0000081, 0xC0000082, 0xC0000083, 0xC0000084, 0xC0000102, 0xC0000103)
                .contains(0x4B564D01) // MSR_KVM_SYSTEM_TIME_NEW
                .doesNotHaveDuplicates();
    }

    @Test
    void theListHasAmdsOwnMsrsAndNoIntelOnes() {
        assertThat(vendor.msrsToSave())
                .contains(0xC0010015, 0xC001011F, 0xC0010000, 0xC0010007, 0xC0010200, 0xC001020B)
                .doesNotContain(0x3A /* IA32_FEATURE_CONTROL */, 0x38F /* IA32_PERF_GLOBAL_CTRL */, 0xD90 /* BNDCFGS */)
                .doesNotContain(0xC0010117); // VM_HSAVE_PA: nested SVM state, which is not offered
    }

    @Test
    void theTscIsRestoredBeforeTscAdjust() {
        List<Integer> l = vendor.msrsToSave();
        assertThat(l.indexOf(0x10)).isLessThan(l.indexOf(0x3B));
    }

    @Test
    void onThisMachineOnlyTheMsrsItsKvmListsAreSavedPlusTheMtrrs() {
        List<Integer> kvm = Fixtures.msrs("this-host-kvm-pvm-epyc.msrs");

        List<Integer> saved = vendor.msrsToSave(kvm);

        assertThat(saved).containsExactly(0x10, 0x3B, 0x174, 0x175, 0x176, 0x1A0, 0x277, 0x2FF, 0x6E0,
                0xC0000081, 0xC0000082, 0xC0000083, 0xC0000084, 0xC0000102,
                0x4B564D00, 0x4B564D01, 0x4B564D02, 0x4B564D03, 0x4B564D04, 0x4B564D05, 0x4B564D06,
                0xC0010015, 0xC001011F);
    }
}
