package device.virtio_block.protocol;

/**
 * Numbers of the virtio block device from the virtio 1.2 specification,
 * section 5.2, under the names the specification (and Linux's
 * {@code virtio_blk.h}) gives them.
 */
public final class VirtioBlk {
    private VirtioBlk() {}

    /** Device ID of a block device, section 5.2.1. */
    public static final int VIRTIO_ID_BLOCK = 2;

    // Feature bits, section 5.2.3.
    public static final int VIRTIO_BLK_F_SIZE_MAX = 1;
    public static final int VIRTIO_BLK_F_SEG_MAX = 2;
    public static final int VIRTIO_BLK_F_GEOMETRY = 4;
    public static final int VIRTIO_BLK_F_RO = 5;
    public static final int VIRTIO_BLK_F_BLK_SIZE = 6;
    public static final int VIRTIO_BLK_F_FLUSH = 9;
    public static final int VIRTIO_BLK_F_TOPOLOGY = 10;
    public static final int VIRTIO_BLK_F_CONFIG_WCE = 11;
    public static final int VIRTIO_BLK_F_MQ = 12;
    public static final int VIRTIO_BLK_F_DISCARD = 13;
    public static final int VIRTIO_BLK_F_WRITE_ZEROES = 14;

    // Request types, section 5.2.6.
    public static final int VIRTIO_BLK_T_IN = 0;
    public static final int VIRTIO_BLK_T_OUT = 1;
    public static final int VIRTIO_BLK_T_FLUSH = 4;
    public static final int VIRTIO_BLK_T_GET_ID = 8;
    public static final int VIRTIO_BLK_T_GET_LIFETIME = 10;
    public static final int VIRTIO_BLK_T_DISCARD = 11;
    public static final int VIRTIO_BLK_T_WRITE_ZEROES = 13;
    public static final int VIRTIO_BLK_T_SECURE_ERASE = 14;

    // Status byte values, section 5.2.6.
    public static final int VIRTIO_BLK_S_OK = 0;
    public static final int VIRTIO_BLK_S_IOERR = 1;
    public static final int VIRTIO_BLK_S_UNSUPP = 2;

    /** Bytes of {@code struct virtio_blk_req}'s header: le32 type, le32 reserved, le64 sector. */
    public static final int REQUEST_HEADER_SIZE = 16;
    /** Bytes of {@code struct virtio_blk_discard_write_zeroes}: le64 sector, le32 num_sectors, le32 flags. */
    public static final int SEGMENT_SIZE = 16;
    /** The {@code unmap} bit of a discard / write zeroes segment's flags. */
    public static final int VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP = 1;
    /** Length of the device ID string a GET_ID request returns (NUL-padded ASCII). */
    public static final int VIRTIO_BLK_ID_BYTES = 20;
    /** The protocol's sector: {@code sector} fields always count 512-byte units, whatever blk_size says. */
    public static final int SECTOR_SIZE = 512;
    public static final int SECTOR_SHIFT = 9;

    /** A readable name for a request type, for messages. */
    public static String typeName(int type) {
        return switch (type) {
            case VIRTIO_BLK_T_IN -> "IN";
            case VIRTIO_BLK_T_OUT -> "OUT";
            case VIRTIO_BLK_T_FLUSH -> "FLUSH";
            case VIRTIO_BLK_T_GET_ID -> "GET_ID";
            case VIRTIO_BLK_T_GET_LIFETIME -> "GET_LIFETIME";
            case VIRTIO_BLK_T_DISCARD -> "DISCARD";
            case VIRTIO_BLK_T_WRITE_ZEROES -> "WRITE_ZEROES";
            case VIRTIO_BLK_T_SECURE_ERASE -> "SECURE_ERASE";
            default -> "type " + Integer.toUnsignedString(type);
        };
    }
}
