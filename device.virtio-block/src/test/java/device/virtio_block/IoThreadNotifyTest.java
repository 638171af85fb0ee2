package device.virtio_block;

import static device.virtio_block.HostChannelTest.ALL_BYTES;
import static device.virtio_block.Requests.header;
import static device.virtio_block.VirtioBlockTest.ALL;
import static device.virtio_block.VirtioBlockTest.SLOT;
import static device.virtio_block.VirtioBlockTest.TIMEOUT;
import static device.virtio_block.VirtioBlockTest.config;
import static device.virtio_block.protocol.VirtioBlk.*;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyLong;
import static org.mockito.Mockito.inOrder;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;
import static vmm.testing.VmmAssertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.mockito.InOrder;

import vmm.core.machine.DeviceInstance;
import vmm.core.virtio.VirtioDevice;
import vmm.testing.DriverQueue;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;

/**
 * Notifies on a transport's I/O thread ({@link VirtioDevice#queueNotifyOnIoThread}, what
 * vhost-user's kick thread calls): a lone request is served on that thread, with the same
 * statuses and durability as through the dispatcher, and a guest that keeps offering cannot
 * keep the thread.
 */
@ExtendWith(TestMachineExtension.class)
class IoThreadNotifyTest {
    @TempDir Path dir;
    Path img;
    FileChannel channel = mock(FileChannel.class);

    @BeforeEach
    void image() throws Exception {
        img = dir.resolve("disk.img");
        Files.write(img, new byte[512]);
        when(channel.size()).thenReturn(1L << 20);
    }

    record Plugged(VirtioDevice model, DriverQueue queue) {}

    Plugged plug(TestMachine m, String... kv) throws Exception {
        DeviceInstance device = m.plug("virtio-blk", SLOT, new VirtioBlockProvider((path, ro) -> channel), "virtio-blk", config(img, kv));
        DriverQueue q = m.virtio(SLOT).initialize(ALL, 64).queue(0);
        VirtioBlock model = (VirtioBlock) device.model();
        // The transport notified the queue at activation: let that dispatcher pump finish first.
        model.awaitDispatcher();
        return new Plugged(model, q);
    }

    static int status(DriverQueue.Completion c) {
        return c.data()[c.length() - 1];
    }

    @Test
    void aLoneRequestIsServedOnTheNotifyingThreadAndCompletedBeforeTheNotifyReturns(TestMachine m) throws Exception {
        List<Thread> servedOn = new ArrayList<>();
        when(channel.read(any(ByteBuffer.class), anyLong())).thenAnswer(inv -> {
            servedOn.add(Thread.currentThread());
            return ALL_BYTES.answer(inv);
        });
        Plugged p = plug(m);

        p.queue().add(List.of(header(VIRTIO_BLK_T_IN, 0)), 512, 1);
        p.model().queueNotifyOnIoThread(0);

        DriverQueue.Completion c = p.queue().poll();
        assertThat(c).as("completed before the notify returned").isNotNull();
        assertThat(status(c)).isEqualTo(VIRTIO_BLK_S_OK);
        assertThat(servedOn).containsExactly(Thread.currentThread());
    }

    @Test
    void inWritethroughModeAWriteServedOnTheIoThreadIsStableBeforeItCompletes(TestMachine m) throws Exception {
        when(channel.write(any(ByteBuffer.class), anyLong())).thenAnswer(ALL_BYTES);
        Plugged p = plug(m, "wce", "false");

        p.queue().add(List.of(header(VIRTIO_BLK_T_OUT, 0), new byte[512]), 1);
        p.model().queueNotifyOnIoThread(0);

        DriverQueue.Completion c = p.queue().poll();
        assertThat(c).isNotNull();
        assertThat(status(c)).isEqualTo(VIRTIO_BLK_S_OK);
        InOrder order = inOrder(channel);
        order.verify(channel).write(any(ByteBuffer.class), anyLong());
        order.verify(channel).force(false);
    }

    @Test
    void aHostErrorOnTheIoThreadIsAnIoErrorAndTheNextRequestSucceeds(TestMachine m) throws Exception {
        when(channel.write(any(ByteBuffer.class), anyLong())).thenThrow(new IOException("ENOSPC")).thenAnswer(ALL_BYTES);
        Plugged p = plug(m);

        p.queue().add(List.of(header(VIRTIO_BLK_T_OUT, 0), new byte[512]), 1);
        p.model().queueNotifyOnIoThread(0);
        DriverQueue.Completion failed = p.queue().poll();
        p.queue().add(List.of(header(VIRTIO_BLK_T_OUT, 0), new byte[512]), 1);
        p.model().queueNotifyOnIoThread(0);
        DriverQueue.Completion ok = p.queue().poll();

        assertThat(failed).isNotNull();
        assertThat(status(failed)).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(ok).isNotNull();
        assertThat(status(ok)).isEqualTo(VIRTIO_BLK_S_OK);
    }

    @Test
    void aGuestThatKeepsOfferingGetsAtMostDepthRequestsOnTheIoThreadAndTheDispatcherTakesTheRest(TestMachine m) throws Exception {
        Thread io = Thread.currentThread();
        AtomicInteger onIo = new AtomicInteger();
        DriverQueue[] queue = new DriverQueue[1];
        Set<Integer> heads = new HashSet<>();
        // Each request served on the I/O thread offers the next one, as a guest that never lets the queue drain.
        when(channel.read(any(ByteBuffer.class), anyLong())).thenAnswer(inv -> {
            if (Thread.currentThread() == io && onIo.incrementAndGet() < 100)
                heads.add(queue[0].add(List.of(header(VIRTIO_BLK_T_IN, 0)), 512, 1));
            return ALL_BYTES.answer(inv);
        });
        Plugged p = plug(m, "depth", "4");
        queue[0] = p.queue();

        heads.add(p.queue().add(List.of(header(VIRTIO_BLK_T_IN, 0)), 512, 1));
        p.model().queueNotifyOnIoThread(0);

        assertThat(onIo.get()).as("requests served on the I/O thread by one notify").isEqualTo(4);
        assertThat(heads).hasSize(5);
        for (int i = 0; i < 5; i++) {
            DriverQueue.Completion c = p.queue().await(TIMEOUT);
            assertThat(heads.remove(c.head())).isTrue();
            assertThat(status(c)).isEqualTo(VIRTIO_BLK_S_OK);
        }
        assertThat(p.queue().poll()).isNull();
    }
}
