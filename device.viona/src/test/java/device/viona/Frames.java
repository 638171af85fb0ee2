package device.viona;

import java.nio.ByteBuffer;

import device.virtio_net.protocol.MacAddress;
import device.virtio_net.protocol.NetHeader;

/** Ethernet frames and transmit buffers for tests. */
final class Frames {
    static final MacAddress GUEST = MacAddress.parse("52:54:00:12:34:56");
    static final MacAddress HOST = MacAddress.parse("52:54:00:ab:cd:ef");
    /** A local experimental EtherType, so no stack on either side takes these for real traffic. */
    static final int ETHERTYPE = 0x88b5;

    private Frames() {}

    /** A frame of {@code length} bytes to {@code dst} whose payload starts with {@code seq}. */
    static byte[] frame(MacAddress dst, MacAddress src, int seq, int length) {
        ByteBuffer b = ByteBuffer.allocate(Math.max(length, 18));
        b.put(dst.bytes()).put(src.bytes()).putShort((short) ETHERTYPE).putInt(seq);
        for (int i = 18; i < length; i++) b.put(i, (byte) (seq + i));
        return b.array();
    }

    static byte[] toGuest(int seq, int length) {
        return frame(GUEST, HOST, seq, length);
    }

    /** The sequence number of a frame (with or without the 12-byte header in front). */
    static int seq(byte[] frame, boolean withHeader) {
        return ByteBuffer.wrap(frame, (withHeader ? 12 : 0) + 14, 4).getInt();
    }

    /** What a driver puts in a transmit chain: a header, then the frame. */
    static byte[] tx(NetHeader h, byte[] frame) {
        byte[] b = new byte[12 + frame.length];
        System.arraycopy(h.toBytes(), 0, b, 0, 12);
        System.arraycopy(frame, 0, b, 12, frame.length);
        return b;
    }
}
