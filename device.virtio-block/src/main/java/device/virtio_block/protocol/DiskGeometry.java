package device.virtio_block.protocol;

/**
 * What a request is checked against: the disk's size, block sizes and the
 * discard / write zeroes limits the device announces in its config space.
 *
 * @param capacityBytes         bytes the guest may address, a multiple of {@code logicalBlockSize}
 * @param logicalBlockSize      the smallest unit of I/O (blk_size), a power of two, at least 512
 * @param physicalBlockSize     the host's unit of I/O, a power-of-two multiple of the logical size
 * @param readOnly              whether writes of any kind are refused
 * @param maxDiscardSectors     most 512-byte sectors one discard segment may cover
 * @param maxDiscardSeg         most segments one discard request may carry
 * @param maxWriteZeroesSectors most 512-byte sectors one write zeroes segment may cover
 * @param maxWriteZeroesSeg     most segments one write zeroes request may carry
 */
public record DiskGeometry(long capacityBytes, int logicalBlockSize, int physicalBlockSize, boolean readOnly,
                           int maxDiscardSectors, int maxDiscardSeg, int maxWriteZeroesSectors, int maxWriteZeroesSeg) {
    /** Checks the invariants above. */
    public DiskGeometry {
        if (logicalBlockSize < VirtioBlk.SECTOR_SIZE || Integer.bitCount(logicalBlockSize) != 1)
            throw new IllegalArgumentException("logical block size " + logicalBlockSize + " is not a power of two >= 512");
        if (physicalBlockSize < logicalBlockSize || Integer.bitCount(physicalBlockSize) != 1)
            throw new IllegalArgumentException("physical block size " + physicalBlockSize + " is not a power of two >= " + logicalBlockSize);
        if (capacityBytes < 0 || capacityBytes % logicalBlockSize != 0)
            throw new IllegalArgumentException("capacity " + capacityBytes + " is not a multiple of " + logicalBlockSize);
        if (maxDiscardSectors < 1 || maxDiscardSeg < 1 || maxWriteZeroesSectors < 1 || maxWriteZeroesSeg < 1)
            throw new IllegalArgumentException("discard and write zeroes limits must be positive");
    }

    /** The capacity in the protocol's 512-byte sectors, the config space's {@code capacity}. */
    public long capacitySectors() {
        return capacityBytes >>> VirtioBlk.SECTOR_SHIFT;
    }

    /** 512-byte sectors per logical block. */
    public int sectorsPerBlock() {
        return logicalBlockSize >>> VirtioBlk.SECTOR_SHIFT;
    }

    /**
     * Whether {@code length} bytes at 512-byte sector {@code sector} (an
     * unsigned guest value) lie inside the disk and on logical-block
     * boundaries. Cannot overflow: the sector is compared before it is scaled.
     */
    public boolean isValidRange(long sector, long length) {
        if (length < 0 || length % logicalBlockSize != 0) return false;
        if (sector % sectorsPerBlock() != 0) return false;
        long cap = capacitySectors();
        if (Long.compareUnsigned(sector, cap) > 0) return false;
        return length <= (cap - sector) << VirtioBlk.SECTOR_SHIFT;
    }
}
