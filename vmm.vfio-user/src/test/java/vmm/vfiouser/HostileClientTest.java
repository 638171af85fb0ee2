package vmm.vfiouser;

import static org.assertj.core.api.Assertions.assertThat;
import static vmm.vfiouser.VfioUser.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import device.virtio_block.VirtioBlockProvider;
import device.virtio_rng.VirtioRngProvider;
import vmm.core.linux.Native;
import vmm.testing.HangGuard;
import vmm.vfiouser.internal.protocol.Channel;
import vmm.vfiouser.internal.protocol.Codec;
import vmm.vfiouser.internal.protocol.Message;

/**
 * The server against clients that send what the specification forbids:
 * a request it can refuse gets an error reply and the connection goes on;
 * a message it cannot follow ends that connection with one log line; in
 * every case the server takes the next client, and another server in the
 * same VMM serves on undisturbed.
 */
class HostileClientTest {
    @TempDir
    Path dir;
    VfioUserServer blk, rng;

    @BeforeEach
    void serve() throws Exception {
        Path image = dir.resolve("disk.img");
        Files.write(image, new byte[8192]);
        blk = VfioUserServer.start(dir.resolve("blk.sock"), "blk", Map.of("path", image.toString()), "virtio-blk", new VirtioBlockProvider());
        rng = VfioUserServer.start(dir.resolve("rng.sock"), "rng", Map.of(), "virtio-rng", new VirtioRngProvider());
    }

    @AfterEach
    void stop() {
        blk.close();
        rng.close();
    }

    /** A raw connection that has done VERSION. */
    private Channel raw() throws Exception {
        Channel ch = new Channel(Native.connectUnix(blk.socket().toString()), 16, 1 << 21);
        ch.send(Message.command(0, VFIO_USER_VERSION, Codec.encodeVersion(0, 1, Codec.Capabilities.defaults())));
        Message r = ch.receive(HangGuard.BOUND.toMillis());
        assertThat(r.isReply() && !r.isError()).isTrue();
        return ch;
    }

    private static byte[] header(int id, int command, long size, int flags) {
        return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putShort((short) id).putShort((short) command)
                .putInt((int) size).putInt(flags).putInt(0).array();
    }

    /** The server hung up on {@code ch} (end of stream), and why it says it did. */
    private String cutOff(Channel ch) throws Exception {
        try {
            assertThat(ch.receive(HangGuard.BOUND.toMillis())).as("the server closed the connection").isNull();
        } catch (java.io.IOException e) {
            // Closed with our unread bytes in its buffer: the kernel resets the connection instead.
            assertThat(e.getMessage()).contains("Connection reset");
        }
        ch.close();
        // The accept loop records the failure after cleanup.
        HangGuard.await(() -> blk.lastFailure() != null && !blk.connected(),
                "the server recorded why it cut the client off");
        return blk.lastFailure();
    }

    /** The next client is served normally, and the other server never noticed. */
    private void stillServing() throws Exception {
        try (VfioUserClient c = VfioUserClient.connect(blk.socket())) {
            assertThat(c.regionRead(VFIO_PCI_CONFIG_REGION_INDEX, 0, 2)).containsExactly(0xf4, 0x1a);
        }
        try (VfioUserClient c = VfioUserClient.connect(rng.socket())) {
            assertThat(c.deviceInfo().isPci()).isTrue();
        }
    }

    @Test
    void aHeaderShorterThanItselfEndsTheConnection() throws Exception {
        Channel ch = raw();
        Native.writeFully(ch.fd(), header(1, VFIO_USER_DEVICE_GET_INFO, 8, 0));
        assertThat(cutOff(ch)).contains("smaller than the 16-byte header");
        stillServing();
    }

    @Test
    void aMessageSizeBeyondTheLimitEndsTheConnectionBeforeAnythingIsAllocated() throws Exception {
        Channel ch = raw();
        Native.writeFully(ch.fd(), header(1, VFIO_USER_REGION_WRITE, 0xffff_fff0L, 0));
        assertThat(cutOff(ch)).contains("exceeds the limit");
        stillServing();
    }

    @Test
    void aClientThatDiesInsideAMessageIsCleanedUp() throws Exception {
        Channel ch = raw();
        Native.writeFully(ch.fd(), header(1, VFIO_USER_REGION_WRITE, 16 + 16 + 4, 0));
        Native.writeFully(ch.fd(), new byte[10]);
        ch.close();
        HangGuard.await(() -> blk.lastFailure() != null && !blk.connected(),
                "the server recorded why it cut the client off");
        assertThat(blk.lastFailure()).contains("the stream ended inside REGION_WRITE");
        stillServing();
    }

    @Test
    void commandsBeforeVersionAreNotServed() throws Exception {
        Channel ch = new Channel(Native.connectUnix(blk.socket().toString()), 16, 1 << 21);
        ch.send(Message.command(1, VFIO_USER_DEVICE_GET_INFO, Codec.encodeDeviceInfoRequest()));
        assertThat(cutOff(ch)).contains("DEVICE_GET_INFO before VERSION");
        stillServing();
    }

    @Test
    void aReplyToARequestNeverSentEndsTheConnection() throws Exception {
        Channel ch = raw();
        ch.send(new Message(42, VFIO_USER_DMA_READ, FLAGS_TYPE_REPLY, 0, new byte[16], new int[0]));
        assertThat(cutOff(ch)).contains("a reply (id 42, DMA_READ) to a request this server never sent");
        stillServing();
    }

    @Test
    void tooManyDescriptorsEndTheConnectionAndAreClosed() throws Exception {
        Channel ch = raw();
        int[] fds = new int[20];
        for (int i = 0; i < fds.length; i++) fds[i] = Native.eventfd(true);
        ch.send(Message.command(1, VFIO_USER_DEVICE_SET_IRQS,
                Codec.encodeIrqSet(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSIX_IRQ_INDEX, 0, 20, new byte[0]), fds));
        for (int fd : fds) Native.close(fd);
        assertThat(cutOff(ch)).contains("more than 16 file descriptors");
        stillServing();
    }

    @Test
    void refusableRequestsGetAnErrnoAndTheConnectionGoesOn() throws Exception {
        try (Channel ch = raw()) {
            assertThat(errno(ch, Message.command(1, 99, new byte[0]))).as("unknown command").isEqualTo(ENOSYS);
            assertThat(errno(ch, Message.command(2, VFIO_USER_VERSION, Codec.encodeVersion(0, 1, Codec.Capabilities.defaults()))))
                    .as("a second VERSION").isEqualTo(EINVAL);
            assertThat(errno(ch, Message.command(3, VFIO_USER_REGION_READ, Codec.encodeRegionAccess(0, 4, 1 << 21, new byte[0]))))
                    .as("count beyond max_data_xfer_size").isEqualTo(EINVAL);
            assertThat(errno(ch, Message.command(4, VFIO_USER_REGION_READ, Codec.encodeRegionAccess(0x3ffe, 4, 4, new byte[0]))))
                    .as("a read across the end of BAR4").isEqualTo(EINVAL);
            assertThat(errno(ch, Message.command(5, VFIO_USER_REGION_READ, Codec.encodeRegionAccess(0, 3, 4, new byte[0]))))
                    .as("BAR3 does not exist").isEqualTo(EINVAL);
            assertThat(errno(ch, Message.command(6, VFIO_USER_REGION_WRITE, Codec.encodeRegionAccess(0, 7, 8, new byte[2]))))
                    .as("count and data differ").isEqualTo(EINVAL);
            assertThat(errno(ch, Message.command(7, VFIO_USER_DEVICE_GET_REGION_INFO, Codec.encodeRegionInfoRequest(-1))))
                    .as("region index").isEqualTo(EINVAL);
            assertThat(errno(ch, Message.command(8, VFIO_USER_DEVICE_GET_IRQ_INFO, Codec.encodeIrqInfoRequest(9))))
                    .as("IRQ index").isEqualTo(EINVAL);
            assertThat(errno(ch, Message.command(9, VFIO_USER_DEVICE_SET_IRQS,
                    Codec.encodeIrqSet(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, VFIO_PCI_MSIX_IRQ_INDEX, 1, 5, new byte[0]))))
                    .as("vectors beyond the table").isEqualTo(EINVAL);
            assertThat(errno(ch, Message.command(10, VFIO_USER_DMA_MAP,
                    Codec.encodeDmaMap(new Codec.DmaMap(3, 0, 0, 4096))))).as("DMA_MAP without an fd").isEqualTo(ENOTSUP);
            int efd = Native.eventfd(true);
            assertThat(errno(ch, Message.command(11, VFIO_USER_DEVICE_GET_INFO, Codec.encodeDeviceInfoRequest(), efd)))
                    .as("a descriptor where none belongs").isEqualTo(EINVAL);
            Native.close(efd);
            int notMemory = Native.eventfd(true);
            assertThat(errno(ch, Message.command(12, VFIO_USER_DMA_MAP,
                    Codec.encodeDmaMap(new Codec.DmaMap(3, 0, 0, 4096)), notMemory))).as("an fd that cannot back 4 KiB").isEqualTo(EINVAL);
            Native.close(notMemory);
            assertThat(errno(ch, Message.command(13, VFIO_USER_DEVICE_RESET, new byte[4]))).isEqualTo(EINVAL);
            // Still in step: a good request is answered.
            ch.send(Message.command(14, VFIO_USER_DEVICE_GET_INFO, Codec.encodeDeviceInfoRequest()));
            Message ok = ch.receive(HangGuard.BOUND.toMillis());
            assertThat(ok.isError()).isFalse();
            assertThat(Codec.decodeDeviceInfo(ok.payload()).numRegions()).isEqualTo(9);
        }
        stillServing();
    }

    private static int errno(Channel ch, Message m) throws Exception {
        ch.send(m);
        Message r = ch.receive(HangGuard.BOUND.toMillis());
        assertThat(r.id()).isEqualTo(m.id());
        assertThat(r.isError()).as("error reply to " + VfioUser.commandName(m.command())).isTrue();
        assertThat(r.payload()).as("an error reply is the header only").isEmpty();
        return r.error();
    }
}
