package device.pci_passthru.internal.kernel;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * The kernel's VFIO interface as include/uapi/linux/vfio.h defines it: ioctl
 * numbers, flags and struct layouts (x86-64, little-endian; {@code __aligned_u64}
 * is 8-byte aligned). Pinned by VfioAbiTest.
 */
final class VfioAbi {
    private VfioAbi() {}

    /** {@code VFIO_TYPE} (';') and {@code VFIO_BASE}. */
    static final int VFIO_TYPE = ';', VFIO_BASE = 100;

    /** {@code _IO(type, nr)}: no size and no direction bits; VFIO passes argsz inside the structs instead. */
    static long io(int nr) {
        return (VFIO_TYPE << 8) | (VFIO_BASE + nr);
    }

    static final long VFIO_GET_API_VERSION = io(0);
    static final long VFIO_CHECK_EXTENSION = io(1);
    static final long VFIO_SET_IOMMU = io(2);
    static final long VFIO_GROUP_GET_STATUS = io(3);
    static final long VFIO_GROUP_SET_CONTAINER = io(4);
    static final long VFIO_GROUP_UNSET_CONTAINER = io(5);
    static final long VFIO_GROUP_GET_DEVICE_FD = io(6);
    static final long VFIO_DEVICE_GET_INFO = io(7);
    static final long VFIO_DEVICE_GET_REGION_INFO = io(8);
    static final long VFIO_DEVICE_GET_IRQ_INFO = io(9);
    static final long VFIO_DEVICE_SET_IRQS = io(10);
    static final long VFIO_DEVICE_RESET = io(11);
    static final long VFIO_IOMMU_GET_INFO = io(12);
    static final long VFIO_IOMMU_MAP_DMA = io(13);
    static final long VFIO_IOMMU_UNMAP_DMA = io(14);

    static final int VFIO_API_VERSION = 0;
    static final int VFIO_TYPE1_IOMMU = 1, VFIO_TYPE1v2_IOMMU = 3;

    static final int VFIO_GROUP_FLAGS_VIABLE = 1 << 0, VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;

    static final int VFIO_REGION_INFO_CAP_SPARSE_MMAP = 1;

    static final int VFIO_IRQ_SET_DATA_NONE = 1 << 0, VFIO_IRQ_SET_DATA_BOOL = 1 << 1, VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2,
            VFIO_IRQ_SET_ACTION_MASK = 1 << 3, VFIO_IRQ_SET_ACTION_UNMASK = 1 << 4, VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5;

    static final int VFIO_DMA_MAP_FLAG_READ = 1 << 0, VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;

    private static MemoryLayout u32(String n) {
        return JAVA_INT.withName(n);
    }

    private static MemoryLayout u64(String n) {
        return JAVA_LONG.withName(n);
    }

    /** {@code struct vfio_group_status}. */
    static final StructLayout VFIO_GROUP_STATUS = MemoryLayout.structLayout(u32("argsz"), u32("flags")).withName("vfio_group_status");

    /** {@code struct vfio_device_info} (with {@code cap_offset} and {@code pad}, Linux 5.x+; older kernels read the first 16 bytes). */
    static final StructLayout VFIO_DEVICE_INFO = MemoryLayout.structLayout(
            u32("argsz"), u32("flags"), u32("num_regions"), u32("num_irqs"), u32("cap_offset"), u32("pad")).withName("vfio_device_info");

    /** {@code struct vfio_region_info}. */
    static final StructLayout VFIO_REGION_INFO = MemoryLayout.structLayout(
            u32("argsz"), u32("flags"), u32("index"), u32("cap_offset"), u64("size"), u64("offset")).withName("vfio_region_info");

    /** {@code struct vfio_info_cap_header}. */
    static final StructLayout VFIO_INFO_CAP_HEADER = MemoryLayout.structLayout(
            JAVA_SHORT.withName("id"), JAVA_SHORT.withName("version"), u32("next")).withName("vfio_info_cap_header");

    /** {@code struct vfio_region_info_cap_sparse_mmap} without its {@code areas[]}. */
    static final StructLayout VFIO_REGION_INFO_CAP_SPARSE_MMAP_LAYOUT = MemoryLayout.structLayout(
            VFIO_INFO_CAP_HEADER.withName("header"), u32("nr_areas"), u32("reserved")).withName("vfio_region_info_cap_sparse_mmap");

    /** {@code struct vfio_region_sparse_mmap_area}. */
    static final StructLayout VFIO_REGION_SPARSE_MMAP_AREA = MemoryLayout.structLayout(u64("offset"), u64("size"))
            .withName("vfio_region_sparse_mmap_area");

    /** {@code struct vfio_irq_info}. */
    static final StructLayout VFIO_IRQ_INFO = MemoryLayout.structLayout(u32("argsz"), u32("flags"), u32("index"), u32("count"))
            .withName("vfio_irq_info");

    /** {@code struct vfio_irq_set} without its {@code data[]}. */
    static final StructLayout VFIO_IRQ_SET = MemoryLayout.structLayout(
            u32("argsz"), u32("flags"), u32("index"), u32("start"), u32("count")).withName("vfio_irq_set");

    /** {@code struct vfio_iommu_type1_dma_map}. */
    static final StructLayout VFIO_IOMMU_TYPE1_DMA_MAP = MemoryLayout.structLayout(
            u32("argsz"), u32("flags"), u64("vaddr"), u64("iova"), u64("size")).withName("vfio_iommu_type1_dma_map");

    /** {@code struct vfio_iommu_type1_dma_unmap} without its {@code data[]}. */
    static final StructLayout VFIO_IOMMU_TYPE1_DMA_UNMAP = MemoryLayout.structLayout(
            u32("argsz"), u32("flags"), u64("iova"), u64("size")).withName("vfio_iommu_type1_dma_unmap");

    /** Byte offset of a field of {@code layout}. */
    static long off(StructLayout layout, String field) {
        return layout.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }
}
