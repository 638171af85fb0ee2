package vmm.vhostuser.protocol;

/**
 * Constants of the vhost-user protocol (QEMU's docs/interop/vhost-user.rst):
 * message types, header flags, feature and protocol-feature bits, and the
 * sizes of the payloads this backend reads. Messages are little-endian.
 */
public final class VhostUser {
    private VhostUser() {}

    /** Header: u32 request, u32 flags, u32 size; the payload follows. */
    public static final int HEADER_SIZE = 12;
    /** Version 1 in the low two bits of flags; every message carries it. */
    public static final int VERSION = 0x1, VERSION_MASK = 0x3;
    public static final int FLAG_REPLY = 0x4, FLAG_NEED_REPLY = 0x8;
    /** The largest payload accepted: a full memory table or a 256-byte config is far below it. */
    public static final int MAX_PAYLOAD = 4096;
    /** Most config bytes one GET_CONFIG/SET_CONFIG carries. */
    public static final int MAX_CONFIG_SIZE = 256;
    /** Most regions in SET_MEM_TABLE. */
    public static final int MAX_MEM_REGIONS = 8;

    // Front-end requests.
    public static final int GET_FEATURES = 1, SET_FEATURES = 2, SET_OWNER = 3, RESET_OWNER = 4, SET_MEM_TABLE = 5,
            SET_LOG_BASE = 6, SET_LOG_FD = 7, SET_VRING_NUM = 8, SET_VRING_ADDR = 9, SET_VRING_BASE = 10,
            GET_VRING_BASE = 11, SET_VRING_KICK = 12, SET_VRING_CALL = 13, SET_VRING_ERR = 14,
            GET_PROTOCOL_FEATURES = 15, SET_PROTOCOL_FEATURES = 16, GET_QUEUE_NUM = 17, SET_VRING_ENABLE = 18,
            SEND_RARP = 19, NET_SET_MTU = 20, SET_BACKEND_REQ_FD = 21, IOTLB_MSG = 22, SET_VRING_ENDIAN = 23,
            GET_CONFIG = 24, SET_CONFIG = 25, RESET_DEVICE = 34;

    // Back-end requests, sent on the descriptor SET_BACKEND_REQ_FD gave.
    public static final int BACKEND_CONFIG_CHANGE_MSG = 2;

    /** Feature bit: the protocol-feature messages exist and rings start disabled. */
    public static final int F_PROTOCOL_FEATURES = 30;

    // Protocol feature bits.
    public static final int PROTOCOL_F_MQ = 0, PROTOCOL_F_LOG_SHMFD = 1, PROTOCOL_F_REPLY_ACK = 3,
            PROTOCOL_F_BACKEND_REQ = 5, PROTOCOL_F_CONFIG = 9, PROTOCOL_F_RESET_DEVICE = 13;

    /** In SET_VRING_KICK/CALL/ERR's u64: the ring index bits, and the flag saying no descriptor is attached. */
    public static final long VRING_INDEX_MASK = 0xff, VRING_NOFD_MASK = 0x100;

    /** Payload sizes. */
    public static final int U64_SIZE = 8, VRING_STATE_SIZE = 8, VRING_ADDR_SIZE = 40, MEM_REGION_SIZE = 32,
            MEM_TABLE_HEADER = 8, CONFIG_HEADER = 12;

    /** A readable name for a request type, for log lines. */
    public static String name(int request) {
        return switch (request) {
            case GET_FEATURES -> "GET_FEATURES";
            case SET_FEATURES -> "SET_FEATURES";
            case SET_OWNER -> "SET_OWNER";
            case RESET_OWNER -> "RESET_OWNER";
            case SET_MEM_TABLE -> "SET_MEM_TABLE";
            case SET_LOG_BASE -> "SET_LOG_BASE";
            case SET_LOG_FD -> "SET_LOG_FD";
            case SET_VRING_NUM -> "SET_VRING_NUM";
            case SET_VRING_ADDR -> "SET_VRING_ADDR";
            case SET_VRING_BASE -> "SET_VRING_BASE";
            case GET_VRING_BASE -> "GET_VRING_BASE";
            case SET_VRING_KICK -> "SET_VRING_KICK";
            case SET_VRING_CALL -> "SET_VRING_CALL";
            case SET_VRING_ERR -> "SET_VRING_ERR";
            case GET_PROTOCOL_FEATURES -> "GET_PROTOCOL_FEATURES";
            case SET_PROTOCOL_FEATURES -> "SET_PROTOCOL_FEATURES";
            case GET_QUEUE_NUM -> "GET_QUEUE_NUM";
            case SET_VRING_ENABLE -> "SET_VRING_ENABLE";
            case GET_CONFIG -> "GET_CONFIG";
            case SET_CONFIG -> "SET_CONFIG";
            case SET_BACKEND_REQ_FD -> "SET_BACKEND_REQ_FD";
            case RESET_DEVICE -> "RESET_DEVICE";
            default -> "request " + request;
        };
    }
}
