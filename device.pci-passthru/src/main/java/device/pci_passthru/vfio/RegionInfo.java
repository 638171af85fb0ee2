package device.pci_passthru.vfio;

import java.util.List;

/**
 * {@code struct vfio_region_info} of one region, as the transport reported it;
 * values came from the host kernel or a peer and are checked by the caller
 * before use.
 *
 * @param index       region index ({@link VfioDevice#VFIO_PCI_BAR0_REGION_INDEX} ...)
 * @param flags       {@link VfioDevice#VFIO_REGION_INFO_FLAG_READ}, {@code _WRITE}, {@code _MMAP}
 * @param size        region size in bytes (0: the region does not exist)
 * @param sparseAreas with {@code _MMAP}: the only areas that may be mapped; empty means the whole
 *                    region may be (no {@code VFIO_REGION_INFO_CAP_SPARSE_MMAP} capability)
 */
public record RegionInfo(int index, int flags, long size, List<SparseArea> sparseAreas) {
    /** Copies the list. */
    public RegionInfo {
        sparseAreas = List.copyOf(sparseAreas);
    }

    /** Whether the region can be read. */
    public boolean readable() {
        return (flags & VfioDevice.VFIO_REGION_INFO_FLAG_READ) != 0;
    }

    /** Whether the region can be written. */
    public boolean writable() {
        return (flags & VfioDevice.VFIO_REGION_INFO_FLAG_WRITE) != 0;
    }

    /** Whether some of the region may be mmap'd. */
    public boolean mappable() {
        return (flags & VfioDevice.VFIO_REGION_INFO_FLAG_MMAP) != 0;
    }

    /**
     * Whether {@code [offset, offset + length)} may be mmap'd: the region is mappable and
     * the range lies inside it and, with sparse areas, inside one of them.
     */
    public boolean mappable(long offset, long length) {
        if (!mappable() || offset < 0 || length <= 0 || offset + length < 0 || offset + length > size) {
            return false;
        }
        if (sparseAreas.isEmpty()) {
            return true;
        }
        for (SparseArea a : sparseAreas) {
            if (offset >= a.offset() && offset + length <= a.end()) {
                return true;
            }
        }
        return false;
    }
}
