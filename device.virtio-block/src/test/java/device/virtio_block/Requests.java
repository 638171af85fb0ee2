package device.virtio_block;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Builds the guest side of virtio-blk requests for tests, as a driver lays them out. */
final class Requests {
    private Requests() {}

    static byte[] header(int type, long sector) {
        return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(type).putInt(0).putLong(sector).array();
    }

    static byte[] segments(long[]... segs) {
        ByteBuffer b = ByteBuffer.allocate(16 * segs.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long[] s : segs) b.putLong(s[0]).putInt((int) s[1]).putInt((int) s[2]);
        return b.array();
    }

    /** A recognisable pattern: byte {@code i} of the disk is a function of {@code i} and {@code seed}. */
    static byte[] pattern(long diskOffset, int length, int seed) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            long at = diskOffset + i;
            b[i] = (byte) (at * 31 + (at >>> 9) * 7 + seed + 1);
        }
        return b;
    }
}
