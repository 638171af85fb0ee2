package device.virtio_block.protocol;

import static device.virtio_block.protocol.VirtioBlk.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import org.junit.jupiter.api.Test;

/** The request rules on their own, without a machine. */
class RequestParserTest {
    static final DiskGeometry DISK = new DiskGeometry(1 << 20, 512, 4096, false, 1 << 22, 4, 1 << 22, 4);

    /** A chain of {@code readable} bytes followed by {@code writable} device-writable bytes. */
    record Chain(byte[] readable, long writableLength) implements RequestParser.Source {
        @Override public long readableLength() { return readable.length; }
        @Override public int read(long offset, byte[] dst, int off, int len) {
            int n = (int) Math.max(0, Math.min(len, readable.length - offset));
            System.arraycopy(readable, (int) offset, dst, off, n);
            return n;
        }
    }

    static byte[] request(int type, long sector, int payload) {
        return ByteBuffer.allocate(16 + payload).order(ByteOrder.LITTLE_ENDIAN).putInt(type).putInt(0).putLong(sector).array();
    }

    static BlkRequest parse(DiskGeometry g, byte[] readable, long writable) {
        return new RequestParser(g).parse(new Chain(readable, writable), true, true);
    }

    @Test
    void aReadCoversTheWritableBytesBeforeTheStatus() {
        assertThat(parse(DISK, request(VIRTIO_BLK_T_IN, 2, 0), 1025)).isEqualTo(new BlkRequest.Read(1024, 1024));
    }

    @Test
    void aWriteCoversTheReadableBytesAfterTheHeader() {
        assertThat(parse(DISK, request(VIRTIO_BLK_T_OUT, 2, 512), 1)).isEqualTo(new BlkRequest.Write(1024, 512));
    }

    @Test
    void theLastSectorIsReachableAndTheOneAfterIsNot() {
        long last = DISK.capacitySectors() - 1;
        assertThat(parse(DISK, request(VIRTIO_BLK_T_IN, last, 0), 513)).isInstanceOf(BlkRequest.Read.class);
        assertThat(statusOf(parse(DISK, request(VIRTIO_BLK_T_IN, last + 1, 0), 513))).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(parse(DISK, request(VIRTIO_BLK_T_IN, DISK.capacitySectors(), 0), 1))
                .as("an empty read at the very end is inside").isInstanceOf(BlkRequest.Read.class);
    }

    @Test
    void sectorsThatOverflowWhenScaledAreRefused() {
        for (long sector : new long[] {-1L, 1L << 55, Long.MIN_VALUE, (-1L >>> 9) + 1})
            assertThat(statusOf(parse(DISK, request(VIRTIO_BLK_T_IN, sector, 0), 513))).as("sector %x", sector).isEqualTo(VIRTIO_BLK_S_IOERR);
    }

    @Test
    void noWritableByteCannotBeAnswered() {
        assertThat(parse(DISK, request(VIRTIO_BLK_T_FLUSH, 0, 0), 0)).isInstanceOf(BlkRequest.Unanswerable.class);
        assertThat(parse(DISK, new byte[3], 0)).isInstanceOf(BlkRequest.Unanswerable.class);
    }

    @Test
    void aReadOnlyDiskRefusesEveryKindOfWrite() {
        DiskGeometry ro = new DiskGeometry(1 << 20, 512, 512, true, 8, 1, 8, 1);
        assertThat(statusOf(parse(ro, request(VIRTIO_BLK_T_OUT, 0, 512), 1))).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(statusOf(parse(ro, request(VIRTIO_BLK_T_DISCARD, 0, 16), 1))).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(parse(ro, request(VIRTIO_BLK_T_FLUSH, 0, 0), 1)).isEqualTo(new BlkRequest.Flush());
    }

    @Test
    void writeZeroesSegmentsKeepTheirUnmapFlag() {
        ByteBuffer b = ByteBuffer.wrap(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 32)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(16, 8).putInt(24, 8).putInt(28, 1).putLong(32, 64).putInt(40, 16).putInt(44, 0);

        assertThat(parse(DISK, b.array(), 1)).isEqualTo(new BlkRequest.WriteZeroes(List.of(
                new BlkRequest.Range(4096, 4096, true), new BlkRequest.Range(32768, 8192, false))));
    }

    @Test
    void aSegmentLongerThanTheLimitIsAnIoError() {
        DiskGeometry g = new DiskGeometry(1 << 20, 512, 512, false, 8, 4, 8, 4);
        ByteBuffer b = ByteBuffer.wrap(request(VIRTIO_BLK_T_DISCARD, 0, 16)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(16, 0).putInt(24, 9);

        assertThat(statusOf(parse(g, b.array(), 1))).isEqualTo(VIRTIO_BLK_S_IOERR);
    }

    @Test
    void aGetIdNeedsTwentyBytesBeforeTheStatus() {
        assertThat(parse(DISK, request(VIRTIO_BLK_T_GET_ID, 0, 0), 21)).isEqualTo(new BlkRequest.GetId());
        assertThat(statusOf(parse(DISK, request(VIRTIO_BLK_T_GET_ID, 0, 0), 20))).isEqualTo(VIRTIO_BLK_S_IOERR);
    }

    /** The status of a refused request, -1 for any other outcome. */
    static int statusOf(BlkRequest r) {
        return r instanceof BlkRequest.Refused f ? f.status() : -1;
    }
}
