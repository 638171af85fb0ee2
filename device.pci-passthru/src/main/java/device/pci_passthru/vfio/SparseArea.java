package device.pci_passthru.vfio;

/**
 * One area of a region that may be mmap'd ({@code struct vfio_region_sparse_mmap_area}),
 * relative to the start of the region.
 *
 * @param offset byte offset in the region
 * @param size   byte length
 */
public record SparseArea(long offset, long size) {
    /** @throws IllegalArgumentException if {@code offset} or {@code size} is negative or they overflow */
    public SparseArea {
        if (offset < 0 || size < 0 || offset + size < 0) {
            throw new IllegalArgumentException("sparse mmap area offset " + offset + " size " + size);
        }
    }

    /** The end of the area (exclusive). */
    public long end() {
        return offset + size;
    }
}
