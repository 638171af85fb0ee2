package device.virtio_vsock.protocol;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * {@code struct virtio_vsock_hdr} (virtio 1.2 section 5.10.6), every field
 * little-endian and packed: src_cid (le64), dst_cid (le64), src_port
 * (le32), dst_port (le32), len (le32), type (le16), op (le16), flags
 * (le32), buf_alloc (le32), fwd_cnt (le32). Unsigned fields are kept
 * widened (u32 in a long, u16 in an int), so any 44 bytes decode and
 * encode back to themselves. Immutable.
 */
public record VsockHeader(long srcCid, long dstCid, long srcPort, long dstPort, long len, int type, int op,
                          long flags, long bufAlloc, long fwdCnt) {
    private static final int SRC_CID = 0, DST_CID = 8, SRC_PORT = 16, DST_PORT = 20, LEN = 24, TYPE = 28, OP = 30,
            FLAGS = 32, BUF_ALLOC = 36, FWD_CNT = 40;
    private static final long U32 = 0xffff_ffffL;

    public VsockHeader {
        if ((srcPort | dstPort | len | flags | bufAlloc | fwdCnt) >>> 32 != 0)
            throw new IllegalArgumentException("a u32 field is out of range");
        if (((type | op) >>> 16) != 0) throw new IllegalArgumentException("type or op is not a u16");
    }

    /**
     * Decodes the first {@link VsockSpec#HEADER_SIZE} bytes of {@code b}.
     *
     * @throws IllegalArgumentException when {@code b} is shorter than a header
     */
    public static VsockHeader decode(byte[] b) {
        if (b.length < VsockSpec.HEADER_SIZE)
            throw new IllegalArgumentException("a header is " + VsockSpec.HEADER_SIZE + " bytes, got " + b.length);
        ByteBuffer x = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        return new VsockHeader(x.getLong(SRC_CID), x.getLong(DST_CID), x.getInt(SRC_PORT) & U32,
                x.getInt(DST_PORT) & U32, x.getInt(LEN) & U32, x.getShort(TYPE) & 0xffff, x.getShort(OP) & 0xffff,
                x.getInt(FLAGS) & U32, x.getInt(BUF_ALLOC) & U32, x.getInt(FWD_CNT) & U32);
    }

    /** The 44 bytes of this header. */
    public byte[] encode() {
        byte[] b = new byte[VsockSpec.HEADER_SIZE];
        ByteBuffer x = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        x.putLong(SRC_CID, srcCid).putLong(DST_CID, dstCid).putInt(SRC_PORT, (int) srcPort)
                .putInt(DST_PORT, (int) dstPort).putInt(LEN, (int) len).putShort(TYPE, (short) type)
                .putShort(OP, (short) op).putInt(FLAGS, (int) flags).putInt(BUF_ALLOC, (int) bufAlloc)
                .putInt(FWD_CNT, (int) fwdCnt);
        return b;
    }

    @Override
    public String toString() {
        return String.format("%s %d:%d -> %d:%d len %d type %d flags %d buf_alloc %d fwd_cnt %d",
                VsockSpec.opName(op), srcCid, srcPort, dstCid, dstPort, len, type, flags, bufAlloc, fwdCnt);
    }
}
