package device.virtio_block;

import static device.virtio_block.Requests.header;
import static device.virtio_block.VirtioBlockTest.ALL;
import static device.virtio_block.VirtioBlockTest.SLOT;
import static device.virtio_block.VirtioBlockTest.TIMEOUT;
import static device.virtio_block.VirtioBlockTest.config;
import static device.virtio_block.protocol.VirtioBlk.*;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyBoolean;
import static org.mockito.ArgumentMatchers.anyLong;
import static org.mockito.Mockito.doThrow;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;
import static vmm.core.virtio.VirtioFeatures.bit;
import static vmm.testing.VmmAssertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.mockito.stubbing.Answer;

import vmm.core.machine.DeviceInstance;
import vmm.testing.DriverQueue;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;
import vmm.testing.VirtioDriver;

/**
 * What the device asks of the host, through its one seam to it (the image's
 * {@link FileChannel}): host errors, when writes are made stable, and how
 * many requests it runs at once.
 */
@ExtendWith(TestMachineExtension.class)
class HostChannelTest {
    @TempDir Path dir;
    Path img;
    FileChannel channel = mock(FileChannel.class);

    /** Consumes the buffer as a successful pread/pwrite would. */
    static final Answer<Integer> ALL_BYTES = inv -> {
        ByteBuffer b = inv.getArgument(0);
        int n = b.remaining();
        b.position(b.limit());
        return n;
    };

    @BeforeEach
    void image() throws IOException {
        img = dir.resolve("disk.img");
        Files.write(img, new byte[512]); // exists for the provider's checks; the mock is what is read
        when(channel.size()).thenReturn(1L << 20);
    }

    VirtioDriver plug(TestMachine m, long features, String... kv) {
        m.plug("virtio-blk", SLOT, new VirtioBlockProvider((path, ro) -> channel), "virtio-blk", config(img, kv));
        return m.virtio(SLOT).initialize(features, 64);
    }

    static int status(DriverQueue q, List<byte[]> out, int... in) {
        q.add(out, in);
        q.kick();
        DriverQueue.Completion c = q.await(TIMEOUT);
        return c.data()[c.length() - 1];
    }

    @Test
    void aHostReadErrorIsAnIoErrorAndTheDeviceGoesOn(TestMachine m) throws IOException {
        when(channel.read(any(ByteBuffer.class), anyLong())).thenThrow(new IOException("EIO")).thenAnswer(ALL_BYTES);
        VirtioDriver d = plug(m, ALL);

        assertThat(status(d.queue(0), List.of(header(VIRTIO_BLK_T_IN, 0)), 512, 1)).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(status(d.queue(0), List.of(header(VIRTIO_BLK_T_IN, 0)), 512, 1)).isEqualTo(VIRTIO_BLK_S_OK);
        assertThat(d).isHealthy();
    }

    @Test
    void aHostWriteOrFlushErrorIsAnIoError(TestMachine m) throws IOException {
        when(channel.write(any(ByteBuffer.class), anyLong())).thenThrow(new IOException("ENOSPC"));
        doThrow(new IOException("EIO")).when(channel).force(anyBoolean());
        VirtioDriver d = plug(m, ALL);

        assertThat(status(d.queue(0), List.of(header(VIRTIO_BLK_T_OUT, 0), new byte[512]), 1)).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(status(d.queue(0), List.of(header(VIRTIO_BLK_T_FLUSH, 0)), 1)).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(d).isHealthy();
    }

    @Test
    void aShrunkenImageIsAnIoErrorNotAShortRead(TestMachine m) throws IOException {
        when(channel.read(any(ByteBuffer.class), anyLong())).thenReturn(-1);
        VirtioDriver d = plug(m, ALL);

        assertThat(status(d.queue(0), List.of(header(VIRTIO_BLK_T_IN, 0)), 512, 1)).isEqualTo(VIRTIO_BLK_S_IOERR);
    }

    @Test
    void flushIsAnFdatasync(TestMachine m) throws IOException {
        VirtioDriver d = plug(m, ALL);

        assertThat(status(d.queue(0), List.of(header(VIRTIO_BLK_T_FLUSH, 0)), 1)).isEqualTo(VIRTIO_BLK_S_OK);

        verify(channel).force(false);
    }

    @Test
    void writesAreStableBeforeCompletingOnlyInWritethroughMode(TestMachine m) throws IOException {
        when(channel.write(any(ByteBuffer.class), anyLong())).thenAnswer(ALL_BYTES);
        VirtioDriver d = plug(m, ALL);
        DriverQueue q = d.queue(0);
        assertThat(d.readConfig(32, 1)).as("writeback after reset").isEqualTo(1);

        status(q, List.of(header(VIRTIO_BLK_T_OUT, 0), new byte[512]), 1);
        verify(channel, never()).force(anyBoolean());

        d.writeConfig(32, 1, 0);
        assertThat(d.readConfig(32, 1)).isZero();
        status(q, List.of(header(VIRTIO_BLK_T_OUT, 0), new byte[512]), 1);
        verify(channel, times(1)).force(false);

        d.writeConfig(32, 1, 1);
        status(q, List.of(header(VIRTIO_BLK_T_OUT, 0), new byte[512]), 1);
        verify(channel, times(1)).force(false);
    }

    @Test
    void theCacheModeIsNotWritableWithoutConfigWceAndADriverThatCannotFlushGetsWritethrough(TestMachine m) throws IOException {
        when(channel.write(any(ByteBuffer.class), anyLong())).thenAnswer(ALL_BYTES);
        VirtioDriver d = plug(m, 0);

        d.writeConfig(32, 1, 0);
        assertThat(d.readConfig(32, 1)).as("ignored without CONFIG_WCE").isEqualTo(1);
        status(d.queue(0), List.of(header(VIRTIO_BLK_T_OUT, 0), new byte[512]), 1);

        verify(channel).force(false);
    }

    @Test
    void configWceWithoutFlushStartsInWritethrough(TestMachine m) {
        VirtioDriver d = plug(m, bit(VIRTIO_BLK_F_CONFIG_WCE));

        assertThat(d.readConfig(32, 1)).isZero();
    }

    @Test
    void wceFalseStartsInWritethroughAndAResetRestoresTheConfiguredMode(TestMachine m) {
        VirtioDriver d = plug(m, ALL, "wce", "false");
        assertThat(d.readConfig(32, 1)).isZero();
        d.writeConfig(32, 1, 1);
        assertThat(d.readConfig(32, 1)).isEqualTo(1);

        d.reset();

        assertThat(d.readConfig(32, 1)).isZero();
    }

    @Test
    void noMoreThanDepthRequestsRunAtOnceAndTheRestAllComplete(TestMachine m) throws Exception {
        AtomicInteger running = new AtomicInteger(), most = new AtomicInteger();
        CountDownLatch twoStarted = new CountDownLatch(2), release = new CountDownLatch(1);
        when(channel.read(any(ByteBuffer.class), anyLong())).thenAnswer(inv -> {
            most.accumulateAndGet(running.incrementAndGet(), Math::max);
            twoStarted.countDown();
            try {
                release.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            } finally {
                running.decrementAndGet();
            }
            return ALL_BYTES.answer(inv);
        });
        DeviceInstance device = m.plug("virtio-blk", SLOT, new VirtioBlockProvider((path, ro) -> channel), "virtio-blk",
                config(img, "depth", "2"));
        DriverQueue q = m.virtio(SLOT).initialize(0, 64).queue(0);
        Map<Integer, Integer> heads = new HashMap<>();
        for (int i = 0; i < 20; i++) heads.put(q.add(List.of(header(VIRTIO_BLK_T_IN, i)), 512, 1), i);
        q.kick();

        assertThat(twoStarted.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).as("two reads started").isTrue();
        assertThat(device.transport().context().queue(0).outstanding()).as("taken from the ring while two are blocked").isEqualTo(2);
        release.countDown();
        for (int i = 0; i < 20; i++) assertThat(heads.remove(q.await(TIMEOUT).head())).isNotNull();

        assertThat(most.get()).isEqualTo(2);
        assertThat(q.poll()).isNull();
    }
}
