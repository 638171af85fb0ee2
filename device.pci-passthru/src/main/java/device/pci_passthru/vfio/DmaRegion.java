package device.pci_passthru.vfio;

/**
 * A range of guest RAM the device may reach by DMA at I/O virtual address
 * {@code iova} (the guest-physical address). Both forms of the backing are
 * given: the kernel's type1 IOMMU pins {@code hostAddress}, a vfio-user peer
 * maps {@code fd} at {@code fdOffset}.
 *
 * @param iova        I/O virtual address (= guest-physical address), page aligned
 * @param size        length in bytes, page aligned, &gt; 0
 * @param hostAddress the VMM's virtual address of the first byte
 * @param fd          file descriptor backing the memory (a memfd), or -1 when there is none
 * @param fdOffset    offset of the first byte in {@code fd}
 * @param writable    whether the device may write (VFIO_DMA_MAP_FLAG_WRITE); reading is always allowed
 */
public record DmaRegion(long iova, long size, long hostAddress, int fd, long fdOffset, boolean writable) {
    /** @throws IllegalArgumentException if a value is negative, the size is 0, or iova + size overflows */
    public DmaRegion {
        if (iova < 0 || size <= 0 || iova + size < 0 || fdOffset < 0) {
            throw new IllegalArgumentException("DMA region iova 0x" + Long.toHexString(iova) + " size 0x"
                    + Long.toHexString(size) + " fd offset " + fdOffset);
        }
    }
}
