package vmm.vhostuser;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vmm.testing.DriverQueue;
import vmm.testing.HangGuard;
import vmm.testing.EchoDevice;
import vmm.core.linux.Native;
import vmm.vhostuser.protocol.Message;
import vmm.vhostuser.protocol.VhostUser;

/**
 * A front-end that breaks the protocol loses its connection, with the
 * reason logged and kept, and nothing else: the process, the device and
 * the socket go on, and the next front-end is served.
 */
class HostileFrontendTest {
    private static final Duration TIMEOUT = HangGuard.BOUND;

    @TempDir
    Path dir;
    private VhostUserServer server;

    @BeforeEach
    void serve() throws Exception {
        server = VhostUserServer.start(dir.resolve("h.sock"), "hostile", Map.of(), "A", EchoDevice.provider('A', 0));
    }

    @AfterEach
    void close() {
        server.close();
    }

    private interface Attack {
        void on(TestFrontend f) throws Exception;
    }

    /** Runs the attack, checks the connection was cut for {@code reason}, then checks a well-behaved front-end is served. */
    private void cutOff(Attack attack, String reason) throws Exception {
        try (TestFrontend f = new TestFrontend(server.socket(), 4 << 20)) {
            attack.on(f);
            assertThat(f.hungUp()).as("the back-end closed the connection").isTrue();
        }
        awaitFailure(reason);
        try (TestFrontend g = new TestFrontend(server.socket(), 4 << 20).negotiate(0)) {
            DriverQueue q = g.ring(0, 16);
            q.add(List.of(VhostUserServerTest.request(7)), 8);
            q.kick();
            assertThat(ByteBuffer.wrap(q.await(TIMEOUT).data(), 1, 4).getInt()).isEqualTo(7);
        }
    }

    private void awaitFailure(String reason) throws InterruptedException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (server.lastFailure() == null && System.nanoTime() < deadline) Thread.sleep(5);
        assertThat(server.lastFailure()).contains(reason);
    }

    @Test
    void aMessageWithAWrongVersionIsRefused() throws Exception {
        cutOff(f -> Native.sendWithFds(f.fd, bytes(VhostUser.GET_FEATURES, 0x2, 0)), "bad flags");
    }

    @Test
    void aPayloadLargerThanAnyMessageIsRefused() throws Exception {
        cutOff(f -> Native.sendWithFds(f.fd, bytes(VhostUser.SET_FEATURES, VhostUser.VERSION, 1 << 20)), "exceeds");
    }

    @Test
    void aShortPayloadIsRefused() throws Exception {
        cutOff(f -> f.send(VhostUser.SET_FEATURES, 0, new byte[4]), "expected 8");
    }

    @Test
    void anUnsupportedRequestIsRefused() throws Exception {
        cutOff(f -> f.send(VhostUser.SET_LOG_BASE, 0, new byte[16]), "not supported");
    }

    @Test
    void featuresNotOfferedAreRefused() throws Exception {
        cutOff(f -> f.send(VhostUser.SET_FEATURES, 0, Message.u64(1L << 60)), "not offered");
    }

    @Test
    void aMemoryTableWithFewerDescriptorsThanRegionsIsRefused() throws Exception {
        cutOff(f -> {
            ByteBuffer b = ByteBuffer.allocate(8 + 64).order(ByteOrder.LITTLE_ENDIAN).putInt(2).putInt(0);
            b.putLong(0).putLong(4096).putLong(0x1000_0000L).putLong(0);
            b.putLong(8192).putLong(4096).putLong(0x2000_0000L).putLong(0);
            f.send(VhostUser.SET_MEM_TABLE, 0, b.array(), f.memory.regions().getFirst().fd());
        }, "2 regions but 1 file descriptors");
    }

    @Test
    void overlappingMemoryRegionsAreRefused() throws Exception {
        cutOff(f -> {
            int fd = f.memory.regions().getFirst().fd();
            ByteBuffer b = ByteBuffer.allocate(8 + 64).order(ByteOrder.LITTLE_ENDIAN).putInt(2).putInt(0);
            b.putLong(0).putLong(0x10000).putLong(0x1000_0000L).putLong(0);
            b.putLong(0x8000).putLong(0x10000).putLong(0x2000_0000L).putLong(0);
            f.send(VhostUser.SET_MEM_TABLE, 0, b.array(), fd, fd);
        }, "overlap");
    }

    @Test
    void aRegionWhoseSizeOverflowsIsRefused() throws Exception {
        cutOff(f -> {
            ByteBuffer b = ByteBuffer.allocate(8 + 32).order(ByteOrder.LITTLE_ENDIAN).putInt(1).putInt(0);
            b.putLong(0).putLong(-4096L).putLong(0x1000_0000L).putLong(0);
            f.send(VhostUser.SET_MEM_TABLE, 0, b.array(), f.memory.regions().getFirst().fd());
        }, "out of range");
    }

    @Test
    void aRegionThatReachesPastTheEndOfItsFileIsRefused() throws Exception {
        cutOff(f -> {
            long fileSize = f.memory.regions().getFirst().size();
            ByteBuffer b = ByteBuffer.allocate(8 + 32).order(ByteOrder.LITTLE_ENDIAN).putInt(1).putInt(0);
            b.putLong(0).putLong(fileSize).putLong(0x1000_0000L).putLong(4096);
            f.send(VhostUser.SET_MEM_TABLE, 0, b.array(), f.memory.regions().getFirst().fd());
        }, "shorter than");
    }

    @Test
    void aRingOutsideTheMemoryTableIsRefused() throws Exception {
        cutOff(f -> {
            f.negotiate(0);
            int kick = Native.eventfd(false);
            f.send(VhostUser.SET_VRING_NUM, 0, TestFrontend.state(0, 16));
            ByteBuffer a = ByteBuffer.allocate(VhostUser.VRING_ADDR_SIZE).order(ByteOrder.LITTLE_ENDIAN);
            a.putInt(0).putInt(0).putLong(0x10L).putLong(0x20L).putLong(0x30L).putLong(-1L); // raw GPAs, not front-end addresses
            f.send(VhostUser.SET_VRING_ADDR, 0, a.array());
            f.send(VhostUser.SET_VRING_KICK, 0, Message.u64(0), kick);
            f.send(VhostUser.SET_VRING_ENABLE, 0, TestFrontend.state(0, 1));
            Native.close(kick);
        }, "outside the memory table");
    }

    @Test
    void aQueueSizeThatIsNotAPowerOfTwoIsRefused() throws Exception {
        cutOff(f -> f.send(VhostUser.SET_VRING_NUM, 0, TestFrontend.state(0, 100)), "not a power of two");
    }

    @Test
    void aRingTheDeviceDoesNotHaveIsRefused() throws Exception {
        cutOff(f -> f.send(VhostUser.SET_VRING_NUM, 0, TestFrontend.state(5, 16)), "ring 5 does not exist");
    }

    @Test
    void aDescriptorThatContradictsTheNoFdFlagIsRefused() throws Exception {
        cutOff(f -> {
            int call = Native.eventfd(true);
            f.send(VhostUser.SET_VRING_CALL, 0, Message.u64(VhostUser.VRING_NOFD_MASK), call);
            Native.close(call);
        }, "does not match");
    }

    @Test
    void descriptorsOnAMessageThatTakesNoneAreRefused() throws Exception {
        cutOff(f -> {
            int e = Native.eventfd(true);
            f.send(VhostUser.GET_FEATURES, 0, new byte[0], e);
            Native.close(e);
        }, "unexpected file descriptors");
    }

    @Test
    void aDescriptorLoopStopsTheRingSignalsTheErrorDescriptorAndSparesTheConnection() throws Exception {
        try (TestFrontend f = new TestFrontend(server.socket(), 4 << 20).negotiate(0)) {
            int err = Native.eventfd(true);
            f.send(VhostUser.SET_VRING_ERR, 0, Message.u64(0), err);
            DriverQueue q = f.ring(0, 16);
            q.writeDescriptor(0, 0x20_0000, 16, DriverQueue.VIRTQ_DESC_F_NEXT, 1);
            q.writeDescriptor(1, 0x20_1000, 16, DriverQueue.VIRTQ_DESC_F_NEXT, 0);
            q.publish(0);
            q.kick();
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            long signalled;
            while ((signalled = Native.drain(err)) < 0 && System.nanoTime() < deadline) Thread.sleep(5);
            assertThat(signalled).as("err eventfd").isPositive();
            assertThat(f.getU64(VhostUser.GET_FEATURES)).as("the connection still answers").isNotZero();
            Native.close(err);
        }
    }

    private static byte[] bytes(int request, int flags, int size) {
        return ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(request).putInt(flags).putInt(size).array();
    }
}
