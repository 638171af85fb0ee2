package device.virtio_net.protocol;

import static device.virtio_net.protocol.VirtioNetSpec.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * {@code struct virtio_net_hdr} (section 5.1.6) as values: the 12 bytes in
 * front of every frame on both queues, and, unchanged, in front of every
 * frame on a TAP opened with {@code IFF_VNET_HDR} and a header size of 12.
 * A header is always decoded from a host copy, never parsed in place in
 * guest memory, so a guest cannot change it between check and use.
 */
public record NetHeader(int flags, int gsoType, int hdrLen, int gsoSize, int csumStart, int csumOffset, int numBuffers) {
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** A header with no offload: what a device without GUEST_* features puts in front of a received frame. */
    public static final NetHeader PLAIN = new NetHeader(0, VIRTIO_NET_HDR_GSO_NONE, 0, 0, 0, 0, 0);

    /** Decodes the first 12 bytes of {@code s} (which must have them). */
    public static NetHeader decode(MemorySegment s) {
        return new NetHeader(s.get(ValueLayout.JAVA_BYTE, 0) & 0xff, s.get(ValueLayout.JAVA_BYTE, 1) & 0xff,
                u16(s, 2), u16(s, 4), u16(s, 6), u16(s, 8), u16(s, 10));
    }

    public static NetHeader decode(byte[] b) {
        return decode(MemorySegment.ofArray(b));
    }

    private static int u16(MemorySegment s, long off) {
        return s.get(LE16, off) & 0xffff;
    }

    /** Writes the 12 bytes into {@code s} at 0. */
    public void encode(MemorySegment s) {
        s.set(ValueLayout.JAVA_BYTE, 0, (byte) flags);
        s.set(ValueLayout.JAVA_BYTE, 1, (byte) gsoType);
        s.set(LE16, 2, (short) hdrLen);
        s.set(LE16, 4, (short) gsoSize);
        s.set(LE16, 6, (short) csumStart);
        s.set(LE16, 8, (short) csumOffset);
        s.set(LE16, 10, (short) numBuffers);
    }

    public byte[] toBytes() {
        byte[] b = new byte[VIRTIO_NET_HDR_SIZE];
        encode(MemorySegment.ofArray(b));
        return b;
    }

    public NetHeader withNumBuffers(int n) {
        return new NetHeader(flags, gsoType, hdrLen, gsoSize, csumStart, csumOffset, n);
    }

    /** Whether the header asks for segmentation (TSO/USO). */
    public boolean isGso() {
        return (gsoType & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_NONE;
    }

    /**
     * Checks a header the driver put in front of a transmitted frame of
     * {@code frameLength} bytes (the Ethernet frame after the header)
     * against the negotiated features and the MTU. Pure.
     *
     * @return null when the frame may be sent as described, else why it must be dropped
     */
    public String checkTx(long negotiated, int frameLength, int mtu) {
        if (frameLength < ETH_HLEN) return "frame of " + frameLength + " bytes is shorter than an Ethernet header";
        if ((flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0) return "flags 0x" + Integer.toHexString(flags) + " are not for transmission";
        if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0) {
            if (!has(negotiated, VIRTIO_NET_F_CSUM)) return "NEEDS_CSUM without the CSUM feature";
            if (csumStart + csumOffset + 2 > frameLength)
                return "checksum at " + csumStart + "+" + csumOffset + " lies outside the " + frameLength + "-byte frame";
        }
        int base = gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
        boolean ecn = (gsoType & VIRTIO_NET_HDR_GSO_ECN) != 0;
        int needed = switch (base) {
            case VIRTIO_NET_HDR_GSO_NONE -> -1;
            case VIRTIO_NET_HDR_GSO_TCPV4 -> VIRTIO_NET_F_HOST_TSO4;
            case VIRTIO_NET_HDR_GSO_TCPV6 -> VIRTIO_NET_F_HOST_TSO6;
            case VIRTIO_NET_HDR_GSO_UDP_L4 -> VIRTIO_NET_F_HOST_USO;
            case VIRTIO_NET_HDR_GSO_UDP -> VIRTIO_NET_F_HOST_UFO;
            default -> -2;
        };
        if (needed == -2) return "unknown gso_type " + gsoType;
        if (needed == -1) {
            if (ecn) return "GSO_ECN without a segmentation type";
            int max = mtu + ETH_HLEN + VLAN_HLEN;
            if (frameLength > max) return "frame of " + frameLength + " bytes exceeds the MTU frame of " + max;
            return null;
        }
        if (!has(negotiated, needed)) return "gso_type " + gsoType + " was not negotiated";
        if (ecn && !has(negotiated, VIRTIO_NET_F_HOST_ECN)) return "GSO_ECN without HOST_ECN";
        if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) == 0) return "segmentation without NEEDS_CSUM";
        if (gsoSize == 0) return "segmentation with gso_size 0";
        if (hdrLen > frameLength) return "hdr_len " + hdrLen + " exceeds the " + frameLength + "-byte frame";
        if (frameLength > MAX_GSO_FRAME) return "frame of " + frameLength + " bytes exceeds the largest segmentable frame";
        return null;
    }

    private static boolean has(long features, int bit) {
        return (features & (1L << bit)) != 0;
    }
}
