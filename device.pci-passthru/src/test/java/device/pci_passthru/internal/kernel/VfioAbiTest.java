package device.pci_passthru.internal.kernel;

import static device.pci_passthru.internal.kernel.VfioAbi.*;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Pins every ioctl number, struct size and field offset to include/uapi/linux/vfio.h on x86-64. */
class VfioAbiTest {

    @Test
    void ioctlNumbersAreTheHeadersIoOfTypeSemicolonAndBase100() {
        assertThat(VFIO_GET_API_VERSION).isEqualTo(0x3b64);
        assertThat(VFIO_CHECK_EXTENSION).isEqualTo(0x3b65);
        assertThat(VFIO_SET_IOMMU).isEqualTo(0x3b66);
        assertThat(VFIO_GROUP_GET_STATUS).isEqualTo(0x3b67);
        assertThat(VFIO_GROUP_SET_CONTAINER).isEqualTo(0x3b68);
        assertThat(VFIO_GROUP_UNSET_CONTAINER).isEqualTo(0x3b69);
        assertThat(VFIO_GROUP_GET_DEVICE_FD).isEqualTo(0x3b6a);
        assertThat(VFIO_DEVICE_GET_INFO).isEqualTo(0x3b6b);
        assertThat(VFIO_DEVICE_GET_REGION_INFO).isEqualTo(0x3b6c);
        assertThat(VFIO_DEVICE_GET_IRQ_INFO).isEqualTo(0x3b6d);
        assertThat(VFIO_DEVICE_SET_IRQS).isEqualTo(0x3b6e);
        assertThat(VFIO_DEVICE_RESET).isEqualTo(0x3b6f);
        assertThat(VFIO_IOMMU_GET_INFO).isEqualTo(0x3b70);
        assertThat(VFIO_IOMMU_MAP_DMA).isEqualTo(0x3b71);
        assertThat(VFIO_IOMMU_UNMAP_DMA).isEqualTo(0x3b72);
    }

    @Test
    void constantsMatchTheHeader() {
        assertThat(VFIO_API_VERSION).isZero();
        assertThat(VFIO_TYPE1_IOMMU).isEqualTo(1);
        assertThat(VFIO_TYPE1v2_IOMMU).isEqualTo(3);
        assertThat(VFIO_GROUP_FLAGS_VIABLE).isEqualTo(1);
        assertThat(VFIO_REGION_INFO_CAP_SPARSE_MMAP).isEqualTo(1);
        assertThat(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_DATA_EVENTFD).isEqualTo(0x7);
        assertThat(VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_UNMASK | VFIO_IRQ_SET_ACTION_TRIGGER).isEqualTo(0x38);
        assertThat(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE).isEqualTo(3);
    }

    @Test
    void structSizesAndOffsetsMatchTheHeader() {
        assertThat(VFIO_GROUP_STATUS.byteSize()).isEqualTo(8);
        assertThat(VFIO_DEVICE_INFO.byteSize()).isEqualTo(24);
        assertThat(off(VFIO_DEVICE_INFO, "num_regions")).isEqualTo(8);
        assertThat(off(VFIO_DEVICE_INFO, "num_irqs")).isEqualTo(12);
        assertThat(off(VFIO_DEVICE_INFO, "cap_offset")).isEqualTo(16);
        assertThat(VFIO_REGION_INFO.byteSize()).isEqualTo(32);
        assertThat(off(VFIO_REGION_INFO, "index")).isEqualTo(8);
        assertThat(off(VFIO_REGION_INFO, "cap_offset")).isEqualTo(12);
        assertThat(off(VFIO_REGION_INFO, "size")).isEqualTo(16);
        assertThat(off(VFIO_REGION_INFO, "offset")).isEqualTo(24);
        assertThat(VFIO_INFO_CAP_HEADER.byteSize()).isEqualTo(8);
        assertThat(off(VFIO_INFO_CAP_HEADER, "next")).isEqualTo(4);
        assertThat(VFIO_REGION_INFO_CAP_SPARSE_MMAP_LAYOUT.byteSize()).isEqualTo(16);
        assertThat(off(VFIO_REGION_INFO_CAP_SPARSE_MMAP_LAYOUT, "nr_areas")).isEqualTo(8);
        assertThat(VFIO_REGION_SPARSE_MMAP_AREA.byteSize()).isEqualTo(16);
        assertThat(VFIO_IRQ_INFO.byteSize()).isEqualTo(16);
        assertThat(off(VFIO_IRQ_INFO, "count")).isEqualTo(12);
        assertThat(VFIO_IRQ_SET.byteSize()).isEqualTo(20);
        assertThat(off(VFIO_IRQ_SET, "start")).isEqualTo(12);
        assertThat(off(VFIO_IRQ_SET, "count")).isEqualTo(16);
        assertThat(VFIO_IOMMU_TYPE1_DMA_MAP.byteSize()).isEqualTo(32);
        assertThat(off(VFIO_IOMMU_TYPE1_DMA_MAP, "vaddr")).isEqualTo(8);
        assertThat(off(VFIO_IOMMU_TYPE1_DMA_MAP, "iova")).isEqualTo(16);
        assertThat(off(VFIO_IOMMU_TYPE1_DMA_MAP, "size")).isEqualTo(24);
        assertThat(VFIO_IOMMU_TYPE1_DMA_UNMAP.byteSize()).isEqualTo(24);
        assertThat(off(VFIO_IOMMU_TYPE1_DMA_UNMAP, "iova")).isEqualTo(8);
        assertThat(off(VFIO_IOMMU_TYPE1_DMA_UNMAP, "size")).isEqualTo(16);
    }
}
