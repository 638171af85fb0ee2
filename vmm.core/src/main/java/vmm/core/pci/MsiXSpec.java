package vmm.core.pci;

/**
 * Where a function's MSI-X table and pending-bit array live.
 *
 * @param tableSize   number of vectors, 1..2048
 * @param tableBar    BAR holding the table
 * @param tableOffset offset of the table in that BAR, 8-byte aligned
 * @param pbaBar      BAR holding the PBA
 * @param pbaOffset   offset of the PBA, 8-byte aligned
 */
public record MsiXSpec(int tableSize, int tableBar, long tableOffset, int pbaBar, long pbaOffset) {
    public MsiXSpec {
        if (tableSize < 1 || tableSize > 2048) throw new IllegalArgumentException("MSI-X table size must be 1..2048, was " + tableSize);
        if ((tableOffset & 7) != 0 || (pbaOffset & 7) != 0) throw new IllegalArgumentException("MSI-X offsets must be 8-byte aligned");
    }

    /** Bytes of the table: 16 per vector. */
    public long tableLength() {
        return 16L * tableSize;
    }

    /** Bytes of the PBA: one bit per vector, in whole quadwords. */
    public long pbaLength() {
        return ((tableSize + 63) / 64) * 8L;
    }
}
