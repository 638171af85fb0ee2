package device.virtio_block;

import static device.virtio_block.Requests.header;
import static device.virtio_block.Requests.pattern;
import static device.virtio_block.Requests.segments;
import static device.virtio_block.VirtioBlockTest.ALL;
import static device.virtio_block.VirtioBlockTest.TIMEOUT;
import static device.virtio_block.VirtioBlockTest.config;
import static device.virtio_block.VirtioBlockTest.plug;
import static device.virtio_block.protocol.VirtioBlk.*;
import static vmm.testing.VmmAssertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import vmm.testing.DriverQueue;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;
import vmm.testing.VirtioDriver;

/**
 * A driver that breaks the rules of section 5.2.6: each bad request gets an
 * error status when it has a status byte, the disk is not touched, and the
 * device goes on serving; a request with nowhere to put a status breaks the
 * device until the driver resets it.
 */
@ExtendWith(TestMachineExtension.class)
class HostileGuestTest {
    static final int SECTORS = 64;

    @TempDir Path dir;
    Path img;
    VirtioDriver d;
    byte[] original;

    @BeforeEach
    void image() throws IOException {
        img = dir.resolve("disk.img");
        original = pattern(0, SECTORS * 512, 0);
        Files.write(img, original);
    }

    int status(TestMachine m, List<byte[]> out, int... in) {
        DriverQueue q = d.queue(0);
        q.add(out, in);
        q.kick();
        DriverQueue.Completion c = q.await(TIMEOUT);
        int writable = java.util.Arrays.stream(in).sum();
        assertThat(c.length()).as("every writable byte is reported written").isEqualTo(writable);
        for (int i = 0; i < writable - 1; i++) assertThat(c.data()[i]).as("byte %d before the status", i).isZero();
        return c.data()[writable - 1];
    }

    /** After each hostile request: the disk is as it was, and a good request still works. */
    void stillServes(TestMachine m) throws IOException {
        assertThat(Files.readAllBytes(img)).isEqualTo(original);
        assertThat(status(m, List.of(header(VIRTIO_BLK_T_OUT, 0), original.clone()), 1)).isZero();
        assertThat(d).isHealthy();
    }

    @Test
    void aHeaderShorterThan16BytesIsAnIoError(TestMachine m) throws IOException {
        d = plug(m, config(img), ALL);
        assertThat(status(m, List.of(new byte[15]), 1)).isEqualTo(VIRTIO_BLK_S_IOERR);
        stillServes(m);
    }

    @Test
    void aRequestWithNoWritableStatusByteBreaksTheDeviceUntilReset(TestMachine m) throws IOException {
        d = plug(m, config(img), ALL);
        d.queue(0).add(List.of(header(VIRTIO_BLK_T_OUT, 0), new byte[512]));
        d.queue(0).kick();

        for (int i = 0; i < 1000 && !d.needsReset(); i++) Thread.onSpinWait();
        // the interrupt that tells the driver is the config vector's
        assertThat(m.interrupts()).receivesMsi(d.msiData(0), 1);
        assertThat(d).needsReset();
        assertThat(Files.readAllBytes(img)).as("nothing written for a request that cannot be answered").isEqualTo(original);

        d.initialize(ALL, 64);
        stillServes(m);
    }

    @Test
    void aSectorPastTheEndIsAnIoError(TestMachine m) throws IOException {
        d = plug(m, config(img), ALL);
        assertThat(status(m, List.of(header(VIRTIO_BLK_T_IN, SECTORS)), 512, 1)).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(status(m, List.of(header(VIRTIO_BLK_T_IN, SECTORS - 1)), 1024, 1)).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(status(m, List.of(header(VIRTIO_BLK_T_OUT, SECTORS - 1), new byte[1024]), 1)).isEqualTo(VIRTIO_BLK_S_IOERR);
        stillServes(m);
    }

    @Test
    void aSectorWhoseByteOffsetOverflowsIsAnIoError(TestMachine m) throws IOException {
        d = plug(m, config(img), ALL);
        // sector * 512 wraps to 0 on 64 bits; sector * 512 + len wraps past 2^64
        assertThat(status(m, List.of(header(VIRTIO_BLK_T_OUT, 1L << 55), new byte[512]), 1)).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(status(m, List.of(header(VIRTIO_BLK_T_IN, -1L)), 512, 1)).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(status(m, List.of(header(VIRTIO_BLK_T_DISCARD, 0), segments(new long[] {-8L, 8, 0})), 1))
                .isEqualTo(VIRTIO_BLK_S_IOERR);
        stillServes(m);
    }

    @Test
    void aLengthThatIsNotWholeSectorsIsAnIoError(TestMachine m) throws IOException {
        d = plug(m, config(img), ALL);
        assertThat(status(m, List.of(header(VIRTIO_BLK_T_OUT, 0), new byte[513]), 1)).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(status(m, List.of(header(VIRTIO_BLK_T_IN, 0)), 100, 1)).isEqualTo(VIRTIO_BLK_S_IOERR);
        stillServes(m);
    }

    @Test
    void withA4096ByteBlockAMisalignedSectorIsAnIoError(TestMachine m) throws IOException {
        d = plug(m, config(img, "sectorsize", "4096"), ALL);
        assertThat(status(m, List.of(header(VIRTIO_BLK_T_OUT, 1), new byte[4096]), 1)).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(status(m, List.of(header(VIRTIO_BLK_T_OUT, 0), new byte[512]), 1)).isEqualTo(VIRTIO_BLK_S_IOERR);
        stillServes(m);
    }

    @Test
    void discardSegmentsBeyondTheLimitOrOutOfRangeOrFlaggedUnmapAreRefused(TestMachine m) throws IOException {
        d = plug(m, config(img), ALL);
        long[][] tooMany = new long[MAX_SEG + 1][];
        for (int i = 0; i < tooMany.length; i++) tooMany[i] = new long[] {i, 1, 0};

        assertThat(status(m, List.of(header(VIRTIO_BLK_T_DISCARD, 0), segments(tooMany)), 1)).isEqualTo(VIRTIO_BLK_S_UNSUPP);
        assertThat(status(m, List.of(header(VIRTIO_BLK_T_DISCARD, 0), segments(new long[] {SECTORS - 4, 8, 0})), 1))
                .isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(status(m, List.of(header(VIRTIO_BLK_T_DISCARD, 0), segments(new long[] {0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP})), 1))
                .isEqualTo(VIRTIO_BLK_S_UNSUPP);
        assertThat(status(m, List.of(header(VIRTIO_BLK_T_WRITE_ZEROES, 0), segments(new long[] {0, 8, 4})), 1))
                .as("unknown flag").isEqualTo(VIRTIO_BLK_S_UNSUPP);
        assertThat(status(m, List.of(header(VIRTIO_BLK_T_DISCARD, 0), new byte[20]), 1))
                .as("a payload that is not whole segments").isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(status(m, List.of(header(VIRTIO_BLK_T_DISCARD, 0)), 1)).as("no segment").isEqualTo(VIRTIO_BLK_S_IOERR);
        stillServes(m);
    }

    @Test
    void discardAndWriteZeroesThatWereNotNegotiatedAreUnsupported(TestMachine m) throws IOException {
        d = plug(m, config(img), 0);
        assertThat(status(m, List.of(header(VIRTIO_BLK_T_DISCARD, 0), segments(new long[] {0, 8, 0})), 1)).isEqualTo(VIRTIO_BLK_S_UNSUPP);
        assertThat(status(m, List.of(header(VIRTIO_BLK_T_WRITE_ZEROES, 0), segments(new long[] {0, 8, 0})), 1)).isEqualTo(VIRTIO_BLK_S_UNSUPP);
        stillServes(m);
    }

    @Test
    void aGetIdBufferShorterThan20BytesIsAnIoError(TestMachine m) throws IOException {
        d = plug(m, config(img, "serial", "S"), ALL);
        assertThat(status(m, List.of(header(VIRTIO_BLK_T_GET_ID, 0)), 10, 1)).isEqualTo(VIRTIO_BLK_S_IOERR);
        stillServes(m);
    }

    @Test
    void unknownRequestTypesAreUnsupported(TestMachine m) throws IOException {
        d = plug(m, config(img), ALL);
        for (int type : new int[] {2, VIRTIO_BLK_T_GET_LIFETIME, VIRTIO_BLK_T_SECURE_ERASE, 99, -1})
            assertThat(status(m, List.of(header(type, 0)), 512, 1)).as("type %d", type).isEqualTo(VIRTIO_BLK_S_UNSUPP);
        stillServes(m);
    }

    static final int MAX_SEG = VirtioBlock.MAX_DISCARD_SEG;
}
