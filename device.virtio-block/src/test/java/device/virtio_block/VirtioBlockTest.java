package device.virtio_block;

import static device.virtio_block.Requests.header;
import static device.virtio_block.Requests.pattern;
import static device.virtio_block.Requests.segments;
import static device.virtio_block.protocol.VirtioBlk.*;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static vmm.core.virtio.VirtioFeatures.bit;
import static vmm.testing.VmmAssertions.assertThat;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import device.virtio_block.protocol.BlkConfigField;
import vmm.core.pci.PciAddress;
import vmm.core.virtio.VirtioFeatures;
import vmm.testing.DriverQueue;
import vmm.testing.HangGuard;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;
import vmm.testing.VirtioDriver;

/** The device as a guest driver sees it, over a real image file. */
@ExtendWith(TestMachineExtension.class)
class VirtioBlockTest {
    static final PciAddress SLOT = PciAddress.slot(4);
    static final Duration TIMEOUT = HangGuard.BOUND;
    /** Accept everything the device offers. */
    static final long ALL = -1L;
    static final int SECTORS = 2048; // 1 MiB

    @TempDir Path dir;

    Path image(int sectors) throws IOException {
        Path p = dir.resolve("disk.img");
        Files.write(p, pattern(0, sectors * 512, 0));
        // Allocate for real: delayed allocation would make block counts move under the tests' feet.
        try (FileChannel c = FileChannel.open(p, StandardOpenOption.WRITE)) {
            c.force(true);
        }
        return p;
    }

    static Map<String, Object> config(Path image, String... kv) {
        Map<String, Object> c = new HashMap<>();
        c.put("path", image.toString());
        for (int i = 0; i < kv.length; i += 2) c.put(kv[i], kv[i + 1]);
        return c;
    }

    static VirtioDriver plug(TestMachine m, Map<String, Object> config, long features, int... queueSizes) {
        m.plug("virtio-blk", SLOT, new VirtioBlockProvider(), "virtio-blk", config);
        return m.virtio(SLOT).initialize(features, queueSizes.length == 0 ? new int[] {256} : queueSizes);
    }

    static byte[] fileBytes(Path p, long offset, int length) throws IOException {
        return Arrays.copyOfRange(Files.readAllBytes(p), (int) offset, (int) offset + length);
    }

    static int status(DriverQueue.Completion c) {
        return c.data()[c.length() - 1];
    }

    static DriverQueue.Completion roundTrip(DriverQueue q, List<byte[]> out, int... in) {
        q.add(out, in);
        q.kick();
        return q.await(TIMEOUT);
    }

    @Test
    void identifiesAsAModernBlockDeviceAndDescribesTheDiskInItsConfigSpace(TestMachine m) throws IOException {
        Path img = image(SECTORS);
        m.plug("virtio-blk", SLOT, new VirtioBlockProvider(), "virtio-blk",
                config(img, "sectorsize", "512/4096", "queue-size", "128", "queues", "3"));
        VirtioDriver d = m.virtio(SLOT);

        assertThat(d.function().vendorId()).isEqualTo(0x1af4);
        assertThat(d.function().deviceId()).isEqualTo(0x1040 + VIRTIO_ID_BLOCK);
        assertThat(d.deviceFeatures()).isEqualTo(bit(VirtioFeatures.VERSION_1) | bit(VirtioFeatures.RING_INDIRECT_DESC)
                | bit(VirtioFeatures.RING_EVENT_IDX) | bit(VIRTIO_BLK_F_SIZE_MAX) | bit(VIRTIO_BLK_F_SEG_MAX)
                | bit(VIRTIO_BLK_F_BLK_SIZE) | bit(VIRTIO_BLK_F_TOPOLOGY) | bit(VIRTIO_BLK_F_FLUSH)
                | bit(VIRTIO_BLK_F_CONFIG_WCE) | bit(VIRTIO_BLK_F_MQ) | bit(VIRTIO_BLK_F_DISCARD)
                | bit(VIRTIO_BLK_F_WRITE_ZEROES));
        assertThat(d.numQueues()).isEqualTo(3);
        assertThat(d.queueMaxSize(0)).isEqualTo(128);
        assertThat(d.deviceConfigLength()).isGreaterThanOrEqualTo(BlkConfigField.CONFIG_SIZE);
        assertThat(d.readConfig(0, 8)).as("capacity").isEqualTo(SECTORS);
        assertThat(d.readConfig(8, 4)).as("size_max").isEqualTo(VirtioBlock.SIZE_MAX_BYTES);
        assertThat(d.readConfig(12, 4)).as("seg_max").isEqualTo(126);
        assertThat(d.readConfig(16, 4)).as("geometry").isZero();
        assertThat(d.readConfig(20, 4)).as("blk_size").isEqualTo(512);
        assertThat(d.readConfig(24, 1)).as("physical_block_exp").isEqualTo(3);
        assertThat(d.readConfig(25, 1)).as("alignment_offset").isZero();
        assertThat(d.readConfig(26, 2)).as("min_io_size").isEqualTo(8);
        assertThat(d.readConfig(28, 4)).as("opt_io_size").isZero();
        assertThat(d.readConfig(32, 1)).as("writeback").isEqualTo(1);
        assertThat(d.readConfig(33, 1)).as("unused0").isZero();
        assertThat(d.readConfig(34, 2)).as("num_queues").isEqualTo(3);
        assertThat(d.readConfig(36, 4)).as("max_discard_sectors").isEqualTo(VirtioBlock.MAX_DISCARD_SECTORS);
        assertThat(d.readConfig(40, 4)).as("max_discard_seg").isEqualTo(VirtioBlock.MAX_DISCARD_SEG);
        assertThat(d.readConfig(44, 4)).as("discard_sector_alignment").isEqualTo(1);
        assertThat(d.readConfig(48, 4)).as("max_write_zeroes_sectors").isEqualTo(VirtioBlock.MAX_WRITE_ZEROES_SECTORS);
        assertThat(d.readConfig(52, 4)).as("max_write_zeroes_seg").isEqualTo(VirtioBlock.MAX_WRITE_ZEROES_SEG);
        assertThat(d.readConfig(56, 1)).as("write_zeroes_may_unmap").isEqualTo(1);
        assertThat(d.readConfig(57, 2)).as("unused1").isZero();
    }

    @Test
    void aLogicalBlockSizeOf4096IsAnnouncedAndACapacityIsRoundedDownToWholeBlocks(TestMachine m) throws IOException {
        Path img = dir.resolve("odd.img");
        Files.write(img, new byte[3 * 4096 + 1000]);
        m.plug("virtio-blk", SLOT, new VirtioBlockProvider(), "virtio-blk", config(img, "sectorsize", "4096"));
        VirtioDriver d = m.virtio(SLOT);

        assertThat(d.readConfig(0, 8)).isEqualTo(3 * 8);
        assertThat(d.readConfig(20, 4)).isEqualTo(4096);
        assertThat(d.readConfig(24, 1)).isZero();
        assertThat(d.readConfig(44, 4)).as("discard alignment in 512-byte sectors").isEqualTo(8);
    }

    @Test
    void readsReturnTheImagesBytesAndInterrupt(TestMachine m) throws IOException {
        Path img = image(SECTORS);
        VirtioDriver d = plug(m, config(img), 0);
        DriverQueue q = d.queue(0);

        int head = q.add(List.of(header(VIRTIO_BLK_T_IN, 10)), 4 * 512, 1);
        q.kick();
        DriverQueue.Completion c = q.await(TIMEOUT);

        assertThat(c).hasHead(head).hasLength(4 * 512 + 1);
        assertThat(Arrays.copyOf(c.data(), 4 * 512)).isEqualTo(fileBytes(img, 10 * 512, 4 * 512));
        assertThat(status(c)).isEqualTo(VIRTIO_BLK_S_OK);
        assertThat(m.interrupts()).receivesMsi(d.msiData(1), 1);
        assertThat(d).isHealthy();
    }

    @Test
    void writesReachTheImageAndReadBack(TestMachine m) throws IOException {
        Path img = image(SECTORS);
        DriverQueue q = plug(m, config(img), ALL).queue(0);
        byte[] data = pattern(0, 3 * 512, 99);

        DriverQueue.Completion w = roundTrip(q, List.of(header(VIRTIO_BLK_T_OUT, 100), data), 1);
        assertThat(w).hasLength(1);
        assertThat(status(w)).isEqualTo(VIRTIO_BLK_S_OK);
        assertThat(fileBytes(img, 100 * 512, data.length)).isEqualTo(data);
        assertThat(fileBytes(img, 99 * 512, 512)).as("the sector before is untouched").isEqualTo(pattern(99 * 512, 512, 0));

        DriverQueue.Completion r = roundTrip(q, List.of(header(VIRTIO_BLK_T_IN, 100)), data.length, 1);
        assertThat(Arrays.copyOf(r.data(), data.length)).isEqualTo(data);
    }

    @Test
    void buffersSplitAcrossManyDescriptorsAreGatheredAndScattered(TestMachine m) throws IOException {
        Path img = image(SECTORS);
        DriverQueue q = plug(m, config(img), ALL).queue(0);
        byte[] h = header(VIRTIO_BLK_T_OUT, 8);
        byte[] data = pattern(0, 1024, 5);
        // Header split in two, data in three odd pieces, the first sharing a buffer with the header's tail.
        byte[] first = new byte[8], second = new byte[8 + 100];
        System.arraycopy(h, 0, first, 0, 8);
        System.arraycopy(h, 8, second, 0, 8);
        System.arraycopy(data, 0, second, 8, 100);
        List<byte[]> out = List.of(first, second, Arrays.copyOfRange(data, 100, 611), Arrays.copyOfRange(data, 611, 1024));

        assertThat(status(roundTrip(q, out, 1))).isEqualTo(VIRTIO_BLK_S_OK);
        assertThat(fileBytes(img, 8 * 512, 1024)).isEqualTo(data);

        // Data and status share the last writable buffer.
        DriverQueue.Completion r = roundTrip(q, List.of(header(VIRTIO_BLK_T_IN, 8)), 7, 500, 518);
        assertThat(r).hasLength(1025);
        assertThat(Arrays.copyOf(r.data(), 1024)).isEqualTo(data);
        assertThat(status(r)).isEqualTo(VIRTIO_BLK_S_OK);
    }

    @Test
    void indirectChainsAreServed(TestMachine m) throws IOException {
        Path img = image(SECTORS);
        DriverQueue q = plug(m, config(img), bit(VirtioFeatures.RING_INDIRECT_DESC)).queue(0);

        q.addIndirect(List.of(header(VIRTIO_BLK_T_IN, 0)), 512, 512, 512, 1);
        q.kick();
        DriverQueue.Completion c = q.await(TIMEOUT);

        assertThat(c).hasLength(1537);
        assertThat(Arrays.copyOf(c.data(), 1536)).isEqualTo(fileBytes(img, 0, 1536));
    }

    @Test
    void flushCompletesWithOk(TestMachine m) throws IOException {
        DriverQueue q = plug(m, config(image(SECTORS)), ALL).queue(0);

        DriverQueue.Completion c = roundTrip(q, List.of(header(VIRTIO_BLK_T_FLUSH, 0)), 1);

        assertThat(c).hasLength(1);
        assertThat(status(c)).isEqualTo(VIRTIO_BLK_S_OK);
    }

    @Test
    void getIdReturnsTheSerialNulPadded(TestMachine m) throws IOException {
        DriverQueue q = plug(m, config(image(SECTORS), "serial", "BHYVE-1234"), ALL).queue(0);

        DriverQueue.Completion c = roundTrip(q, List.of(header(VIRTIO_BLK_T_GET_ID, 0)), 20, 1);

        assertThat(c).hasLength(21);
        assertThat(Arrays.copyOf(c.data(), 20)).isEqualTo(Arrays.copyOf("BHYVE-1234".getBytes(), 20));
        assertThat(status(c)).isEqualTo(VIRTIO_BLK_S_OK);
    }

    @Test
    void aReadOnlyDiskOffersRoAndRefusesWritesWithoutWriting(TestMachine m) throws IOException {
        Path img = image(SECTORS);
        VirtioDriver d = plug(m, config(img, "ro", "true"), ALL);
        DriverQueue q = d.queue(0);
        byte[] before = Files.readAllBytes(img);

        assertThat(d.deviceFeatures() & bit(VIRTIO_BLK_F_RO)).isNotZero();
        assertThat(d.deviceFeatures() & (bit(VIRTIO_BLK_F_DISCARD) | bit(VIRTIO_BLK_F_WRITE_ZEROES))).isZero();
        assertThat(status(roundTrip(q, List.of(header(VIRTIO_BLK_T_OUT, 0), new byte[512]), 1))).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(status(roundTrip(q, List.of(header(VIRTIO_BLK_T_WRITE_ZEROES, 0), segments(new long[] {0, 8, 0})), 1)))
                .isEqualTo(VIRTIO_BLK_S_UNSUPP);
        assertThat(Files.readAllBytes(img)).isEqualTo(before);
        assertThat(status(roundTrip(q, List.of(header(VIRTIO_BLK_T_IN, 0)), 512, 1))).isEqualTo(VIRTIO_BLK_S_OK);
        assertThat(d).isHealthy();
    }

    @Test
    void discardPunchesAHoleThatReadsAsZeroes(TestMachine m) throws Exception {
        Path img = image(SECTORS);
        DriverQueue q = plug(m, config(img), ALL).queue(0);
        long before = allocatedBlocks(img);

        DriverQueue.Completion c = roundTrip(q, List.of(header(VIRTIO_BLK_T_DISCARD, 0),
                segments(new long[] {256, 512, 0}, new long[] {1024, 512, 0})), 1);

        assertThat(status(c)).isEqualTo(VIRTIO_BLK_S_OK);
        assertThat(fileBytes(img, 256 * 512, 512 * 512)).isEqualTo(new byte[512 * 512]);
        assertThat(fileBytes(img, 1024 * 512, 512 * 512)).isEqualTo(new byte[512 * 512]);
        assertThat(fileBytes(img, 0, 256 * 512)).isEqualTo(pattern(0, 256 * 512, 0));
        assertThat(Files.size(img)).as("the image keeps its size").isEqualTo(SECTORS * 512L);
        // 2 x 256 KiB deallocated, in 512-byte stat blocks
        assertThat(allocatedBlocks(img)).isLessThanOrEqualTo(before - 1024);
    }

    @Test
    void writeZeroesZeroesTheRangeAndUnmapsOnlyWhenAsked(TestMachine m) throws Exception {
        Path img = image(SECTORS);
        DriverQueue q = plug(m, config(img), ALL).queue(0);
        long before = allocatedBlocks(img);

        assertThat(status(roundTrip(q, List.of(header(VIRTIO_BLK_T_WRITE_ZEROES, 0), segments(new long[] {0, 256, 0})), 1)))
                .isEqualTo(VIRTIO_BLK_S_OK);
        assertThat(fileBytes(img, 0, 256 * 512)).isEqualTo(new byte[256 * 512]);
        assertThat(allocatedBlocks(img)).as("zeroed without unmap stays allocated").isEqualTo(before);

        assertThat(status(roundTrip(q, List.of(header(VIRTIO_BLK_T_WRITE_ZEROES, 0),
                segments(new long[] {512, 512, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP})), 1))).isEqualTo(VIRTIO_BLK_S_OK);
        assertThat(fileBytes(img, 512 * 512, 512 * 512)).isEqualTo(new byte[512 * 512]);
        assertThat(fileBytes(img, 1024 * 512, 512)).isEqualTo(pattern(1024 * 512, 512, 0));
        assertThat(allocatedBlocks(img)).as("unmap punched a hole").isLessThanOrEqualTo(before - 512);
    }

    @Test
    void withoutDiscardConfiguredWriteZeroesMayNotUnmapAndDiscardIsNotOffered(TestMachine m) throws Exception {
        Path img = image(SECTORS);
        VirtioDriver d = plug(m, config(img, "discard", "false"), ALL);
        long before = allocatedBlocks(img);

        assertThat(d.deviceFeatures() & bit(VIRTIO_BLK_F_DISCARD)).isZero();
        assertThat(d.readConfig(56, 1)).isZero();
        assertThat(status(roundTrip(d.queue(0), List.of(header(VIRTIO_BLK_T_WRITE_ZEROES, 0),
                segments(new long[] {0, 512, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP})), 1))).isEqualTo(VIRTIO_BLK_S_OK);
        assertThat(fileBytes(img, 0, 512 * 512)).isEqualTo(new byte[512 * 512]);
        assertThat(allocatedBlocks(img)).isEqualTo(before);
        assertThat(status(roundTrip(d.queue(0), List.of(header(VIRTIO_BLK_T_DISCARD, 0), segments(new long[] {0, 8, 0})), 1)))
                .isEqualTo(VIRTIO_BLK_S_UNSUPP);
    }

    @Test
    void twoQueuesServeRequestsEachWithItsOwnInterrupt(TestMachine m) throws IOException {
        Path img = image(SECTORS);
        VirtioDriver d = plug(m, config(img, "queues", "2"), ALL, 64, 64);

        DriverQueue.Completion a = roundTrip(d.queue(1), List.of(header(VIRTIO_BLK_T_IN, 4)), 512, 1);
        DriverQueue.Completion b = roundTrip(d.queue(0), List.of(header(VIRTIO_BLK_T_IN, 5)), 512, 1);

        assertThat(Arrays.copyOf(a.data(), 512)).isEqualTo(fileBytes(img, 4 * 512, 512));
        assertThat(Arrays.copyOf(b.data(), 512)).isEqualTo(fileBytes(img, 5 * 512, 512));
        assertThat(m.interrupts()).receivesMsi(d.msiData(2), 1).receivesMsi(d.msiData(1), 1);
    }

    @Test
    void moreRequestsThanTheDepthAreAllServedExactlyOnce(TestMachine m) throws IOException {
        Path img = image(SECTORS);
        DriverQueue q = plug(m, config(img, "depth", "2"), 0).queue(0);
        Map<Integer, Integer> headToSector = new HashMap<>();
        for (int s = 0; s < 80; s++) headToSector.put(q.add(List.of(header(VIRTIO_BLK_T_IN, s)), 512, 1), s);
        q.kick();

        for (int i = 0; i < 80; i++) {
            DriverQueue.Completion c = q.await(TIMEOUT);
            Integer sector = headToSector.remove(c.head());
            assertThat(sector).as("head %d was in flight", c.head()).isNotNull();
            assertThat(Arrays.copyOf(c.data(), 512)).isEqualTo(fileBytes(img, sector * 512L, 512));
        }
        assertThat(q.poll()).isNull();
    }

    @Test
    void aResetDropsTheQueuesAndTheDriverCanStartAgain(TestMachine m) throws IOException {
        Path img = image(SECTORS);
        VirtioDriver d = plug(m, config(img), ALL);
        roundTrip(d.queue(0), List.of(header(VIRTIO_BLK_T_IN, 0)), 512, 1);

        d.reset();
        d.initialize(ALL, 32);

        assertThat(status(roundTrip(d.queue(0), List.of(header(VIRTIO_BLK_T_IN, 1)), 512, 1))).isEqualTo(VIRTIO_BLK_S_OK);
    }

    @Test
    void aMissingImageIsRefusedBeforeTheGuestSeesADevice(TestMachine m) {
        assertThatThrownBy(() -> m.plug("virtio-blk", SLOT, new VirtioBlockProvider(), "virtio-blk",
                config(dir.resolve("nope.img"))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("path=" + dir.resolve("nope.img"))
                .hasMessageContaining("no such file");
        assertThatThrownBy(() -> m.plug("virtio-blk", SLOT, new VirtioBlockProvider(), "virtio-blk", Map.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("path is required");
    }

    @Test
    void anEmptyImageIsRefused(TestMachine m) throws IOException {
        Path img = dir.resolve("empty.img");
        Files.write(img, new byte[100]);
        assertThatThrownBy(() -> m.plug("virtio-blk", SLOT, new VirtioBlockProvider(), "virtio-blk", config(img)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("path=")
                .hasMessageContaining("not one whole 512-byte block");
    }

    /** Blocks allocated to {@code p}, in the 512-byte units of stat(2)'s st_blocks. */
    static long allocatedBlocks(Path p) throws IOException, InterruptedException {
        Process proc = new ProcessBuilder("stat", "-c", "%b", p.toString()).redirectErrorStream(true).start();
        String out = new String(proc.getInputStream().readAllBytes()).trim();
        if (proc.waitFor() != 0) throw new IOException("stat failed: " + out);
        return Long.parseLong(out);
    }
}
