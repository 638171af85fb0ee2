package device.virtio_vsock.protocol;

/**
 * Numbers of the virtio socket device, virtio 1.2 section 5.10: device ID,
 * queues, feature bits, config layout, packet types, operations, shutdown
 * flags and events. Named as in the specification.
 */
public final class VsockSpec {
    private VsockSpec() { }

    /** Device ID of a socket device, section 5.10.1. */
    public static final int VIRTIO_ID_VSOCK = 19;

    /** Virtqueues, section 5.10.2. */
    public static final int RX_QUEUE = 0, TX_QUEUE = 1, EVENT_QUEUE = 2, QUEUE_COUNT = 3;

    /** Feature bits, section 5.10.3: stream sockets (implied when none is negotiated) and seqpacket sockets. */
    public static final int VIRTIO_VSOCK_F_STREAM = 0, VIRTIO_VSOCK_F_SEQPACKET = 1;

    /** Config space, section 5.10.4: {@code le64 guest_cid} at offset 0. */
    public static final int CONFIG_GUEST_CID = 0, CONFIG_SIZE = 8;

    /** Well-known CIDs: the hypervisor (reserved), the host, the first a guest may have. */
    public static final long VMADDR_CID_HYPERVISOR = 0, VMADDR_CID_HOST = 2, FIRST_GUEST_CID = 3;
    /** The largest guest CID: the upper 32 bits of guest_cid are reserved and 0xffffffff is VMADDR_CID_ANY. */
    public static final long MAX_GUEST_CID = 0xffff_fffeL;

    /** Packet types, section 5.10.6. */
    public static final int VIRTIO_VSOCK_TYPE_STREAM = 1, VIRTIO_VSOCK_TYPE_SEQPACKET = 2;

    /** Operations, section 5.10.6. */
    public static final int VIRTIO_VSOCK_OP_INVALID = 0, VIRTIO_VSOCK_OP_REQUEST = 1, VIRTIO_VSOCK_OP_RESPONSE = 2,
            VIRTIO_VSOCK_OP_RST = 3, VIRTIO_VSOCK_OP_SHUTDOWN = 4, VIRTIO_VSOCK_OP_RW = 5,
            VIRTIO_VSOCK_OP_CREDIT_UPDATE = 6, VIRTIO_VSOCK_OP_CREDIT_REQUEST = 7;

    /** Flags of a SHUTDOWN, section 5.10.6.5: the sender will receive no more / send no more. */
    public static final int VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE = 1, VIRTIO_VSOCK_SHUTDOWN_F_SEND = 2;
    public static final int VIRTIO_VSOCK_SHUTDOWN_F_BOTH =
            VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE | VIRTIO_VSOCK_SHUTDOWN_F_SEND;

    /** Event IDs, section 5.10.6.8; an event is {@code le32 id}. */
    public static final int VIRTIO_VSOCK_EVENT_TRANSPORT_RESET = 0, EVENT_SIZE = 4;

    /** Bytes of {@code struct virtio_vsock_hdr}. */
    public static final int HEADER_SIZE = 44;

    /**
     * The largest payload one packet may carry. The specification sets no
     * bound; Linux sends at most 64 KiB (VIRTIO_VSOCK_MAX_PKT_BUF_SIZE), and
     * the bound keeps a hostile len from making the device read 4 GiB.
     */
    public static final int MAX_PAYLOAD = 64 * 1024;

    /** The name of an operation, for logs and refusals. */
    public static String opName(int op) {
        return switch (op) {
            case VIRTIO_VSOCK_OP_INVALID -> "INVALID";
            case VIRTIO_VSOCK_OP_REQUEST -> "REQUEST";
            case VIRTIO_VSOCK_OP_RESPONSE -> "RESPONSE";
            case VIRTIO_VSOCK_OP_RST -> "RST";
            case VIRTIO_VSOCK_OP_SHUTDOWN -> "SHUTDOWN";
            case VIRTIO_VSOCK_OP_RW -> "RW";
            case VIRTIO_VSOCK_OP_CREDIT_UPDATE -> "CREDIT_UPDATE";
            case VIRTIO_VSOCK_OP_CREDIT_REQUEST -> "CREDIT_REQUEST";
            default -> "op " + op;
        };
    }
}
