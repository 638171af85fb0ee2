package device.pci_passthru.internal;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;

import org.junit.jupiter.api.Test;

import device.pci_passthru.vfio.RegionInfo;
import device.pci_passthru.vfio.VfioDevice;

class RegionChecksTest {
    static final RegionInfo[] REGIONS = {
            new RegionInfo(0, VfioDevice.VFIO_REGION_INFO_FLAG_READ | VfioDevice.VFIO_REGION_INFO_FLAG_WRITE, 0x1000, List.of()),
            new RegionInfo(1, VfioDevice.VFIO_REGION_INFO_FLAG_READ, 0x100, List.of())};

    @Test
    void anAccessInsideAReadableOrWritableRegionPasses() {
        assertThatCode(() -> RegionChecks.range("dev", REGIONS, 0, 0xffc, 4, true)).doesNotThrowAnyException();
        assertThatCode(() -> RegionChecks.range("dev", REGIONS, 1, 0, 0x100, false)).doesNotThrowAnyException();
    }

    @Test
    void anOffsetWhoseEndOverflowsIsRefusedNotWrappedIntoTheRegion() {
        assertThatThrownBy(() -> RegionChecks.range("dev", REGIONS, 0, Long.MAX_VALUE - 1, 4, false))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("leaves region 0");
    }

    @Test
    void aMissingRegionAWriteToAReadOnlyOneAndARangePastTheEndAreRefused() {
        assertThatThrownBy(() -> RegionChecks.region("dev", REGIONS, 2)).hasMessageContaining("region index 2 outside [0, 2)");
        assertThatThrownBy(() -> RegionChecks.range("dev", REGIONS, 1, 0, 4, true)).hasMessageContaining("not writable");
        assertThatThrownBy(() -> RegionChecks.range("dev", REGIONS, 0, 0xffd, 4, false)).hasMessageContaining("leaves region 0");
    }
}
