package vmm.vhostuser;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vmm.testing.DriverQueue;
import vmm.testing.HangGuard;
import vmm.testing.EchoDevice;
import vmm.vhostuser.protocol.Message;
import vmm.vhostuser.protocol.VhostUser;

/**
 * The back-end against a front-end that follows the vhost-user
 * specification: the device's own code serves the rings, completions call
 * the front-end, configuration reads reach the device, and the device is
 * swapped under a connected front-end without losing a request.
 */
class VhostUserServerTest {
    private static final Duration TIMEOUT = HangGuard.BOUND;

    @TempDir
    Path dir;
    private VhostUserServer server;

    @AfterEach
    void close() {
        if (server != null) server.close();
    }

    private VhostUserServer serveEcho(char tag, long delayMicros) throws Exception {
        server = VhostUserServer.start(dir.resolve("echo.sock"), "echo-test", Map.of(), String.valueOf(tag), EchoDevice.provider(tag, delayMicros));
        return server;
    }

    @Test
    void offersTheDevicesFeaturesWithVersion1AndProtocolFeatures() throws Exception {
        serveEcho('A', 0);
        try (TestFrontend f = new TestFrontend(server.socket(), 4 << 20)) {
            long features = f.getU64(VhostUser.GET_FEATURES);
            assertThat(features & (1L << 32)).as("VERSION_1").isNotZero();
            assertThat(features & (1L << VhostUser.F_PROTOCOL_FEATURES)).isNotZero();
            long protocol = f.getU64(VhostUser.GET_PROTOCOL_FEATURES);
            assertThat(protocol & (1L << VhostUser.PROTOCOL_F_CONFIG)).isNotZero();
            assertThat(protocol & (1L << VhostUser.PROTOCOL_F_REPLY_ACK)).isNotZero();
        }
    }

    @Test
    void servesRequestsOnTheFrontEndsRingsAndCallsOnCompletion() throws Exception {
        serveEcho('A', 0);
        try (TestFrontend f = new TestFrontend(server.socket(), 4 << 20).negotiate(0)) {
            DriverQueue q = f.ring(0, 64);
            for (int i = 0; i < 10; i++) {
                int head = q.add(List.of(request(i)), 8);
                q.kick();
                DriverQueue.Completion c = q.await(TIMEOUT);
                assertThat(c.head()).isEqualTo(head);
                assertThat(c.data()[0]).isEqualTo((byte) 'A');
                assertThat(ByteBuffer.wrap(c.data(), 1, 4).getInt()).isEqualTo(i);
            }
            assertThat(f.calls(0)).as("the call eventfd was signalled").isPositive();
        }
    }

    @Test
    void getConfigReadsTheDevicesConfigurationSpace() throws Exception {
        serveEcho('A', 0);
        try (TestFrontend f = new TestFrontend(server.socket(), 4 << 20).negotiate(0)) {
            byte[] set = ByteBuffer.allocate(VhostUser.CONFIG_HEADER + 4).order(ByteOrder.LITTLE_ENDIAN)
                    .putInt(4).putInt(4).putInt(0).putInt(0xC0FFEE).array();
            f.send(VhostUser.SET_CONFIG, 0, set);
            f.send(VhostUser.GET_CONFIG, 0, ByteBuffer.allocate(VhostUser.CONFIG_HEADER + 8).order(ByteOrder.LITTLE_ENDIAN)
                    .putInt(0).putInt(8).putInt(0).array());
            Message reply = f.receive();
            assertThat(reply.flags()).isEqualTo(VhostUser.VERSION | VhostUser.FLAG_REPLY);
            assertThat(reply.payload()).hasSize(VhostUser.CONFIG_HEADER + 8);
            assertThat(reply.body().getInt(VhostUser.CONFIG_HEADER + 4)).as("scratch register written by SET_CONFIG").isEqualTo(0xC0FFEE);
        }
    }

    @Test
    void aSwapUnderAConnectedFrontEndLosesNoRequest() throws Exception {
        serveEcho('A', 1000);
        try (TestFrontend f = new TestFrontend(server.socket(), 8 << 20).negotiate(0)) {
            DriverQueue q = f.ring(0, 256);
            Map<Integer, Integer> inFlight = new HashMap<>();
            Map<Integer, Byte> done = new HashMap<>();
            int sent = 0;
            for (char next : new char[] {'B', 'A'}) {
                for (int i = 0; i < 40; i++, sent++) inFlight.put(q.add(List.of(request(sent)), 8), sent);
                q.kick();
                server.swapTo(String.valueOf(next), EchoDevice.provider(next, 100));
                for (int i = 0; i < 10; i++, sent++) inFlight.put(q.add(List.of(request(sent)), 8), sent);
                q.kick();
                awaitAll(q, inFlight, done);
            }
            assertThat(done).hasSize(sent);
            assertThat(done.values()).contains((byte) 'A', (byte) 'B');
            assertThat(q.poll()).isNull();
            assertThat(server.swapCount()).isEqualTo(2);
        }
    }

    /**
     * Awaits the completion of every request in {@code inFlight} (head to request number), each once and echoing its
     * number, and records in {@code done} which device tag served it.
     */
    private static void awaitAll(DriverQueue q, Map<Integer, Integer> inFlight, Map<Integer, Byte> done) {
        while (!inFlight.isEmpty()) {
            DriverQueue.Completion c = q.await(TIMEOUT);
            Integer req = inFlight.remove(c.head());
            assertThat(req).isNotNull();
            assertThat(ByteBuffer.wrap(c.data(), 1, 4).getInt()).isEqualTo(req);
            assertThat(done.put(req, c.data()[0])).as("request %d done twice", req).isNull();
        }
    }

    @Test
    void aHeldDeviceKeepsTheFrontEndAndItsRequestsAndTheNextProviderServesThemWithTheSavedState() throws Exception {
        serveEcho('A', 1000);
        try (TestFrontend f = new TestFrontend(server.socket(), 8 << 20).negotiate(0)) {
            DriverQueue q = f.ring(0, 256);
            setScratch(f, 0xC0FFEE);
            assertThat(getScratch(f)).isEqualTo(0xC0FFEE);                 // done before the detach
            Map<Integer, Integer> inFlight = new HashMap<>();
            int sent = 0;
            for (; sent < 30; sent++) inFlight.put(q.add(List.of(request(sent)), 8), sent);
            q.kick();

            server.detach();
            assertThat(server.held()).isTrue();
            assertThat(getScratch(f)).as("config answered from what was saved").isEqualTo(0xC0FFEE);
            setScratch(f, 0xBEEF);                                          // kept for the successor
            assertThat(getScratch(f)).as("reads show the saved config until a successor").isEqualTo(0xC0FFEE);
            for (int i = 0; i < 10; i++, sent++) inFlight.put(q.add(List.of(request(sent)), 8), sent);
            q.kick();                                                       // nobody takes these while held

            server.swapTo("B", EchoDevice.provider('B', 0));
            Map<Integer, Byte> done = new HashMap<>();
            awaitAll(q, inFlight, done);
            for (int r = 30; r < 40; r++)
                assertThat(done.get(r)).as("request %d, offered while held", r).isEqualTo((byte) 'B');
            assertThat(getScratch(f)).as("the write made while held reached the successor").isEqualTo(0xBEEF);
            assertThat(server.held()).isFalse();
            assertThat(server.connections()).isEqualTo(1);
            assertThat(server.lastFailure()).isNull();
            assertThat(server.swapCount()).isEqualTo(1);
        }
    }

    @Test
    void aFrontEndMayConnectToAHeldDeviceAndIsServedOnceAProviderArrives() throws Exception {
        serveEcho('A', 0);
        server.detach();
        try (TestFrontend f = new TestFrontend(server.socket(), 4 << 20).negotiate(0)) {
            DriverQueue q = f.ring(0, 64);
            int head = q.add(List.of(request(7)), 8);
            q.kick();
            server.swapTo("B", EchoDevice.provider('B', 0));
            DriverQueue.Completion c = q.await(TIMEOUT);
            assertThat(c.head()).isEqualTo(head);
            assertThat(c.data()[0]).isEqualTo((byte) 'B');
        }
    }

    @Test
    void aMismatchedSuccessorLeavesTheDeviceHeld() throws Exception {
        serveEcho('A', 0);
        server.detach();
        assertThatThrownBy(() -> server.swapTo("two-queues", ctx -> new EchoDevice((byte) 'X', 0, 2)))
                .hasMessageContaining("queue count 2 != 1");
        assertThat(server.held()).isTrue();
        server.swapTo("A", EchoDevice.provider('A', 0));
        assertThat(server.held()).isFalse();
    }

    private static void setScratch(TestFrontend f, int value) throws Exception {
        f.send(VhostUser.SET_CONFIG, 0, ByteBuffer.allocate(VhostUser.CONFIG_HEADER + 4).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(4).putInt(4).putInt(0).putInt(value).array());
    }

    private static int getScratch(TestFrontend f) throws Exception {
        f.send(VhostUser.GET_CONFIG, 0, ByteBuffer.allocate(VhostUser.CONFIG_HEADER + 8).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(0).putInt(8).putInt(0).array());
        return f.receive().body().getInt(VhostUser.CONFIG_HEADER + 4);
    }

    @Test
    void aSwapToAMismatchedImplementationIsRefusedAndTheOldOneKeepsServing() throws Exception {
        serveEcho('A', 0);
        try (TestFrontend f = new TestFrontend(server.socket(), 4 << 20).negotiate(0)) {
            DriverQueue q = f.ring(0, 64);
            assertThatThrownBy(() -> server.swapTo("two-queues", ctx -> new EchoDevice((byte) 'X', 0, 2)))
                    .hasMessageContaining("queue count 2 != 1");
            q.add(List.of(request(1)), 8);
            q.kick();
            assertThat(q.await(TIMEOUT).data()[0]).isEqualTo((byte) 'A');
        }
    }

    @Test
    void theSocketTakesTheNextFrontEndAfterOneLeavesMidRequest() throws Exception {
        serveEcho('A', 20_000);
        try (TestFrontend f = new TestFrontend(server.socket(), 4 << 20).negotiate(0)) {
            DriverQueue q = f.ring(0, 64);
            for (int i = 0; i < 5; i++) q.add(List.of(request(i)), 8);
            q.kick();
        } // hangs up with requests in flight
        try (TestFrontend g = new TestFrontend(server.socket(), 4 << 20).negotiate(0)) {
            DriverQueue q = g.ring(0, 64);
            q.add(List.of(request(42)), 8);
            q.kick();
            assertThat(ByteBuffer.wrap(q.await(TIMEOUT).data(), 1, 4).getInt()).isEqualTo(42);
        }
        assertThat(server.connections()).isEqualTo(2);
    }

    @Test
    void aStaleSocketFileIsReplacedButAnotherFileIsNot() throws Exception {
        Path file = Files.writeString(dir.resolve("not-a-socket"), "data");
        assertThatThrownBy(() -> VhostUserServer.start(file, "x", Map.of(), "A", EchoDevice.provider('A', 0)))
                .hasMessageContaining("exists and is not a socket");
        assertThat(Files.readString(file)).isEqualTo("data");
        serveEcho('A', 0).close();
        server = null;
        assertThat(dir.resolve("echo.sock")).doesNotExist();
    }

    static byte[] request(int n) {
        return ByteBuffer.allocate(4).putInt(n).array();
    }
}
