package vmm.vmx;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

import vmm.kvm.fixtures.Fixtures;

/** The Intel MSR list, alone and against a recorded-style Intel KVM_GET_MSR_INDEX_LIST. */
class VmxMsrsTest {
    private final VmxVendor vendor = new VmxVendor(Fixtures.host("intel-xeon-gold-6252"));

    @Test
    void theListHoldsTheArchitecturalAndIntelMsrsOnceEachAndNoAmdOnes() {
        assertThat(vendor.msrsToSave())
                .contains(0x10, 0x174, 0x277, 0xC0000082, 0xC0000102, 0x4B564D01)
                .contains(0x3A, 0xD90, 0xC1, 0x186, 0x309, 0x38F)
                .doesNotContain(0xC0010015, 0xC0010200) // AMD HWCR and counters
                .doesNotHaveDuplicates();
    }

    @Test
    void globalPerformanceControlIsRestoredAfterEveryCounter() {
        List<Integer> l = vendor.msrsToSave();
        for (int counter : List.of(0xC1, 0xC8, 0x186, 0x309, 0x38D)) assertThat(l.indexOf(counter)).isLessThan(l.indexOf(0x38F));
    }

    @Test
    void onACascadeLakeHostTheMsrsItsKvmDoesNotListAreLeftOut() {
        List<Integer> saved = vendor.msrsToSave(Fixtures.msrs("intel-kvm-msr-index-list.msrs"));

        assertThat(saved).contains(0x48, 0xC0000103, 0xD90, 0x3A, 0x2FF)
                .doesNotContain(0xE1, 0x1C4, 0x1C5) // UMWAIT_CONTROL, XFD: not on Cascade Lake
                .doesNotContain(0xC5, 0xC8, 0x18A, 0x18D); // only 4 general-purpose counters
        assertThat(saved).hasSize(vendor.msrsToSave().size() - 3 - 8);
    }
}
