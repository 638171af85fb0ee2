package vmm.vhostuser.internal;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import vmm.core.memory.GuestMemory;
import vmm.core.virtio.VirtQueue;
import vmm.core.virtio.VirtioContext;
import vmm.core.virtio.VirtioDevice;
import vmm.core.virtio.VirtioFeatures;
import vmm.core.virtio.VirtqueueException;
import vmm.core.linux.Native;
import vmm.core.linux.PeerMemoryFault;
import vmm.vhostuser.protocol.Message;
import vmm.vhostuser.protocol.ProtocolException;
import vmm.vhostuser.protocol.VhostUser;

/**
 * One front-end connected to a served device: reads its messages on the
 * calling thread and answers them; runs one kick thread per started ring
 * that turns kicks into {@link VirtioDevice#queueNotifyOnIoThread} (the device may serve them on
 * it); signals the call
 * descriptor when a queue interrupts. A protocol violation ends the
 * connection with one log line; the device is then reset for the next
 * front-end. Nothing the front-end sends reaches the device unchecked: ring
 * addresses are translated through its memory table and every chain is
 * walked by the core's {@link VirtQueue}.
 */
public final class Connection implements VirtioContext {
    private static final System.Logger LOG = System.getLogger("vmm.vhost-user");

    private final int fd;
    private final ServedDevice served;
    private final String name;
    private final Ring[] rings;
    private final long offeredFeatures;
    private final long offeredProtocolFeatures;
    private volatile long ackedFeatures;
    private long protocolFeatures;
    private boolean protocolFeaturesAcked;
    private volatile FrontendMemory memory;
    /** Where back-end requests go (config changes), or -1. */
    private int backendFd = -1;
    private volatile boolean activated;
    private volatile boolean closed;
    private volatile String failure;

    /** Per-ring state, as the front-end set it up. */
    private final class Ring {
        final int index;
        int num;
        long descUva = -1, availUva, usedUva;
        int base;
        int kickFd = -1, callFd = -1, errFd = -1;
        boolean enabled;
        volatile VirtQueue queue;
        Thread kicker;
        int stopFd = -1;

        Ring(int index) {
            this.index = index;
        }

        boolean ready() {
            return kickFd >= 0 && num > 0 && descUva >= 0 && memory != null;
        }
    }

    public Connection(int fd, ServedDevice served, String name) {
        this.fd = fd;
        this.served = served;
        this.name = name;
        // The shape every model of the device has: a front-end may connect while the device is held.
        this.rings = new Ring[served.queueCount()];
        for (int i = 0; i < rings.length; i++) rings[i] = new Ring(i);
        this.offeredFeatures = served.deviceFeatures() | VirtioFeatures.bit(VirtioFeatures.VERSION_1)
                | VirtioFeatures.bit(VhostUser.F_PROTOCOL_FEATURES);
        // BACKEND_REQ carries config-change notices; user-mode Linux also needs it to set up its ring interrupts.
        this.offeredProtocolFeatures = (1L << VhostUser.PROTOCOL_F_REPLY_ACK) | (1L << VhostUser.PROTOCOL_F_CONFIG)
                | (1L << VhostUser.PROTOCOL_F_BACKEND_REQ)
                | (1L << VhostUser.PROTOCOL_F_RESET_DEVICE) | (rings.length > 1 ? 1L << VhostUser.PROTOCOL_F_MQ : 0);
    }

    /** Serves messages until the front-end hangs up, breaks the protocol, or {@link #close()} is called. */
    public void serve() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment header = arena.allocate(VhostUser.HEADER_SIZE);
            MemorySegment body = arena.allocate(VhostUser.MAX_PAYLOAD);
            while (!closed) {
                Message m = receive(header, body);
                if (m == null) {
                    LOG.log(Level.INFO, "{0}: front-end disconnected", name);
                    break;
                }
                handle(m);
            }
        } catch (ProtocolException e) {
            failure = e.getMessage();
            LOG.log(Level.WARNING, "{0}: closing the connection: {1}", name, e.getMessage());
        } catch (IOException e) {
            if (!closed) {
                failure = e.getMessage();
                LOG.log(Level.WARNING, "{0}: connection failed: {1}", name, e.getMessage());
            }
        } catch (InternalError e) {
            if (!PeerMemoryFault.is(e)) throw e;
            memoryFault();
        } catch (RuntimeException e) {
            // A device that failed, or a swap that held the gate too long: this connection ends, the socket goes on.
            failure = String.valueOf(e);
            LOG.log(Level.ERROR, name + ": closing the connection after a device failure", e);
        } finally {
            teardown();
        }
    }

    /** The reason the connection ended early, or null. */
    public String failure() {
        return failure;
    }

    /** Ends the connection from another thread; {@link #serve()} returns soon after. */
    public void close() {
        closed = true;
        Native.shutdown(fd);
    }

    // --- Wire ---------------------------------------------------------------------

    private Message receive(MemorySegment header, MemorySegment body) throws IOException, ProtocolException {
        int[] fds = new int[0];
        long got = 0;
        while (got < VhostUser.HEADER_SIZE) {
            Native.Received r = Native.recvWithFds(fd, header.asSlice(got));
            if (r.fds().length > 0) fds = concat(fds, r.fds());
            if (r.bytes() == 0) {
                closeAll(fds);
                if (got == 0) return null;
                throw new ProtocolException("front-end hung up inside a message header");
            }
            got += r.bytes();
        }
        int request = header.get(ValueLayout.JAVA_INT_UNALIGNED, 0);
        int flags = header.get(ValueLayout.JAVA_INT_UNALIGNED, 4);
        int size = header.get(ValueLayout.JAVA_INT_UNALIGNED, 8);
        if ((flags & VhostUser.VERSION_MASK) != VhostUser.VERSION || (flags & VhostUser.FLAG_REPLY) != 0) {
            closeAll(fds);
            throw new ProtocolException(String.format("%s: bad flags 0x%x (version 1 and no REPLY bit expected)", VhostUser.name(request), flags));
        }
        if (size < 0 || size > VhostUser.MAX_PAYLOAD) {
            closeAll(fds);
            throw new ProtocolException(VhostUser.name(request) + ": payload size " + Integer.toUnsignedString(size) + " exceeds " + VhostUser.MAX_PAYLOAD);
        }
        got = 0;
        while (got < size) {
            Native.Received r = Native.recvWithFds(fd, body.asSlice(got, size - got));
            if (r.fds().length > 0) fds = concat(fds, r.fds());
            if (r.bytes() == 0) {
                closeAll(fds);
                throw new ProtocolException("front-end hung up inside the payload of " + VhostUser.name(request));
            }
            got += r.bytes();
        }
        return new Message(request, flags, body.asSlice(0, size).toArray(ValueLayout.JAVA_BYTE), fds);
    }

    private void send(byte[] bytes) throws IOException {
        Native.sendWithFds(fd, bytes);
    }

    // --- Requests ----------------------------------------------------------------

    private void handle(Message m) throws IOException, ProtocolException {
        int expectedFds = switch (m.request()) {
            case VhostUser.SET_MEM_TABLE -> m.fds().length;
            case VhostUser.SET_BACKEND_REQ_FD -> 1;
            case VhostUser.SET_VRING_KICK, VhostUser.SET_VRING_CALL, VhostUser.SET_VRING_ERR -> Math.min(1, m.fds().length);
            default -> 0;
        };
        if (m.fds().length != expectedFds) {
            closeAll(m.fds());
            throw new ProtocolException(VhostUser.name(m.request()) + " came with " + m.fds().length + " unexpected file descriptors");
        }
        byte[] reply = switch (m.request()) {
            case VhostUser.GET_FEATURES -> Message.u64(offeredFeatures);
            case VhostUser.SET_FEATURES -> { setFeatures(m.u64()); yield null; }
            case VhostUser.SET_OWNER -> { m.requireSize(0); yield null; }
            case VhostUser.RESET_OWNER, VhostUser.RESET_DEVICE -> { resetDevice(); yield null; }
            case VhostUser.GET_PROTOCOL_FEATURES -> Message.u64(offeredProtocolFeatures);
            case VhostUser.SET_PROTOCOL_FEATURES -> { setProtocolFeatures(m.u64()); yield null; }
            case VhostUser.GET_QUEUE_NUM -> Message.u64(rings.length);
            case VhostUser.SET_MEM_TABLE -> { setMemTable(m); yield null; }
            case VhostUser.SET_VRING_NUM -> { vringNum(m); yield null; }
            case VhostUser.SET_VRING_ADDR -> { vringAddr(m); yield null; }
            case VhostUser.SET_VRING_BASE -> { vringBase(m); yield null; }
            case VhostUser.GET_VRING_BASE -> getVringBase(m);
            case VhostUser.SET_VRING_KICK, VhostUser.SET_VRING_CALL, VhostUser.SET_VRING_ERR -> { vringFd(m); yield null; }
            case VhostUser.SET_VRING_ENABLE -> { vringEnable(m); yield null; }
            case VhostUser.GET_CONFIG -> getConfig(m);
            case VhostUser.SET_CONFIG -> { setConfig(m); yield null; }
            case VhostUser.SET_BACKEND_REQ_FD -> { setBackendFd(m); yield null; }
            default -> throw new ProtocolException(VhostUser.name(m.request()) + " is not supported by this back-end");
        };
        if (reply != null) {
            send(Message.reply(m.request(), reply));
        } else if (m.needsReply() && (protocolFeatures & (1L << VhostUser.PROTOCOL_F_REPLY_ACK)) != 0) {
            send(Message.reply(m.request(), Message.u64(0)));
        }
    }

    private void setFeatures(long features) throws ProtocolException {
        if ((features & ~offeredFeatures) != 0)
            throw new ProtocolException(String.format("SET_FEATURES: 0x%x includes features not offered (offered 0x%x)", features, offeredFeatures));
        if (activated && (features & ~VirtioFeatures.bit(VhostUser.F_PROTOCOL_FEATURES)) != ackedFeatures)
            throw new ProtocolException("SET_FEATURES: features cannot change while rings run");
        ackedFeatures = features & ~VirtioFeatures.bit(VhostUser.F_PROTOCOL_FEATURES);
        protocolFeaturesAcked = (features & VirtioFeatures.bit(VhostUser.F_PROTOCOL_FEATURES)) != 0;
    }

    private void setProtocolFeatures(long features) throws ProtocolException {
        if ((features & ~offeredProtocolFeatures) != 0)
            throw new ProtocolException(String.format("SET_PROTOCOL_FEATURES: 0x%x includes features not offered (0x%x)", features, offeredProtocolFeatures));
        protocolFeatures = features;
    }

    private void setBackendFd(Message m) throws ProtocolException {
        if (m.payload().length != 0) {
            closeAll(m.fds());
            throw new ProtocolException("SET_BACKEND_REQ_FD: payload of " + m.payload().length + " bytes, expected none");
        }
        int old;
        synchronized (this) {
            old = backendFd;
            backendFd = m.fds()[0];
        }
        Native.close(old);
    }

    private void setMemTable(Message m) throws ProtocolException {
        for (Ring r : rings)
            if (r.queue != null) {
                closeAll(m.fds());
                throw new ProtocolException("SET_MEM_TABLE while ring " + r.index + " runs is not supported; stop the rings (GET_VRING_BASE) first");
            }
        FrontendMemory next = FrontendMemory.map(m);
        FrontendMemory old = memory;
        memory = next;
        if (old != null) old.close();
    }

    private Ring ring(long index, String request) throws ProtocolException {
        if (index < 0 || index >= rings.length)
            throw new ProtocolException(request + ": ring " + index + " does not exist (the device has " + rings.length + ")");
        return rings[(int) index];
    }

    private void vringNum(Message m) throws ProtocolException {
        m.requireSize(VhostUser.VRING_STATE_SIZE);
        Ring r = ring(Integer.toUnsignedLong(m.body().getInt(0)), "SET_VRING_NUM");
        int num = m.body().getInt(4);
        int max = served.maxQueueSize(r.index);
        if (num < 1 || num > max || Integer.bitCount(num) != 1)
            throw new ProtocolException("SET_VRING_NUM: ring " + r.index + " size " + Integer.toUnsignedString(num) + " is not a power of two in 1.." + max);
        requireStopped(r, "SET_VRING_NUM");
        r.num = num;
    }

    private void vringAddr(Message m) throws ProtocolException {
        m.requireSize(VhostUser.VRING_ADDR_SIZE);
        ByteBuffer b = m.body();
        Ring r = ring(Integer.toUnsignedLong(b.getInt(0)), "SET_VRING_ADDR");
        requireStopped(r, "SET_VRING_ADDR");
        r.descUva = b.getLong(8);
        r.usedUva = b.getLong(16);
        r.availUva = b.getLong(24);
    }

    private void vringBase(Message m) throws ProtocolException {
        m.requireSize(VhostUser.VRING_STATE_SIZE);
        Ring r = ring(Integer.toUnsignedLong(m.body().getInt(0)), "SET_VRING_BASE");
        int base = m.body().getInt(4);
        if (base < 0 || base > 0xffff) throw new ProtocolException("SET_VRING_BASE: ring " + r.index + " base " + Integer.toUnsignedString(base) + " is not a 16-bit index");
        requireStopped(r, "SET_VRING_BASE");
        r.base = base;
    }

    private byte[] getVringBase(Message m) throws ProtocolException {
        m.requireSize(VhostUser.VRING_STATE_SIZE);
        Ring r = ring(Integer.toUnsignedLong(m.body().getInt(0)), "GET_VRING_BASE");
        int next = stopRing(r);
        r.enabled = false;
        Native.close(r.kickFd);
        r.kickFd = -1;
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(r.index).putInt(next).array();
    }

    private void vringFd(Message m) throws ProtocolException {
        long v;
        try {
            v = m.u64();
        } catch (ProtocolException e) {
            closeAll(m.fds());
            throw e;
        }
        String what = VhostUser.name(m.request());
        boolean noFd = (v & VhostUser.VRING_NOFD_MASK) != 0;
        if ((v & ~(VhostUser.VRING_INDEX_MASK | VhostUser.VRING_NOFD_MASK)) != 0 || noFd == (m.fds().length == 1)) {
            closeAll(m.fds());
            throw new ProtocolException(String.format("%s: value 0x%x does not match the %d descriptors sent", what, v, m.fds().length));
        }
        Ring r;
        try {
            r = ring(v & VhostUser.VRING_INDEX_MASK, what);
        } catch (ProtocolException e) {
            closeAll(m.fds());
            throw e;
        }
        int newFd = noFd ? -1 : m.fds()[0];
        switch (m.request()) {
            case VhostUser.SET_VRING_KICK -> {
                if (noFd) throw new ProtocolException("SET_VRING_KICK: ring " + r.index + " without a kick descriptor (polling) is not supported");
                stopRing(r);
                Native.close(r.kickFd);
                r.kickFd = newFd;
                // Without protocol features a ring runs as soon as it has its kick descriptor.
                if (!protocolFeaturesAcked) r.enabled = true;
                startIfRunnable(r);
            }
            case VhostUser.SET_VRING_CALL -> {
                if (newFd >= 0) {
                    try {
                        Native.setNonBlocking(newFd);
                    } catch (IOException e) {
                        Native.close(newFd);
                        throw new ProtocolException("SET_VRING_CALL: ring " + r.index + ": " + e.getMessage(), e);
                    }
                }
                int old;
                synchronized (r) {
                    old = r.callFd;
                    r.callFd = newFd;
                }
                Native.close(old);
            }
            default -> {
                int old;
                synchronized (r) {
                    old = r.errFd;
                    r.errFd = newFd;
                }
                Native.close(old);
            }
        }
    }

    private void vringEnable(Message m) throws ProtocolException {
        m.requireSize(VhostUser.VRING_STATE_SIZE);
        Ring r = ring(Integer.toUnsignedLong(m.body().getInt(0)), "SET_VRING_ENABLE");
        int enable = m.body().getInt(4);
        if (enable != 0 && enable != 1) throw new ProtocolException("SET_VRING_ENABLE: ring " + r.index + " value " + enable + " is not 0 or 1");
        if (enable == 1) {
            r.enabled = true;
            startIfRunnable(r);
        } else {
            // Disabling keeps the ring's position: the next start carries on from it.
            r.base = stopRing(r);
            r.enabled = false;
        }
    }

    private byte[] getConfig(Message m) throws ProtocolException {
        ConfigRange r = configRange(m, "GET_CONFIG");
        ByteBuffer out = ByteBuffer.allocate(VhostUser.CONFIG_HEADER + r.size()).order(ByteOrder.LITTLE_ENDIAN);
        out.putInt(r.offset()).putInt(r.size()).putInt(m.body().getInt(8));
        byte[] bytes = served.readConfig(r.offset(), r.size());
        out.put(bytes);
        return out.array();
    }

    private void setConfig(Message m) throws ProtocolException {
        ConfigRange r = configRange(m, "SET_CONFIG");
        served.writeConfig(r.offset(), Arrays.copyOfRange(m.payload(), VhostUser.CONFIG_HEADER, VhostUser.CONFIG_HEADER + r.size()));
    }

    /** The config-space range a GET_CONFIG or SET_CONFIG names. */
    private record ConfigRange(int offset, int size) { }

    /**
     * Reads and checks the range of {@code m}, a {@code what} message: inside the largest config space, and the
     * message holds that many bytes after its header.
     */
    private static ConfigRange configRange(Message m, String what) throws ProtocolException {
        m.requireAtLeast(VhostUser.CONFIG_HEADER);
        ByteBuffer b = m.body();
        int offset = b.getInt(0), size = b.getInt(4);
        if (offset < 0 || size < 0 || size > VhostUser.MAX_CONFIG_SIZE || offset > VhostUser.MAX_CONFIG_SIZE - size)
            throw new ProtocolException(what + ": offset " + Integer.toUnsignedString(offset) + " size "
                    + Integer.toUnsignedString(size) + " out of range");
        m.requireSize(VhostUser.CONFIG_HEADER + size);
        return new ConfigRange(offset, size);
    }

    private void requireStopped(Ring r, String request) throws ProtocolException {
        if (r.queue != null) throw new ProtocolException(request + ": ring " + r.index + " is running; stop it first (GET_VRING_BASE)");
    }

    // --- Rings -------------------------------------------------------------------

    private void startIfRunnable(Ring r) throws ProtocolException {
        if (!r.enabled || !r.ready() || r.queue != null) return;
        FrontendMemory mem = memory;
        long desc = mem.toGuest(r.descUva, VirtQueue.descTableSize(r.num), "ring " + r.index + " descriptor table");
        long avail = mem.toGuest(r.availUva, VirtQueue.availRingSize(r.num), "ring " + r.index + " available ring");
        long used = mem.toGuest(r.usedUva, VirtQueue.usedRingSize(r.num), "ring " + r.index + " used ring");
        VirtQueue q;
        try {
            int usedIdx = mem.memory().readU16(used + 2);
            q = VirtQueue.restore(mem.memory(), r.index, r.num, desc, avail, used, ackedFeatures, r.base, usedIdx,
                    () -> callGuest(r), reason -> guestError(r, reason));
        } catch (VirtqueueException | IllegalArgumentException e) {
            throw new ProtocolException("ring " + r.index + ": " + e.getMessage(), e);
        }
        int stop;
        try {
            stop = Native.eventfd(true);
        } catch (IOException e) {
            throw new ProtocolException("ring " + r.index + ": " + e.getMessage(), e);
        }
        r.stopFd = stop;
        r.queue = q;
        if (!activated) {
            served.activate(this);
            activated = true;
        }
        int kick = r.kickFd;
        r.kicker = Thread.ofPlatform().daemon().name(name + "-kick-" + r.index).start(() -> kickLoop(r, kick, stop));
    }

    private void kickLoop(Ring r, int kick, int stop) {
        try {
            served.notifyQueueOnIoThread(r.index); // buffers may be waiting from before the ring started
            int[] fds = {stop, kick};
            while (true) {
                int ready = Native.pollReadable(fds, -1);
                if (ready == 0) return;
                if (Native.drain(kick) < 0) continue;
                // This thread does nothing else, so the device may serve the kick right here (no hand-off).
                served.notifyQueueOnIoThread(r.index);
            }
        } catch (IOException e) {
            if (!closed) guestError(r, "kick descriptor failed: " + e.getMessage());
        } catch (InternalError e) {
            if (!PeerMemoryFault.is(e)) throw e;
            memoryFault();
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, name + ": ring " + r.index + ": the device failed; the ring takes no more kicks", e);
            failure = "ring " + r.index + ": device failed: " + e;
        }
    }

    /**
     * An access to the front-end's memory faulted: it shrank a file it shared (one that could not be
     * sealed). Nothing of it can be trusted any more, so the front-end is cut off; any thread may call.
     */
    private void memoryFault() {
        FrontendMemory m = memory;
        String why = m == null ? null : m.shrunk();
        cutOff("front-end memory fault: " + (why != null ? why : "an access to its shared memory faulted"));
    }

    /** Ends the connection for a reason the front-end caused: one log line, the reason kept. Any thread. */
    private void cutOff(String reason) {
        if (closed) return;
        failure = reason;
        LOG.log(Level.WARNING, "{0}: closing the connection: {1}", name, reason);
        close();
    }

    /**
     * Stops the ring's kick thread and waits for the device to finish what it took; returns the next avail index.
     * The queue stops taking first: the device is paused and resumed to drain it, and whatever wakes it then must
     * not read this ring again (user-mode Linux resets the device without a message, takes its buffers back,
     * moving the avail index back, and only then disables the rings one by one).
     */
    private int stopRing(Ring r) {
        VirtQueue q = r.queue;
        if (q == null) return r.base;
        q.stop();
        try {
            Native.signal(r.stopFd);
        } catch (IOException e) {
            throw new IllegalStateException("cannot stop ring " + r.index + ": " + e.getMessage(), e);
        }
        try {
            r.kicker.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Native.close(r.stopFd);
        r.stopFd = -1;
        try {
            served.quiesce();
        } catch (InternalError e) {
            // The model looked at the ring again as it resumed, and the front-end's memory was gone: the ring
            // is stopped all the same, and the device is reset next.
            if (!PeerMemoryFault.is(e)) throw e;
            if (failure == null) failure = "front-end memory fault while stopping ring " + r.index;
        }
        r.queue = null;
        r.base = q.lastAvailIndex();
        return r.base;
    }

    private void callGuest(Ring r) {
        int call;
        synchronized (r) {
            call = r.callFd;
        }
        if (call < 0) return;
        try {
            Native.signal(call);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "{0}: ring {1}: call descriptor failed: {2}", name, r.index, e.getMessage());
        }
    }

    /** A guest error on one ring: the ring stops taking work and the front-end is told through its err descriptor. */
    private void guestError(Ring r, String reason) {
        failure = "ring " + r.index + ": " + reason;
        LOG.log(Level.WARNING, "{0}: ring {1}: guest error: {2}", name, r.index, reason);
        int err;
        synchronized (r) {
            err = r.errFd;
        }
        if (err >= 0) {
            try {
                Native.signal(err);
            } catch (IOException e) {
                // the front-end is going away; nothing more to tell it
            }
        }
    }

    private void resetDevice() {
        for (Ring r : rings) {
            stopRing(r);
            r.enabled = false;
            r.base = 0;
        }
        if (activated) served.reset();
        activated = false;
    }

    private void teardown() {
        closed = true;
        resetDevice();
        for (Ring r : rings) {
            Native.close(r.kickFd);
            Native.close(r.callFd);
            Native.close(r.errFd);
            r.kickFd = r.callFd = r.errFd = -1;
        }
        FrontendMemory m = memory;
        memory = null;
        if (m != null) m.close();
        synchronized (this) {
            Native.close(backendFd);
            backendFd = -1;
        }
        Native.close(fd);
    }

    // --- VirtioContext -------------------------------------------------------------

    @Override
    public GuestMemory memory() {
        FrontendMemory m = memory;
        return m == null ? null : m.memory();
    }

    @Override
    public long negotiatedFeatures() {
        return ackedFeatures;
    }

    @Override
    public VirtQueue queue(int index) {
        return index >= 0 && index < rings.length ? rings[index].queue : null;
    }

    @Override
    public void configChanged() {
        int fd;
        synchronized (this) {
            fd = backendFd;
        }
        if (fd < 0) {
            LOG.log(Level.DEBUG, "{0}: configuration changed; the front-end gave no back-end request channel to tell it", name);
            return;
        }
        try {
            // No NEED_REPLY: nothing here reads the back-end channel's replies. User-mode Linux gives a pipe, not a socket.
            Native.writeFully(fd, Message.request(VhostUser.BACKEND_CONFIG_CHANGE_MSG, 0, new byte[0]));
        } catch (IOException e) {
            LOG.log(Level.WARNING, "{0}: cannot send the config-change notice: {1}", name, e.getMessage());
        }
    }

    @Override
    public void deviceError(String reason) {
        // A device's worker that faulted on the front-end's memory reports it here: did the front-end take it away?
        FrontendMemory m = memory;
        String shrunk = m == null ? null : m.shrunk();
        if (shrunk != null) {
            cutOff("front-end memory fault: " + shrunk);
            return;
        }
        for (Ring r : rings) if (r.queue != null) {
            guestError(r, reason);
            return;
        }
        failure = reason;
        LOG.log(Level.WARNING, "{0}: device error: {1}", name, reason);
    }

    private static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    private static void closeAll(int[] fds) {
        for (int f : fds) Native.close(f);
    }
}
