package vmm.kvm.vendor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

/** MSRs are saved when KVM lists them, and the MTRRs though it does not. */
class CommonMsrsTest {

    @Test
    void savableKeepsTheWantedOrderAndDropsWhatKvmDoesNotList() {
        assertThat(CommonMsrs.savable(List.of(0x10, 0x48, 0x174, 0xC0000103), List.of(0x174, 0x10)))
                .containsExactly(0x10, 0x174);
    }

    @Test
    void theMtrrsAreSavedThoughKvmLeavesThemOutOfItsList() {
        assertThat(CommonMsrs.savable(List.of(0x2FF, 0x200, 0x300), List.of())).containsExactly(0x2FF, 0x200);
    }
}
