package vmm.core.virtio;

/** Feature bit numbers and status bits from the virtio 1.2 specification (sections 2.1 and 6). */
public final class VirtioFeatures {
    private VirtioFeatures() {}

    public static final int RING_INDIRECT_DESC = 28;
    public static final int RING_EVENT_IDX = 29;
    public static final int VERSION_1 = 32;
    public static final int ACCESS_PLATFORM = 33;
    public static final int RING_PACKED = 34;

    /** Device status bits (section 2.1). */
    public static final int STATUS_ACKNOWLEDGE = 1;
    public static final int STATUS_DRIVER = 2;
    public static final int STATUS_DRIVER_OK = 4;
    public static final int STATUS_FEATURES_OK = 8;
    public static final int STATUS_DEVICE_NEEDS_RESET = 0x40;
    public static final int STATUS_FAILED = 0x80;

    /** The MSI-X "no vector" value of queue_msix_vector and config_msix_vector. */
    public static final int NO_VECTOR = 0xffff;

    public static long bit(int n) {
        return 1L << n;
    }
}
