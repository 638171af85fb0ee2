package device.virtio_block.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Any virtio-blk request a driver can build: any header (type, sector),
 * any readable and writable lengths up to the 4 GiB a chain may carry,
 * discard and write-zeroes segment lists of any content, on disks of any
 * size and block size. The parser answers every one with a request that
 * lies inside the disk on block boundaries, a refusal with a status the
 * driver understands, or "unanswerable" when there is no status byte;
 * never an exception.
 */
class RequestParserFuzzTest {
    @FuzzTest(maxDuration = "5m")
    void anyRequestIsCheckedOrRefused(FuzzedDataProvider data) {
        int lbs = 512 << data.consumeInt(0, 3);
        long capacity = data.consumeLong(0, 1L << 40) / lbs * lbs;
        DiskGeometry g = new DiskGeometry(capacity, lbs, lbs << data.consumeInt(0, 2), data.consumeBoolean(),
                data.consumeInt(1, Integer.MAX_VALUE), data.consumeInt(1, 64), data.consumeInt(1, Integer.MAX_VALUE),
                data.consumeInt(1, 64));
        boolean discard = data.consumeBoolean(), writeZeroes = data.consumeBoolean();
        long writable = data.consumeBoolean() ? data.consumeLong(0, 0xffff_ffffL) : data.consumeInt(0, 4097);
        long extra = data.consumeBoolean() ? data.consumeLong(0, 0xffff_ffffL) : 0;
        byte[] bytes = data.consumeRemainingAsBytes();
        long readable = Math.min(0xffff_ffffL, bytes.length + extra);
        RequestParser.Source chain = new RequestParser.Source() {
            @Override public long readableLength() { return readable; }
            @Override public long writableLength() { return writable; }

            @Override
            public int read(long offset, byte[] dst, int off, int len) {
                // A real chain copies what its buffers hold; past the fuzz bytes they hold zeros.
                int n = (int) Math.max(0, Math.min(len, readable - offset));
                for (int i = 0; i < n; i++) {
                    long at = offset + i;
                    dst[off + i] = at < bytes.length ? bytes[(int) at] : 0;
                }
                return n;
            }
        };
        BlkRequest r = new RequestParser(g).parse(chain, discard, writeZeroes);
        assertThat(r).isNotNull();
        switch (r) {
            case BlkRequest.Read read -> inside(g, read.offset(), read.length());
            case BlkRequest.Write write -> {
                assertThat(g.readOnly()).isFalse();
                inside(g, write.offset(), write.length());
            }
            case BlkRequest.Discard d -> d.ranges().forEach(x -> inside(g, x.offset(), x.length()));
            case BlkRequest.WriteZeroes z -> z.ranges().forEach(x -> inside(g, x.offset(), x.length()));
            case BlkRequest.Refused refused -> assertThat(refused.status())
                    .isIn(VirtioBlk.VIRTIO_BLK_S_IOERR, VirtioBlk.VIRTIO_BLK_S_UNSUPP);
            case BlkRequest.Unanswerable u -> assertThat(writable).isZero();
            case BlkRequest.Flush f -> { }
            case BlkRequest.GetId id -> assertThat(writable - 1).isGreaterThanOrEqualTo(VirtioBlk.VIRTIO_BLK_ID_BYTES);
        }
    }

    private static void inside(DiskGeometry g, long offset, long length) {
        assertThat(offset).isBetween(0L, g.capacityBytes());
        assertThat(length).isBetween(0L, g.capacityBytes() - offset);
        assertThat(offset % g.logicalBlockSize()).isZero();
        assertThat(length % g.logicalBlockSize()).isZero();
    }
}
