package device.virtio_net.protocol;

/**
 * The device-specific configuration space, {@code struct virtio_net_config}
 * of section 5.1.4, as a table: offset and width of each field.
 * Little-endian; fields whose feature was not negotiated read as what the
 * device puts there (the driver ignores them).
 */
public enum NetConfigField {
    MAC(0, 6),
    STATUS(6, 2),
    MAX_VIRTQUEUE_PAIRS(8, 2),
    MTU(10, 2),
    SPEED(12, 4),
    DUPLEX(16, 1),
    RSS_MAX_KEY_SIZE(17, 1),
    RSS_MAX_INDIRECTION_TABLE_LENGTH(18, 2),
    SUPPORTED_HASH_TYPES(20, 4);

    /** Bytes of config space the device exposes: every field of the table. */
    public static final int CONFIG_SIZE = 24;

    public final int offset, width;

    NetConfigField(int offset, int width) {
        this.offset = offset;
        this.width = width;
    }
}
