package vmm.vfiouser;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static vmm.vfiouser.VfioUser.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vmm.core.linux.Native;
import vmm.testing.HangGuard;
import vmm.vfiouser.internal.protocol.Channel;
import vmm.vfiouser.internal.protocol.Codec;
import vmm.vfiouser.internal.protocol.Message;

/**
 * Our client against servers that lie, stall or die: each case ends in a
 * clear {@link VfioUserException} (an errno the connection survives, or a
 * lost connection after which every call fails at once), never a hang or
 * an exception of another kind, and the calling VMM goes on.
 */
class HostileServerTest {
    /** A silent server's bound on one reply, what aSilentServerTimesOut is about. */
    private static final Duration SHORT = Duration.ofMillis(300);
    /** Every other wait: a hang guard (the handshake and the answers that do come are never timed). */
    private static final Duration WAIT = HangGuard.BOUND;

    @TempDir
    Path dir;

    /** Answers VERSION as a well-behaved server would. */
    static void handshake(Channel ch) throws Exception {
        Message v = ch.receive(WAIT.toMillis());
        ch.send(Message.reply(v, Codec.encodeVersion(0, 1, new Codec.Capabilities(4, 64, 4096, 8))));
    }

    @Test
    void aVersionReplyWithAnImpossibleHeaderFailsTheConnect() throws Exception {
        try (ScriptedServer s = new ScriptedServer(dir.resolve("s"), ch -> {
            ch.receive(WAIT.toMillis());
            Native.writeFully(ch.fd(), ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putShort((short) 0)
                    .putShort((short) 1).putInt(8).putInt(1).putInt(0).array());
        })) {
            assertThatThrownBy(() -> VfioUserClient.connect(s.socket, WAIT))
                    .isInstanceOfSatisfying(VfioUserException.class, e -> assertThat(e.connectionLost()).isTrue())
                    .hasMessageContaining("smaller than the 16-byte header");
        }
    }

    @Test
    void aServerAnsweringAnotherMajorVersionIsRefused() throws Exception {
        try (ScriptedServer s = new ScriptedServer(dir.resolve("s"), ch -> {
            Message v = ch.receive(WAIT.toMillis());
            ch.send(Message.reply(v, Codec.encodeVersion(1, 0, Codec.Capabilities.defaults())));
        })) {
            assertThatThrownBy(() -> VfioUserClient.connect(s.socket, WAIT)).isInstanceOf(VfioUserException.class)
                    .hasMessageContaining("answered version 1.0");
        }
    }

    @Test
    void aServerThatDiesMidRequestLosesTheConnectionAndLaterCallsFailAtOnce() throws Exception {
        try (ScriptedServer s = new ScriptedServer(dir.resolve("s"), ch -> {
            handshake(ch);
            ch.receive(WAIT.toMillis()); // DEVICE_GET_INFO: no answer, the server "crashes"
        })) {
            VfioUserClient c = VfioUserClient.connect(s.socket, WAIT);
            assertThatThrownBy(c::deviceInfo).isInstanceOfSatisfying(VfioUserException.class, e -> assertThat(e.connectionLost()).isTrue())
                    .hasMessageContaining("closed the connection");
            assertThat(c.isOpen()).isFalse();
            assertThatThrownBy(() -> c.regionRead(7, 0, 4)).isInstanceOf(VfioUserException.class).hasMessageContaining("connection lost");
            c.close();
        }
    }

    @Test
    void aSilentServerTimesOut() throws Exception {
        try (ScriptedServer s = new ScriptedServer(dir.resolve("s"), ch -> {
            handshake(ch);
            ch.receive(WAIT.toMillis());
            ch.receive(WAIT.toMillis()); // holds the socket open without answering until the client gives up and closes
        })) {
            VfioUserClient c = VfioUserClient.connect(s.socket, WAIT, SHORT);
            assertThatThrownBy(c::deviceInfo).isInstanceOf(VfioUserException.class).hasMessageContaining("no reply to DEVICE_GET_INFO within 300 ms");
            assertThat(c.failure()).contains("no reply");
            s.done.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        }
    }

    @Test
    void aClientStuckOnASilentServerHoldsUpNoOtherAndIsWokenByClose() throws Exception {
        java.nio.file.Files.write(dir.resolve("disk.img"), new byte[4096]);
        try (ScriptedServer silent = new ScriptedServer(dir.resolve("s"), ch -> {
                handshake(ch);
                ch.receive(-1); // the request, then nothing: it waits for the client to go
                ch.receive(-1);
            });
             VfioUserServer good = VfioUserServer.start(dir.resolve("good.sock"), "good", java.util.Map.of("path", dir.resolve("disk.img").toString()),
                     "virtio-blk", new device.virtio_block.VirtioBlockProvider())) {
            VfioUserClient stuck = VfioUserClient.connect(silent.socket, WAIT);
            java.util.concurrent.CompletableFuture<Throwable> outcome = new java.util.concurrent.CompletableFuture<>();
            Thread t = Thread.ofPlatform().start(() -> {
                try {
                    stuck.deviceInfo();
                    outcome.complete(null);
                } catch (Throwable e) {
                    outcome.complete(e);
                }
            });
            try (VfioUserClient other = VfioUserClient.connect(good.socket())) {
                assertThat(other.regionRead(VFIO_PCI_CONFIG_REGION_INDEX, 0, 2)).containsExactly(0xf4, 0x1a);
            }
            assertThat(outcome).as("still waiting on the silent server").isNotDone();
            stuck.close();
            assertThat(outcome.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isInstanceOfSatisfying(VfioUserException.class,
                    e -> assertThat(e.connectionLost()).isTrue());
            t.join();
        }
    }

    @Test
    void aReplyWithAnotherIdOrCommandIsFatal() throws Exception {
        try (ScriptedServer s = new ScriptedServer(dir.resolve("s"), ch -> {
            handshake(ch);
            Message m = ch.receive(WAIT.toMillis());
            ch.send(new Message((m.id() + 5) & 0xffff, m.command(), FLAGS_TYPE_REPLY, 0, new byte[16], new int[0]));
        })) {
            VfioUserClient c = VfioUserClient.connect(s.socket, WAIT);
            assertThatThrownBy(c::deviceInfo).isInstanceOf(VfioUserException.class).hasMessageContaining("while waiting for DEVICE_GET_INFO");
            assertThat(c.isOpen()).isFalse();
        }
    }

    @Test
    void aReadReplyOfTheWrongLengthIsFatalAndAnErrorReplyIsNot() throws Exception {
        try (ScriptedServer s = new ScriptedServer(dir.resolve("s"), ch -> {
            handshake(ch);
            Message err = ch.receive(WAIT.toMillis());
            ch.send(Message.errorReply(err, EINVAL));
            Message read = ch.receive(WAIT.toMillis());
            ch.send(Message.reply(read, Codec.encodeRegionAccess(0, 7, 4, new byte[2])));
        })) {
            VfioUserClient c = VfioUserClient.connect(s.socket, WAIT);
            assertThatThrownBy(() -> c.irqInfo(3)).isInstanceOfSatisfying(VfioUserException.class, e -> {
                assertThat(e.errno()).isEqualTo(EINVAL);
                assertThat(e.connectionLost()).isFalse();
            });
            assertThat(c.isOpen()).isTrue();
            assertThatThrownBy(() -> c.regionRead(7, 0, 4)).isInstanceOf(VfioUserException.class).hasMessageContaining("malformed reply");
            assertThat(c.isOpen()).isFalse();
        }
    }

    @Test
    void theServersDmaRequestsAreRefusedAndTheClientsRequestStillCompletes() throws Exception {
        try (ScriptedServer s = new ScriptedServer(dir.resolve("s"), ch -> {
            handshake(ch);
            Message m = ch.receive(WAIT.toMillis());
            ch.send(Message.command(77, VFIO_USER_DMA_READ, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(0).putLong(64).array()));
            Message refusal = ch.receive(WAIT.toMillis());
            if (!refusal.isReply() || !refusal.isError() || refusal.id() != 77 || refusal.error() != ENOTSUP)
                throw new AssertionError("the client did not refuse DMA_READ: " + refusal);
            ch.send(Message.reply(m, Codec.encodeDeviceInfo(new DeviceInfo(VFIO_DEVICE_FLAGS_PCI, 9, 5))));
        })) {
            try (VfioUserClient c = VfioUserClient.connect(s.socket, WAIT)) {
                assertThat(c.deviceInfo().numRegions()).isEqualTo(9);
            }
            s.done.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        }
    }

    @Test
    void readsAndDescriptorsAreSplitByTheServersLimits() throws Exception {
        try (ScriptedServer s = new ScriptedServer(dir.resolve("s"), ch -> {
            handshake(ch); // max_data_xfer_size 64, max_msg_fds 4
            for (int i = 0; i < 3; i++) {
                Message m = ch.receive(WAIT.toMillis());
                Codec.RegionAccess a = Codec.decodeRegionRead(m.payload(), 64);
                ch.send(Message.reply(m, Codec.encodeRegionAccess(a.offset(), a.region(), a.count(), new byte[a.count()])));
            }
            for (int i = 0; i < 2; i++) {
                Message m = ch.receive(WAIT.toMillis());
                Codec.IrqSet set = Codec.decodeIrqSet(m.payload(), m.fds().length);
                Channel.closeAll(m.fds());
                if (set.count() > 4) throw new AssertionError("more than max_msg_fds descriptors");
                ch.send(Message.reply(m, new byte[0]));
            }
        })) {
            try (VfioUserClient c = VfioUserClient.connect(s.socket, WAIT)) {
                assertThat(c.serverMaxDataXferSize()).isEqualTo(64);
                assertThat(c.regionRead(4, 0, 150)).hasSize(150);
                int[] fds = new int[6];
                for (int i = 0; i < fds.length; i++) fds[i] = Native.eventfd(true);
                c.setIrqEventfds(VFIO_PCI_MSIX_IRQ_INDEX, 0, fds);
                for (int fd : fds) Native.close(fd);
            }
            s.done.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        }
    }
}
