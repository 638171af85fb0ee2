package vmm.vhostuser;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import vmm.core.memory.GuestMemory;
import vmm.core.memory.RamRegion;
import vmm.testing.DriverQueue;
import vmm.testing.GuestAllocator;
import vmm.core.linux.Native;
import vmm.vhostuser.protocol.Message;
import vmm.vhostuser.protocol.VhostUser;

/**
 * A vhost-user front-end for tests, doing what QEMU or user-mode Linux do:
 * it owns guest memory (memfd-backed, so its fds can be passed), hands the
 * table and the rings to the back-end, kicks through eventfds and counts
 * calls. Its guest-physical and "user" addresses differ by a fixed offset,
 * so a back-end that confused the two would fail.
 */
final class TestFrontend implements AutoCloseable {
    /** The front-end's virtual address of guest-physical 0. */
    static final long USER_OFFSET = 0x7f00_0000_0000L;

    final GuestMemory memory;
    final GuestAllocator allocator;
    final int fd;
    final List<int[]> rings = new ArrayList<>(); // {kick, call}
    private final List<DriverQueue> queues = new ArrayList<>();

    TestFrontend(Path socket, long ramBytes) throws IOException {
        this(socket, GuestMemory.ofSize(ramBytes));
    }

    /** A front-end over memory the test made (one region from guest-physical 0, such as a memfd it may shrink). */
    TestFrontend(Path socket, GuestMemory memory) throws IOException {
        this.memory = memory;
        allocator = new GuestAllocator(memory, 0x10_0000, memory.regions().getFirst().size());
        fd = Native.connectUnix(socket.toString());
    }

    void send(int request, int flags, byte[] payload, int... fds) throws IOException {
        Native.sendWithFds(fd, Message.request(request, flags, payload), fds);
    }

    /** Reads one reply; null when the back-end hung up. */
    Message receive() throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment header = a.allocate(VhostUser.HEADER_SIZE);
            if (!readFully(header)) return null;
            int size = header.get(ValueLayout.JAVA_INT_UNALIGNED, 8);
            MemorySegment body = a.allocate(Math.max(1, size));
            if (size > 0 && !readFully(body.asSlice(0, size))) return null;
            return new Message(header.get(ValueLayout.JAVA_INT_UNALIGNED, 0), header.get(ValueLayout.JAVA_INT_UNALIGNED, 4),
                    body.asSlice(0, size).toArray(ValueLayout.JAVA_BYTE), new int[0]);
        }
    }

    private boolean readFully(MemorySegment into) throws IOException {
        long got = 0;
        while (got < into.byteSize()) {
            Native.Received r = Native.recvWithFds(fd, into.asSlice(got));
            for (int f : r.fds()) Native.close(f);
            if (r.bytes() == 0) return false;
            got += r.bytes();
        }
        return true;
    }

    long getU64(int request) throws IOException {
        send(request, 0, new byte[0]);
        Message m = receive();
        if (m == null) throw new IOException("back-end hung up on " + VhostUser.name(request));
        return m.body().getLong(0);
    }

    /** The whole set-up a front-end does: features, memory table, then each ring, as user-mode Linux orders it. */
    TestFrontend negotiate(long wantedDeviceFeatures) throws IOException {
        send(VhostUser.SET_OWNER, 0, new byte[0]);
        long offered = getU64(VhostUser.GET_FEATURES);
        long protocol = getU64(VhostUser.GET_PROTOCOL_FEATURES);
        send(VhostUser.SET_PROTOCOL_FEATURES, 0, Message.u64(protocol & ((1L << VhostUser.PROTOCOL_F_REPLY_ACK) | (1L << VhostUser.PROTOCOL_F_CONFIG))));
        long want = (offered & wantedDeviceFeatures) | (1L << 32) | (1L << VhostUser.F_PROTOCOL_FEATURES);
        send(VhostUser.SET_FEATURES, 0, Message.u64(want));
        sendMemTable();
        return this;
    }

    void sendMemTable() throws IOException {
        List<RamRegion> regions = memory.regions();
        ByteBuffer b = ByteBuffer.allocate(VhostUser.MEM_TABLE_HEADER + VhostUser.MEM_REGION_SIZE * regions.size()).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(regions.size()).putInt(0);
        int[] fds = new int[regions.size()];
        for (int i = 0; i < regions.size(); i++) {
            RamRegion r = regions.get(i);
            b.putLong(r.guestBase()).putLong(r.size()).putLong(r.guestBase() + USER_OFFSET).putLong(r.fdOffset());
            fds[i] = r.fd();
        }
        send(VhostUser.SET_MEM_TABLE, 0, b.array(), fds);
    }

    /** Sets up ring {@code index} of {@code size} and starts it (kick, enable). */
    DriverQueue ring(int index, int size) throws IOException {
        int kick = Native.eventfd(false), call = Native.eventfd(true);
        DriverQueue q = DriverQueue.standalone(memory, allocator, index, size, () -> {
            try {
                Native.signal(kick);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        send(VhostUser.SET_VRING_CALL, 0, Message.u64(index), call);
        send(VhostUser.SET_VRING_NUM, 0, state(index, size));
        send(VhostUser.SET_VRING_BASE, 0, state(index, 0));
        ByteBuffer a = ByteBuffer.allocate(VhostUser.VRING_ADDR_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        a.putInt(index).putInt(0).putLong(q.descriptorTableAddress() + USER_OFFSET).putLong(q.usedRingAddress() + USER_OFFSET)
                .putLong(q.availRingAddress() + USER_OFFSET).putLong(-1L);
        send(VhostUser.SET_VRING_ADDR, 0, a.array());
        send(VhostUser.SET_VRING_KICK, 0, Message.u64(index), kick);
        send(VhostUser.SET_VRING_ENABLE, VhostUser.FLAG_NEED_REPLY, state(index, 1));
        Message ack = receive();
        if (ack == null || ack.body().getLong(0) != 0) throw new IOException("SET_VRING_ENABLE was not acknowledged: " + ack);
        rings.add(new int[] {kick, call});
        queues.add(q);
        return q;
    }

    /** Calls signalled on ring {@code index} since the last look (the eventfd counter). */
    long calls(int index) throws IOException {
        long n = Native.drain(rings.get(index)[1]);
        return n < 0 ? 0 : n;
    }

    static byte[] state(int index, int num) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(index).putInt(num).array();
    }

    /** Whether the back-end has closed the connection (reads end of stream). */
    boolean hungUp() throws IOException {
        int r = Native.pollReadable(new int[] {fd}, (int) vmm.testing.HangGuard.BOUND.toMillis());
        if (r < 0) return false;
        try (Arena a = Arena.ofConfined()) {
            return Native.recvWithFds(fd, a.allocate(1)).bytes() == 0;
        }
    }

    @Override
    public void close() {
        Native.close(fd);
        for (int[] r : rings) {
            Native.close(r[0]);
            Native.close(r[1]);
        }
        memory.close();
    }
}
