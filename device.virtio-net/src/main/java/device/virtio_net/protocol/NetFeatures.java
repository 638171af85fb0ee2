package device.virtio_net.protocol;

import static device.virtio_net.protocol.VirtioNetSpec.*;

import vmm.core.virtio.VirtioFeatures;

/**
 * The feature set a virtio-net device offers, computed the same way by
 * every implementation of it so one can be swapped for another: the base
 * set, plus the offloads the back end can carry when the configuration
 * asks for them, plus MQ for more than one queue pair. Pure.
 */
public final class NetFeatures {
    private NetFeatures() {}

    /** What every virtio-net of this project offers (VERSION_1 is the transport's). */
    public static final long BASE = bits(VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, VIRTIO_NET_F_MTU, VIRTIO_NET_F_MRG_RXBUF,
            VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_CTRL_RX, VIRTIO_NET_F_CTRL_MAC_ADDR, VIRTIO_NET_F_GUEST_ANNOUNCE,
            VirtioFeatures.RING_INDIRECT_DESC, VirtioFeatures.RING_EVENT_IDX);

    /** Every offload feature a device may offer when its back end carries it. */
    public static final long OFFLOADS = bits(VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_HOST_TSO4,
            VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_HOST_ECN, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6,
            VIRTIO_NET_F_GUEST_ECN, VIRTIO_NET_F_HOST_USO, VIRTIO_NET_F_GUEST_USO4, VIRTIO_NET_F_GUEST_USO6);

    /**
     * @param offload         whether the configuration asks for offloads
     * @param backendOffloads the offload bits the back end carries
     * @param pairs           queue pairs; MQ is offered for more than one
     */
    public static long offered(boolean offload, long backendOffloads, int pairs) {
        long f = BASE;
        if (offload) f |= consistent(backendOffloads & OFFLOADS);
        if (pairs > 1) f |= bit(VIRTIO_NET_F_MQ);
        return f;
    }

    /** Drops offloads whose prerequisite is missing (section 5.1.3.1), e.g. TSO without checksum offload. */
    static long consistent(long f) {
        if ((f & bit(VIRTIO_NET_F_CSUM)) == 0)
            f &= ~bits(VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_HOST_ECN, VIRTIO_NET_F_HOST_USO);
        if ((f & bit(VIRTIO_NET_F_GUEST_CSUM)) == 0)
            f &= ~bits(VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_ECN, VIRTIO_NET_F_GUEST_USO4, VIRTIO_NET_F_GUEST_USO6);
        if ((f & bits(VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6)) == 0) f &= ~bit(VIRTIO_NET_F_HOST_ECN);
        if ((f & bits(VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6)) == 0) f &= ~bit(VIRTIO_NET_F_GUEST_ECN);
        return f;
    }

    public static long bit(int b) {
        return 1L << b;
    }

    public static long bits(int... bits) {
        long v = 0;
        for (int b : bits) v |= 1L << b;
        return v;
    }
}
