package device.virtio_block.protocol;

/**
 * The layout of {@code struct virtio_blk_config} (virtio 1.2 section
 * 5.2.4) as a table: each field's byte offset and size in the
 * device-specific configuration space. All multi-byte fields are
 * little-endian. The secure-erase and zoned fields that follow in later
 * revisions are not part of this device, so the space ends after
 * {@link #UNUSED1}.
 */
public enum BlkConfigField {
    CAPACITY(0, 8),
    SIZE_MAX(8, 4),
    SEG_MAX(12, 4),
    GEOMETRY_CYLINDERS(16, 2),
    GEOMETRY_HEADS(18, 1),
    GEOMETRY_SECTORS(19, 1),
    BLK_SIZE(20, 4),
    TOPOLOGY_PHYSICAL_BLOCK_EXP(24, 1),
    TOPOLOGY_ALIGNMENT_OFFSET(25, 1),
    TOPOLOGY_MIN_IO_SIZE(26, 2),
    TOPOLOGY_OPT_IO_SIZE(28, 4),
    WRITEBACK(32, 1),
    UNUSED0(33, 1),
    NUM_QUEUES(34, 2),
    MAX_DISCARD_SECTORS(36, 4),
    MAX_DISCARD_SEG(40, 4),
    DISCARD_SECTOR_ALIGNMENT(44, 4),
    MAX_WRITE_ZEROES_SECTORS(48, 4),
    MAX_WRITE_ZEROES_SEG(52, 4),
    WRITE_ZEROES_MAY_UNMAP(56, 1),
    UNUSED1(57, 3);

    /** Bytes of the configuration space this device exposes. */
    public static final int CONFIG_SIZE = 60;

    public final int offset;
    public final int size;

    BlkConfigField(int offset, int size) {
        this.offset = offset;
        this.size = size;
    }

    /** Stores {@code value} little-endian into this field of {@code config}. */
    public void put(byte[] config, long value) {
        for (int i = 0; i < size; i++) config[offset + i] = (byte) (value >>> (8 * i));
    }

    /** Reads this field of {@code config}, little-endian, unsigned. */
    public long get(byte[] config) {
        long v = 0;
        for (int i = 0; i < size; i++) v |= (config[offset + i] & 0xffL) << (8 * i);
        return v;
    }
}
