package device.virtio_net.protocol;

/**
 * Numbers of the virtio network device, virtio 1.2 section 5.1, named as in
 * the specification and Linux's {@code uapi/linux/virtio_net.h}.
 */
public final class VirtioNetSpec {
    private VirtioNetSpec() {}

    /** Device ID of a network card, section 5.1.1. */
    public static final int VIRTIO_ID_NET = 1;

    // Feature bits, section 5.1.3.
    public static final int VIRTIO_NET_F_CSUM = 0;
    public static final int VIRTIO_NET_F_GUEST_CSUM = 1;
    public static final int VIRTIO_NET_F_CTRL_GUEST_OFFLOADS = 2;
    public static final int VIRTIO_NET_F_MTU = 3;
    public static final int VIRTIO_NET_F_MAC = 5;
    public static final int VIRTIO_NET_F_GUEST_TSO4 = 7;
    public static final int VIRTIO_NET_F_GUEST_TSO6 = 8;
    public static final int VIRTIO_NET_F_GUEST_ECN = 9;
    public static final int VIRTIO_NET_F_GUEST_UFO = 10;
    public static final int VIRTIO_NET_F_HOST_TSO4 = 11;
    public static final int VIRTIO_NET_F_HOST_TSO6 = 12;
    public static final int VIRTIO_NET_F_HOST_ECN = 13;
    public static final int VIRTIO_NET_F_HOST_UFO = 14;
    public static final int VIRTIO_NET_F_MRG_RXBUF = 15;
    public static final int VIRTIO_NET_F_STATUS = 16;
    public static final int VIRTIO_NET_F_CTRL_VQ = 17;
    public static final int VIRTIO_NET_F_CTRL_RX = 18;
    public static final int VIRTIO_NET_F_CTRL_VLAN = 19;
    public static final int VIRTIO_NET_F_GUEST_ANNOUNCE = 21;
    public static final int VIRTIO_NET_F_MQ = 22;
    public static final int VIRTIO_NET_F_CTRL_MAC_ADDR = 23;
    public static final int VIRTIO_NET_F_GUEST_USO4 = 54;
    public static final int VIRTIO_NET_F_GUEST_USO6 = 55;
    public static final int VIRTIO_NET_F_HOST_USO = 56;

    // Config status field, section 5.1.4.
    public static final int VIRTIO_NET_S_LINK_UP = 1;
    public static final int VIRTIO_NET_S_ANNOUNCE = 2;

    // struct virtio_net_hdr, section 5.1.6 (with VERSION_1 it always has num_buffers: 12 bytes).
    public static final int VIRTIO_NET_HDR_SIZE = 12;
    public static final int VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
    public static final int VIRTIO_NET_HDR_F_DATA_VALID = 2;
    public static final int VIRTIO_NET_HDR_F_RSC_INFO = 4;
    public static final int VIRTIO_NET_HDR_GSO_NONE = 0;
    public static final int VIRTIO_NET_HDR_GSO_TCPV4 = 1;
    public static final int VIRTIO_NET_HDR_GSO_UDP = 3;
    public static final int VIRTIO_NET_HDR_GSO_TCPV6 = 4;
    public static final int VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
    public static final int VIRTIO_NET_HDR_GSO_ECN = 0x80;

    // Control virtqueue, section 5.1.6.5.
    public static final int VIRTIO_NET_OK = 0;
    public static final int VIRTIO_NET_ERR = 1;
    public static final int VIRTIO_NET_CTRL_RX = 0;
    public static final int VIRTIO_NET_CTRL_RX_PROMISC = 0;
    public static final int VIRTIO_NET_CTRL_RX_ALLMULTI = 1;
    public static final int VIRTIO_NET_CTRL_RX_ALLUNI = 2;
    public static final int VIRTIO_NET_CTRL_RX_NOMULTI = 3;
    public static final int VIRTIO_NET_CTRL_RX_NOUNI = 4;
    public static final int VIRTIO_NET_CTRL_RX_NOBCAST = 5;
    public static final int VIRTIO_NET_CTRL_MAC = 1;
    public static final int VIRTIO_NET_CTRL_MAC_TABLE_SET = 0;
    public static final int VIRTIO_NET_CTRL_MAC_ADDR_SET = 1;
    public static final int VIRTIO_NET_CTRL_VLAN = 2;
    public static final int VIRTIO_NET_CTRL_ANNOUNCE = 3;
    public static final int VIRTIO_NET_CTRL_ANNOUNCE_ACK = 0;
    public static final int VIRTIO_NET_CTRL_MQ = 4;
    public static final int VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET = 0;
    public static final int VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN = 1;
    public static final int VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX = 0x8000;
    public static final int VIRTIO_NET_CTRL_GUEST_OFFLOADS = 5;
    public static final int VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET = 0;

    /** Ethernet header bytes; a frame shorter than this is no frame. */
    public static final int ETH_HLEN = 14;
    /** An 802.1Q tag a guest may add on top of its MTU. */
    public static final int VLAN_HLEN = 4;
    /** The largest frame a TSO/USO send may describe: an IP packet of 64 KiB and its Ethernet header. */
    public static final int MAX_GSO_FRAME = 65535 + ETH_HLEN + VLAN_HLEN;
}
