package vmm.vhostuser.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import vmm.core.linux.Native;
import vmm.core.memory.GuestMemory;
import vmm.testing.EchoDevice;
import vmm.vhostuser.protocol.VhostUser;

/**
 * A hostile vhost-user front-end: a stream of messages over a real Unix
 * socket, with any request codes, flags, sizes that may lie, payloads of
 * any content, and file descriptors attached where they are expected and
 * where not (eventfds, and a 64 KiB memfd whose size the memory table may
 * misstate), while the front-end writes its shared memory and kicks rings
 * the back-end is serving. The connection either serves the stream to its
 * end or is cut off with a protocol error; it never hangs, and no host
 * exception (the catch-all for a failed device) ends it.
 */
class VhostUserMessagesFuzzTest {
    private static final int SHUT_WR = 1;
    private static final MethodHandle SHUTDOWN = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("shutdown").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final int[] REQUESTS = {VhostUser.GET_FEATURES, VhostUser.SET_FEATURES, VhostUser.SET_OWNER,
            VhostUser.RESET_OWNER, VhostUser.SET_MEM_TABLE, VhostUser.SET_VRING_NUM, VhostUser.SET_VRING_ADDR,
            VhostUser.SET_VRING_BASE, VhostUser.GET_VRING_BASE, VhostUser.SET_VRING_KICK, VhostUser.SET_VRING_CALL,
            VhostUser.SET_VRING_ERR, VhostUser.GET_PROTOCOL_FEATURES, VhostUser.SET_PROTOCOL_FEATURES,
            VhostUser.GET_QUEUE_NUM, VhostUser.SET_VRING_ENABLE, VhostUser.GET_CONFIG, VhostUser.SET_CONFIG,
            VhostUser.SET_BACKEND_REQ_FD, VhostUser.RESET_DEVICE};
    private static final long PEER_SIZE = 64 << 10;
    private static final GuestMemory PEER = GuestMemory.builder().ram("peer", 0, PEER_SIZE).build();
    private static final Path DIR;
    private static final int LISTENER;

    static {
        try {
            DIR = Files.createTempDirectory("vhost-user-fuzz");
            LISTENER = Native.listenUnix(DIR.resolve("s").toString(), 4);
        } catch (IOException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @AfterAll
    static void release() throws IOException {
        Native.close(LISTENER);
        Files.deleteIfExists(DIR.resolve("s"));
        Files.deleteIfExists(DIR);
        PEER.close();
    }

    @FuzzTest(maxDuration = "5m")
    void anyFrontendMessageStream(FuzzedDataProvider data) throws Throwable {
        PEER.fill(0, PEER_SIZE, (byte) 0);
        ServedDevice served = new ServedDevice("fuzz", Map.of(), "F", EchoDevice.provider('F', 0));
        int client = Native.connectUnix(DIR.resolve("s").toString());
        int server = Native.accept(LISTENER);
        Connection c = new Connection(server, served, "fuzz");
        Thread t = Thread.ofPlatform().name("vhost-user-fuzz").start(c::serve);
        int kick = Native.eventfd(false), call = Native.eventfd(false);
        try {
            while (data.remainingBytes() > 0) {
                switch (data.consumeInt(0, 7)) {
                    case 0 -> { // the front-end's own memory: rings and buffers
                        byte[] b = data.consumeBytes(data.consumeInt(0, 64));
                        PEER.write(data.consumeLong(0, PEER_SIZE - b.length), b, 0, b.length);
                    }
                    case 1 -> Native.signal(kick);
                    default -> {
                        if (!send(client, data, kick, call)) break;
                    }
                }
            }
            int ignored = (int) SHUTDOWN.invokeExact(client, SHUT_WR);
            t.join(TimeUnit.SECONDS.toMillis(20));
            assertThat(t.isAlive()).as("the connection ends when the front-end stops sending").isFalse();
            String failure = c.failure();
            if (failure != null)
                assertThat(failure).as("a protocol error, not a host exception").doesNotMatch("^[a-z][\\w.]*\\.[A-Z]\\w*(Exception|Error)\\b.*");
        } finally {
            c.close();
            t.join();
            Native.close(client);
            Native.close(kick);
            Native.close(call);
            served.stop();
        }
    }

    /** One message; returns false when the back-end has hung up. */
    private static boolean send(int client, FuzzedDataProvider data, int kick, int call) {
        int request = data.consumeInt(0, 15) == 0 ? data.consumeInt() : data.pickValue(REQUESTS);
        int flags = data.consumeInt(0, 15) == 0 ? data.consumeInt() : VhostUser.VERSION
                | (data.consumeBoolean() ? VhostUser.FLAG_NEED_REPLY : 0);
        byte[] payload = payload(request, data);
        int size = data.consumeInt(0, 31) == 0 ? data.consumeInt() : payload.length;
        ByteBuffer m = ByteBuffer.allocate(VhostUser.HEADER_SIZE + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        m.putInt(request).putInt(flags).putInt(size).put(payload);
        int[] fds = switch (data.consumeInt(0, 3)) {
            case 0 -> new int[0];
            case 1 -> new int[] {data.consumeBoolean() ? kick : call};
            case 2 -> new int[] {PEER.regions().get(0).fd()};
            default -> new int[] {kick, PEER.regions().get(0).fd()};
        };
        try {
            Native.sendWithFds(client, m.array(), fds);
            return true;
        } catch (IOException hungUp) {
            return false;
        }
    }

    /** A payload shaped for the request most of the time, raw bytes otherwise. */
    private static byte[] payload(int request, FuzzedDataProvider data) {
        ByteBuffer b = ByteBuffer.allocate(VhostUser.MEM_TABLE_HEADER + 2 * VhostUser.MEM_REGION_SIZE)
                .order(ByteOrder.LITTLE_ENDIAN);
        if (data.consumeInt(0, 7) == 0) return data.consumeBytes(data.consumeInt(0, 300));
        switch (request) {
            case VhostUser.SET_MEM_TABLE -> {
                b.putInt(1).putInt(0);
                b.putLong(data.consumeLong(0, 1L << 32)).putLong(data.consumeBoolean() ? PEER_SIZE : data.consumeLong())
                        .putLong(data.consumeLong(0, 1L << 40)).putLong(data.consumeBoolean() ? 0 : data.consumeLong());
            }
            case VhostUser.SET_VRING_ADDR -> {
                b.putInt(data.consumeInt(0, 2)).putInt(data.consumeInt(0, 1));
                for (int i = 0; i < 4; i++) b.putLong(data.consumeLong(0, PEER_SIZE + 0x1000));
            }
            case VhostUser.SET_VRING_NUM, VhostUser.SET_VRING_BASE, VhostUser.GET_VRING_BASE,
                 VhostUser.SET_VRING_ENABLE -> b.putInt(data.consumeInt(0, 2)).putInt(data.consumeInt(0, 0x10000));
            case VhostUser.GET_CONFIG, VhostUser.SET_CONFIG -> {
                b.putInt(data.consumeInt(0, 300)).putInt(data.consumeInt(0, 300)).putInt(data.consumeInt(0, 1));
                b.put(data.consumeBytes(data.consumeInt(0, 32)));
            }
            default -> b.putLong(data.consumeLong());
        }
        return java.util.Arrays.copyOf(b.array(), b.position());
    }
}
