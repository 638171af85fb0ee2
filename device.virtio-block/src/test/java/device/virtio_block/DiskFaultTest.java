package device.virtio_block;

import static device.virtio_block.Requests.header;
import static device.virtio_block.VirtioBlockTest.ALL;
import static device.virtio_block.VirtioBlockTest.SLOT;
import static device.virtio_block.VirtioBlockTest.TIMEOUT;
import static device.virtio_block.VirtioBlockTest.config;
import static device.virtio_block.protocol.VirtioBlk.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static vmm.testing.VmmAssertions.assertThat;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import vmm.testing.DriverQueue;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;
import vmm.testing.VirtioDriver;

/**
 * A disk that fails gives the guest VIRTIO_BLK_S_IOERR for exactly the
 * requests that met a failure, never a success for one, and the device goes
 * on serving: through the device's seam to the host (a real image behind a
 * channel that injects EIO, ENOSPC, short writes and failed flushes), and
 * from a real image on a small file system that fills up.
 */
@ExtendWith(TestMachineExtension.class)
class DiskFaultTest {
    private static final System.Logger LOG = System.getLogger("vmm.virtio-blk.test");
    static final int SECTORS = 256;

    @TempDir Path dir;

    @Test
    void everyRequestThatMeetsAHostFailureIsAnIoErrorAndEveryOtherOneIsRight(TestMachine m) throws IOException {
        Path img = dir.resolve("disk.img");
        Files.write(img, new byte[SECTORS * 512]);
        FaultingChannel channel = new FaultingChannel(
                FileChannel.open(img, StandardOpenOption.READ, StandardOpenOption.WRITE), 14, 0.12);
        m.plug("virtio-blk", SLOT, new VirtioBlockProvider((path, ro) -> channel), "virtio-blk", config(img));
        VirtioDriver d = m.virtio(SLOT).initialize(ALL, 64);
        DriverQueue q = d.queue(0);

        byte[] model = new byte[SECTORS * 512];
        boolean[] known = new boolean[SECTORS]; // false once a failed write may have left part of its data
        Arrays.fill(known, true);
        Random random = new Random(7);
        int ok = 0, errors = 0, readsChecked = 0;
        for (int i = 0; i < 400; i++) {
            int sector = random.nextInt(SECTORS - 8), sectors = 1 + random.nextInt(8), kind = random.nextInt(3);
            int failuresBefore = channel.failures();
            int status;
            byte[] read = null;
            if (kind == 0) {
                byte[] data = new byte[sectors * 512];
                random.nextBytes(data);
                List<byte[]> out = new ArrayList<>();
                out.add(header(VIRTIO_BLK_T_OUT, sector));
                // Two or three guest buffers, so a short write can stop inside any of them.
                int cut = 512 * random.nextInt(sectors + 1);
                out.add(Arrays.copyOfRange(data, 0, cut));
                out.add(Arrays.copyOfRange(data, cut, data.length));
                out.removeIf(b -> b.length == 0);
                q.add(out, 1);
                q.kick();
                status = q.await(TIMEOUT).data()[0];
                boolean failed = channel.failures() > failuresBefore;
                for (int s = sector; s < sector + sectors; s++) known[s] = !failed;
                if (!failed) System.arraycopy(data, 0, model, sector * 512, data.length);
            } else if (kind == 1) {
                q.add(List.of(header(VIRTIO_BLK_T_IN, sector)), sectors * 512, 1);
                q.kick();
                DriverQueue.Completion c = q.await(TIMEOUT);
                status = c.data()[c.length() - 1];
                read = Arrays.copyOf(c.data(), sectors * 512);
            } else {
                q.add(List.of(header(VIRTIO_BLK_T_FLUSH, 0)), 1);
                q.kick();
                status = q.await(TIMEOUT).data()[0];
            }
            boolean failed = channel.failures() > failuresBefore;
            assertThat(status).as("request %d (kind %d) after %s", i, kind, failed ? "a host failure" : "no failure")
                    .isEqualTo(failed ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
            if (failed) errors++;
            else ok++;
            if (read != null && !failed) {
                for (int s = sector; s < sector + sectors; s++)
                    if (known[s]) {
                        int at = (s - sector) * 512;
                        assertThat(Arrays.copyOfRange(read, at, at + 512)).as("sector %d", s)
                                .isEqualTo(Arrays.copyOfRange(model, s * 512, (s + 1) * 512));
                        readsChecked++;
                    }
            }
        }
        assertThat(d).isHealthy();
        byte[] disk = Files.readAllBytes(img);
        for (int s = 0; s < SECTORS; s++)
            if (known[s]) assertThat(Arrays.copyOfRange(disk, s * 512, (s + 1) * 512)).as("sector %d on the image", s)
                    .isEqualTo(Arrays.copyOfRange(model, s * 512, (s + 1) * 512));
        for (FaultingChannel.Fault f : FaultingChannel.Fault.values())
            assertThat(channel.injected(f)).as("%s injected", f).isPositive();
        LOG.log(System.Logger.Level.INFO, "disk faults: {0} injected ({1}), {2} requests failed as IOERR, {3} OK, "
                + "{4} sectors read back and checked", channel.totalInjected(),
                Arrays.stream(FaultingChannel.Fault.values()).map(f -> f + "=" + channel.injected(f)).toList(),
                errors, ok, readsChecked);
    }

    @Test
    void aFileSystemThatFillsUpFailsTheWritesItRefusesAndTheDeviceGoesOn(TestMachine m) throws Exception {
        assumeTrue(isRoot(), "mounting a small tmpfs needs root");
        Path fs = Files.createDirectory(dir.resolve("fs"));
        assumeTrue(run("mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", fs.toString()) == 0,
                "mount -t tmpfs failed (no CAP_SYS_ADMIN here?)");
        try {
            Path img = fs.resolve("disk.img");
            try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
                f.setLength(4 << 20); // sparse: four times what the file system holds
            }
            m.plug("virtio-blk", SLOT, new VirtioBlockProvider(), "virtio-blk", config(img));
            VirtioDriver d = m.virtio(SLOT).initialize(ALL, 64);
            DriverQueue q = d.queue(0);
            int chunk = 64 << 10, chunks = (4 << 20) / chunk, ok = 0, refused = 0;
            boolean[] written = new boolean[chunks];
            for (int i = 0; i < chunks; i++) {
                q.add(List.of(header(VIRTIO_BLK_T_OUT, (long) i * chunk / 512), chunkData(i, chunk)), 1);
                q.kick();
                int status = q.await(TIMEOUT).data()[0];
                assertThat(status).as("chunk %d", i).isIn(VIRTIO_BLK_S_OK, VIRTIO_BLK_S_IOERR);
                written[i] = status == VIRTIO_BLK_S_OK;
                if (written[i]) ok++;
                else refused++;
            }
            assertThat(refused).as("writes refused for want of space").isPositive();
            assertThat(ok).as("writes that fitted").isPositive();
            q.add(List.of(header(VIRTIO_BLK_T_FLUSH, 0)), 1);
            q.kick();
            assertThat((int) q.await(TIMEOUT).data()[0]).isEqualTo(VIRTIO_BLK_S_OK);
            // Every write reported done is on the image, read back through the device and from the file.
            byte[] file = Files.readAllBytes(img);
            for (int i = 0; i < chunks; i++) {
                if (!written[i]) continue;
                q.add(List.of(header(VIRTIO_BLK_T_IN, (long) i * chunk / 512)), chunk, 1);
                q.kick();
                DriverQueue.Completion c = q.await(TIMEOUT);
                assertThat((int) c.data()[chunk]).isEqualTo(VIRTIO_BLK_S_OK);
                assertThat(Arrays.copyOf(c.data(), chunk)).as("chunk %d through the device", i)
                        .isEqualTo(chunkData(i, chunk));
                assertThat(Arrays.copyOfRange(file, i * chunk, (i + 1) * chunk)).as("chunk %d on the image", i)
                        .isEqualTo(chunkData(i, chunk));
            }
            // Still serving: a write over blocks the image already has goes through.
            int first = 0;
            while (!written[first]) first++;
            q.add(List.of(header(VIRTIO_BLK_T_OUT, (long) first * chunk / 512), chunkData(99, chunk)), 1);
            q.kick();
            assertThat((int) q.await(TIMEOUT).data()[0]).isEqualTo(VIRTIO_BLK_S_OK);
            assertThat(d).isHealthy();
            LOG.log(System.Logger.Level.INFO, "full file system: {0} writes of 64 KiB refused "
                    + "(ENOSPC, IOERR to the guest), "
                    + "{1} done and read back", refused, ok);
        } finally {
            run("umount", "-l", fs.toString()); // lazy: the device still holds the image until the machine closes
        }
    }

    private static byte[] chunkData(int seed, int length) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }

    static boolean isRoot() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status")))
            if (line.startsWith("Uid:")) return line.split("\\s+")[2].equals("0");
        return false;
    }

    private static int run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return -1;
        }
        return p.exitValue();
    }
}
