package device.virtio_vsock.connection;

import static device.virtio_vsock.connection.Connection.*;
import static device.virtio_vsock.protocol.VsockSpec.*;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import device.virtio_vsock.connection.VsockCounters.Counter;
import device.virtio_vsock.protocol.VsockHeader;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * The connection state machine of a virtio socket device (virtio 1.2
 * section 5.10.6) for stream sockets between the guest and the host (CID
 * 2): guest packets in, packets for the guest and {@link HostAction}s out,
 * with both sides' credit accounted. No threads, no sockets, no guest
 * memory: the wiring feeds it what the transmit queue and the host sockets
 * deliver and moves what it produces.
 *
 * <p>The guest is the attacker. Every header field is checked; a packet
 * that breaks a rule (a foreign CID, a type other than STREAM, an unknown
 * op, a payload on a control op, bad SHUTDOWN flags, data before the
 * connection is up or after the guest shut its sending side, more data than
 * the credit we gave, a fwd_cnt for bytes never sent) is answered with RST
 * and resets that connection only. Host memory is bounded: at most
 * {@link Limits#maxConnections} connections, each holding at most
 * {@link Limits#bufAlloc} bytes for the host (the credit the guest gets)
 * and {@link Limits#toGuestCap} for the guest (the host side reads no more
 * than that, nor more than the guest's credit), and at most
 * {@link #MAX_LOOSE_RESETS} RSTs for packets of no connection.
 *
 * <p>Fairness: packets for the guest are taken round-robin, one per
 * connection with something to send, control packets first; a connection
 * whose host peer stops reading only fills its own buffer.
 *
 * <p>Not thread-safe: one thread drives it.
 */
public final class Connections {
    /** RSTs for packets of no connection kept for the guest at most; more are dropped (and counted). */
    public static final int MAX_LOOSE_RESETS = 256;
    /** The first port given to host-initiated connections on the host side, as Firecracker does. */
    public static final long FIRST_HOST_PORT = 1L << 30;
    static final String STATE_TYPE = "virtio-vsock-connections";

    /**
     * The device's bounds.
     *
     * @param maxConnections connections open at once
     * @param bufAlloc       credit given to the guest per connection: bytes buffered for the host at most
     * @param toGuestCap     bytes read from a host socket and not yet sent to the guest, per connection
     */
    public record Limits(int maxConnections, int bufAlloc, int toGuestCap) {
        public static final Limits DEFAULT = new Limits(1024, 256 * 1024, 64 * 1024);

        public Limits {
            if (maxConnections < 1 || bufAlloc < 1 || toGuestCap < 1)
                throw new IllegalArgumentException("limits must be positive: " + maxConnections + ", " + bufAlloc
                        + ", " + toGuestCap);
        }
    }

    private final long guestCid;
    private final Limits limits;
    private final VsockCounters counters;
    private final Map<ConnectionKey, Connection> connections = new HashMap<>();
    private final Deque<Connection> ready = new ArrayDeque<>();
    private final Deque<VsockHeader> looseResets = new ArrayDeque<>();
    private final List<HostAction> actions = new ArrayList<>();
    private long nextHostPort = FIRST_HOST_PORT;
    private boolean transportResetPending;

    public Connections(long guestCid, Limits limits, VsockCounters counters) {
        if (guestCid < FIRST_GUEST_CID || guestCid > MAX_GUEST_CID)
            throw new IllegalArgumentException("guest CID must be " + FIRST_GUEST_CID + ".." + MAX_GUEST_CID
                    + ", was " + guestCid);
        this.guestCid = guestCid;
        this.limits = limits;
        this.counters = counters;
    }

    public long guestCid() { return guestCid; }
    public Limits limits() { return limits; }

    // --- From the guest -------------------------------------------------------------

    /**
     * A packet from the transmit queue: its header and its payload of exactly
     * {@code h.len()} bytes (the wiring checked that the chain holds them).
     */
    public void fromGuest(VsockHeader h, byte[] payload) {
        counters.increment(Counter.TX_PACKETS);
        if (h.srcCid() != guestCid) {
            counters.increment(Counter.SPOOFED);
            return;
        }
        if (h.op() == VIRTIO_VSOCK_OP_RST) {
            Connection c = connections.get(keyOf(h));
            if (c != null && c.state != State.CLOSING) abort(c, false);
            return;
        }
        ConnectionKey key = keyOf(h);
        Connection c = connections.get(key);
        String why = fieldError(h, payload);
        if (why != null) {
            if (c != null && c.state != State.CLOSING) badConnection(c, h, why);
            else refuse(h, why);
            return;
        }
        if (c == null) {
            if (h.op() == VIRTIO_VSOCK_OP_REQUEST) request(key, h);
            else refuse(h, "no connection");
            return;
        }
        if (c.state == State.CLOSING) {
            // We already sent RST and only write out what the guest sent; anything new is late.
            if (h.op() == VIRTIO_VSOCK_OP_REQUEST) refuse(h, "the connection is still closing");
            return;
        }
        if (!c.plausiblePeerFwdCnt(h.fwdCnt())) {
            badConnection(c, h, "fwd_cnt " + h.fwdCnt() + " counts bytes never sent (tx_cnt " + c.txCnt + ")");
            return;
        }
        c.peerBufAlloc = h.bufAlloc();
        c.peerFwdCnt = h.fwdCnt();
        c.creditAsked = false;
        switch (h.op()) {
            case VIRTIO_VSOCK_OP_REQUEST -> badConnection(c, h, "REQUEST for a connection that exists");
            case VIRTIO_VSOCK_OP_RESPONSE -> {
                if (c.state != State.GUEST_CONNECTING) {
                    badConnection(c, h, "RESPONSE in state " + c.state);
                    return;
                }
                c.state = State.ESTABLISHED;
                counters.increment(Counter.CONNECTIONS);
                byte[] ok = ("OK " + c.key.hostPort() + "\n").getBytes(StandardCharsets.US_ASCII);
                c.toHost.append(ok, 0, ok.length);
                c.preamble = ok.length;
            }
            case VIRTIO_VSOCK_OP_RW -> {
                if (c.state != State.ESTABLISHED || (c.peerShutdown & VIRTIO_VSOCK_SHUTDOWN_F_SEND) != 0) {
                    badConnection(c, h, "RW in state " + c.state + " after shutdown flags " + c.peerShutdown);
                    return;
                }
                if (payload.length > c.ourFree(limits.bufAlloc())) {
                    badConnection(c, h, payload.length + " bytes beyond the credit of " + c.ourFree(limits.bufAlloc()));
                    return;
                }
                c.toHost.append(payload, 0, payload.length);
                c.rxCnt = (c.rxCnt + payload.length) & U32;
            }
            case VIRTIO_VSOCK_OP_SHUTDOWN -> {
                c.peerShutdown |= (int) h.flags();
                if ((c.peerShutdown & VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE) != 0) c.toGuest.clear();
            }
            case VIRTIO_VSOCK_OP_CREDIT_REQUEST -> c.owed |= SEND_CREDIT_UPDATE;
            default -> { } // CREDIT_UPDATE: the credit was taken above
        }
        progress(c);
    }

    /**
     * A transmit chain whose header promises more payload than the chain
     * holds or than {@link device.virtio_vsock.protocol.VsockSpec#MAX_PAYLOAD}:
     * RST, and the connection it names (if any) is reset.
     */
    public void malformed(VsockHeader h, String why) {
        counters.increment(Counter.TX_PACKETS);
        if (h.srcCid() != guestCid) {
            counters.increment(Counter.SPOOFED);
            return;
        }
        Connection c = connections.get(keyOf(h));
        if (c != null && c.state != State.CLOSING && h.op() != VIRTIO_VSOCK_OP_RST) badConnection(c, h, why);
        else if (h.op() != VIRTIO_VSOCK_OP_RST) refuse(h, why);
        else counters.increment(Counter.BAD_PACKETS);
    }

    /** A rule of section 5.10.6 the header breaks on its own, or null. */
    private static String fieldError(VsockHeader h, byte[] payload) {
        if (h.dstCid() != VMADDR_CID_HOST) return "dst_cid " + h.dstCid() + " is not the host";
        if (h.type() != VIRTIO_VSOCK_TYPE_STREAM) return "type " + h.type() + " is not STREAM";
        if (h.op() < VIRTIO_VSOCK_OP_REQUEST || h.op() > VIRTIO_VSOCK_OP_CREDIT_REQUEST)
            return "unknown " + opName(h.op());
        if (h.len() != payload.length) return "len " + h.len() + " but " + payload.length + " bytes of payload";
        if (h.op() != VIRTIO_VSOCK_OP_RW && h.len() != 0) return opName(h.op()) + " with a payload of " + h.len();
        if (h.op() == VIRTIO_VSOCK_OP_SHUTDOWN && (h.flags() == 0 || (h.flags() & ~VIRTIO_VSOCK_SHUTDOWN_F_BOTH) != 0))
            return "SHUTDOWN flags " + h.flags();
        return null;
    }

    private static ConnectionKey keyOf(VsockHeader h) {
        return new ConnectionKey(h.dstPort(), h.srcPort());
    }

    private void request(ConnectionKey key, VsockHeader h) {
        if (connections.size() >= limits.maxConnections()) {
            counters.increment(Counter.REFUSED);
            loose(reply(h));
            return;
        }
        Connection c = new Connection(key, State.HOST_CONNECTING, limits.bufAlloc(), limits.toGuestCap());
        c.peerBufAlloc = h.bufAlloc();
        c.peerFwdCnt = h.fwdCnt();
        connections.put(key, c);
        actions.add(new HostAction(HostAction.Kind.CONNECT, key));
    }

    private void refuse(VsockHeader h, String why) {
        counters.increment(Counter.BAD_PACKETS);
        loose(reply(h));
    }

    /** A RST answering {@code h}: from where it went, to where it came from. */
    private VsockHeader reply(VsockHeader h) {
        return new VsockHeader(VMADDR_CID_HOST, guestCid, h.dstPort(), h.srcPort(), 0, VIRTIO_VSOCK_TYPE_STREAM,
                VIRTIO_VSOCK_OP_RST, 0, 0, 0);
    }

    private void loose(VsockHeader rst) {
        if (looseResets.size() >= MAX_LOOSE_RESETS) {
            counters.increment(Counter.RESETS_DROPPED);
            return;
        }
        looseResets.addLast(rst);
    }

    private void badConnection(Connection c, VsockHeader h, String why) {
        counters.increment(Counter.BAD_PACKETS);
        abort(c, true);
    }

    /**
     * Ends {@code c} now, dropping what it holds: the host socket is closed, the guest told with RST if
     * {@code tellGuest}.
     */
    private void abort(Connection c, boolean tellGuest) {
        connections.remove(c.key);
        ready.remove(c);
        c.ready = false;
        actions.add(new HostAction(HostAction.Kind.CLOSE, c.key));
        if (tellGuest) {
            counters.increment(Counter.RESETS_SENT);
            loose(new VsockHeader(VMADDR_CID_HOST, guestCid, c.key.hostPort(), c.key.guestPort(), 0,
                    VIRTIO_VSOCK_TYPE_STREAM, VIRTIO_VSOCK_OP_RST, 0, limits.bufAlloc(), c.fwdCnt));
        }
    }

    // --- From the host side -----------------------------------------------------------

    /**
     * A host process asked for the guest's {@code guestPort}: a REQUEST goes
     * to the guest. Returns the new connection's key, or null when the
     * connection limit is reached or the port is not a u32.
     */
    public ConnectionKey connectFromHost(long guestPort) {
        if (guestPort < 0 || guestPort > U32 || connections.size() >= limits.maxConnections()) {
            counters.increment(Counter.REFUSED);
            return null;
        }
        ConnectionKey key;
        do {
            key = new ConnectionKey(nextHostPort, guestPort);
            nextHostPort = nextHostPort >= U32 ? FIRST_HOST_PORT : nextHostPort + 1;
        } while (connections.containsKey(key));
        Connection c = new Connection(key, State.GUEST_CONNECTING, limits.bufAlloc(), limits.toGuestCap());
        c.owed |= SEND_REQUEST;
        connections.put(key, c);
        touch(c);
        return key;
    }

    /** The host socket a {@link HostAction.Kind#CONNECT} asked for is connected: RESPONSE to the guest. */
    public void hostConnected(ConnectionKey key) {
        Connection c = connections.get(key);
        if (c == null || c.state != State.HOST_CONNECTING) return;
        c.state = State.ESTABLISHED;
        c.owed |= SEND_RESPONSE;
        counters.increment(Counter.CONNECTIONS);
        touch(c);
    }

    /** The host socket could not be reached (no listener, refused, gone) or failed: the guest gets RST. */
    public void hostFailed(ConnectionKey key) {
        Connection c = connections.get(key);
        if (c == null) return;
        if (c.state == State.HOST_CONNECTING) counters.increment(Counter.REFUSED);
        if (c.state == State.CLOSING) {
            connections.remove(key);
            ready.remove(c);
            actions.add(new HostAction(HostAction.Kind.CLOSE, key));
        } else {
            abort(c, true);
        }
    }

    /** Bytes the host side may read from this connection's socket now (0 for an unknown key). */
    public int hostReadAllowance(ConnectionKey key) {
        Connection c = connections.get(key);
        if (c == null || c.state != State.ESTABLISHED || c.hostEof
                || (c.peerShutdown & VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE) != 0) return 0;
        long want = Math.min(c.toGuest.room(), c.peerFree() - c.toGuest.size());
        return (int) Math.max(0, want);
    }

    /** Bytes read from the host socket, at most {@link #hostReadAllowance}; more is refused with an exception. */
    public void fromHost(ConnectionKey key, byte[] b, int off, int len) {
        if (len > hostReadAllowance(key))
            throw new IllegalStateException(key + ": " + len + " bytes beyond the allowance " + hostReadAllowance(key));
        Connection c = connections.get(key);
        if (c == null || len == 0) return;
        c.toGuest.append(b, off, len);
        touch(c);
    }

    /** The host socket reached end of stream: once its bytes are sent, the guest gets SHUTDOWN(SEND). */
    public void hostEof(ConnectionKey key) {
        Connection c = connections.get(key);
        if (c == null || c.hostEof) return;
        c.hostEof = true;
        progress(c);
    }

    /** Bytes owed to the host socket of {@code key} (0 for an unknown key). */
    public int pendingForHost(ConnectionKey key) {
        Connection c = connections.get(key);
        return c == null ? 0 : c.toHost.size();
    }

    /** Copies bytes owed to the host socket into {@code dst} (without consuming them); returns the count. */
    public int peekForHost(ConnectionKey key, ByteBuffer dst) {
        Connection c = connections.get(key);
        return c == null ? 0 : c.toHost.peekInto(dst);
    }

    /** {@code n} bytes of {@link #peekForHost} were written to the host socket; the guest's credit grows. */
    public void hostWrote(ConnectionKey key, int n) {
        Connection c = connections.get(key);
        if (c == null || n <= 0) return;
        n = Math.min(n, c.toHost.size());
        c.toHost.discard(n);
        int ours = Math.min(n, c.preamble);
        c.preamble -= ours;
        int guests = n - ours;
        c.fwdCnt = (c.fwdCnt + guests) & U32;
        counters.add(Counter.TO_HOST_BYTES, guests);
        long unadvertised = (c.fwdCnt - c.advertisedFwd) & U32;
        boolean worthTelling = unadvertised >= limits.bufAlloc() / 4 || (c.toHost.isEmpty() && unadvertised > 0);
        if (c.state != State.CLOSING && worthTelling) c.owed |= SEND_CREDIT_UPDATE;
        progress(c);
    }

    // --- To the guest --------------------------------------------------------------------

    /** Whether a packet waits for the guest's receive queue. */
    public boolean hasPacketForGuest() {
        if (!looseResets.isEmpty()) return true;
        while (!ready.isEmpty()) {
            if (hasWork(ready.peekFirst())) return true;
            ready.removeFirst().ready = false;
        }
        return false;
    }

    /**
     * The next packet for a receive buffer of {@code room} bytes, or null
     * when none waits or {@code room} cannot hold a header. Control packets
     * come first, then data round-robin across connections.
     */
    public Packet nextForGuest(int room) {
        if (room < HEADER_SIZE) return null;
        if (!looseResets.isEmpty()) {
            counters.increment(Counter.RX_PACKETS);
            return new Packet(looseResets.removeFirst(), new byte[0]);
        }
        while (!ready.isEmpty()) {
            Connection c = ready.removeFirst();
            c.ready = false;
            Packet p = take(c, Math.min(room - HEADER_SIZE, MAX_PAYLOAD));
            if (p == null) continue;
            if (hasWork(c)) touch(c);
            counters.increment(Counter.RX_PACKETS);
            return p;
        }
        return null;
    }

    private boolean hasWork(Connection c) {
        return c.owed != 0 || dataToSend(c) > 0;
    }

    private long dataToSend(Connection c) {
        if (c.state != State.ESTABLISHED || (c.shutdownSent & VIRTIO_VSOCK_SHUTDOWN_F_SEND) != 0) return 0;
        return Math.min(c.toGuest.size(), c.peerFree());
    }

    private Packet take(Connection c, int maxPayload) {
        int op;
        long flags = 0;
        byte[] payload = new byte[0];
        if ((c.owed & SEND_RST) != 0) {
            c.owed = 0;
            op = VIRTIO_VSOCK_OP_RST;
            counters.increment(Counter.RESETS_SENT);
        } else if ((c.owed & SEND_REQUEST) != 0) {
            c.owed &= ~SEND_REQUEST;
            op = VIRTIO_VSOCK_OP_REQUEST;
        } else if ((c.owed & SEND_RESPONSE) != 0) {
            c.owed &= ~SEND_RESPONSE;
            op = VIRTIO_VSOCK_OP_RESPONSE;
        } else if (maxPayload > 0 && dataToSend(c) > 0) {
            int n = (int) Math.min(dataToSend(c), maxPayload);
            payload = c.toGuest.peek(n);
            c.toGuest.discard(n);
            c.txCnt = (c.txCnt + n) & U32;
            counters.add(Counter.TO_GUEST_BYTES, n);
            op = VIRTIO_VSOCK_OP_RW;
        } else if ((c.owed & SEND_SHUTDOWN) != 0) {
            c.owed &= ~SEND_SHUTDOWN;
            op = VIRTIO_VSOCK_OP_SHUTDOWN;
            flags = VIRTIO_VSOCK_SHUTDOWN_F_SEND;
            c.shutdownSent |= VIRTIO_VSOCK_SHUTDOWN_F_SEND;
        } else if ((c.owed & SEND_CREDIT_UPDATE) != 0) {
            op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
        } else if ((c.owed & SEND_CREDIT_REQUEST) != 0) {
            c.owed &= ~SEND_CREDIT_REQUEST;
            op = VIRTIO_VSOCK_OP_CREDIT_REQUEST;
        } else {
            return null;
        }
        // Every packet carries our credit, so none needs a separate update.
        c.owed &= ~SEND_CREDIT_UPDATE;
        c.advertisedFwd = c.fwdCnt;
        VsockHeader h = new VsockHeader(VMADDR_CID_HOST, guestCid, c.key.hostPort(), c.key.guestPort(), payload.length,
                VIRTIO_VSOCK_TYPE_STREAM, op, flags, limits.bufAlloc(), c.fwdCnt);
        progress(c);
        return new Packet(h, payload);
    }

    /** Moves {@code c} on after any change: shutdowns, credit requests, the end of the stream. */
    private void progress(Connection c) {
        if (!connections.containsKey(c.key)) return;
        boolean guestDoneSending = (c.peerShutdown & VIRTIO_VSOCK_SHUTDOWN_F_SEND) != 0;
        if (c.state == State.ESTABLISHED) {
            if (c.hostEof && c.toGuest.isEmpty() && (c.shutdownSent & VIRTIO_VSOCK_SHUTDOWN_F_SEND) == 0)
                c.owed |= SEND_SHUTDOWN;
            if (c.toGuest.size() > 0 && c.peerFree() == 0 && !c.creditAsked) {
                // Once per stall: the guest's next packet (its credit update) clears it.
                c.owed |= SEND_CREDIT_REQUEST;
                c.creditAsked = true;
            }
            boolean hostDone = (c.shutdownSent & VIRTIO_VSOCK_SHUTDOWN_F_SEND) != 0
                    || (c.peerShutdown & VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE) != 0;
            if (c.peerShutdown == VIRTIO_VSOCK_SHUTDOWN_F_BOTH || (guestDoneSending && hostDone)) {
                // Both directions are finished: RST ends the guest's socket (section 5.10.6.5),
                // and the host socket closes once it has everything the guest sent.
                c.state = State.CLOSING;
                c.owed = SEND_RST;
                c.toGuest.clear();
            }
        }
        if (guestDoneSending && c.toHost.isEmpty()) {
            if (c.state == State.CLOSING) {
                if ((c.owed & SEND_RST) == 0) {
                    connections.remove(c.key);
                    ready.remove(c);
                    actions.add(new HostAction(HostAction.Kind.CLOSE, c.key));
                    return;
                }
            } else if (c.state == State.ESTABLISHED && !c.hostOutputShut) {
                c.hostOutputShut = true;
                actions.add(new HostAction(HostAction.Kind.SHUTDOWN_OUTPUT, c.key));
            }
        }
        touch(c);
    }

    private void touch(Connection c) {
        if (!c.ready && hasWork(c)) {
            c.ready = true;
            ready.addLast(c);
        }
    }

    // --- Actions, reset, state --------------------------------------------------------

    /** What the host side must do, oldest first; the list is emptied. */
    public List<HostAction> takeActions() {
        List<HostAction> out = new ArrayList<>(actions);
        actions.clear();
        return out;
    }

    /** The keys of the connections open now. */
    public Set<ConnectionKey> keys() {
        return Set.copyOf(connections.keySet());
    }

    /** Number of connections open now. */
    public int size() {
        return connections.size();
    }

    /**
     * Drops every connection (each host socket is closed) and owes the guest
     * a VIRTIO_VSOCK_EVENT_TRANSPORT_RESET: its driver then resets every
     * socket it has. Used when the host side of saved connections is lost.
     */
    public void transportReset() {
        for (Connection c : new ArrayList<>(connections.values()))
            actions.add(new HostAction(HostAction.Kind.CLOSE, c.key));
        connections.clear();
        ready.clear();
        looseResets.clear();
        transportResetPending = true;
    }

    /** Whether a transport reset event is owed; true once per {@link #transportReset()}, then false. */
    public boolean takeTransportResetEvent() {
        boolean p = transportResetPending;
        transportResetPending = false;
        return p;
    }

    /** Whether a transport reset event is owed, without taking it. */
    public boolean transportResetPending() {
        return transportResetPending;
    }

    /** Forgets everything, as a device reset does; every host socket is closed. */
    public void reset() {
        transportReset();
        transportResetPending = false;
    }

    /** Everything, for a swap: connections with their queues and credit, owed RSTs and events. */
    public DeviceState save() {
        List<DeviceState> cs = new ArrayList<>();
        for (Connection c : connections.values()) cs.add(c.save());
        List<byte[]> rsts = new ArrayList<>();
        for (VsockHeader h : looseResets) rsts.add(h.encode());
        return DeviceState.builder(STATE_TYPE, 1)
                .put("guest-cid", guestCid)
                .putList("connections", cs)
                .putList("loose-resets", rsts)
                .put("next-host-port", nextHostPort)
                .put("transport-reset", transportResetPending)
                .build();
    }

    /**
     * Adopts saved connections (before any traffic).
     *
     * @throws IllegalArgumentException when the saved state is for another guest CID or exceeds these limits
     */
    public void restore(DeviceState s) {
        s.require(STATE_TYPE, 1);
        try {
            if (s.getLong("guest-cid") != guestCid)
                throw new IncompatibleStateException("saved connections are of guest CID " + s.getLong("guest-cid")
                        + ", not " + guestCid);
            List<Object> cs = s.getList("connections");
            if (cs.size() > limits.maxConnections())
                throw new IncompatibleStateException(cs.size() + " saved connections exceed the limit "
                        + limits.maxConnections());
            // Everything is read and checked before anything is replaced: a refused state leaves these unchanged.
            List<Connection> restored = new ArrayList<>();
            for (Object o : cs) {
                if (!(o instanceof DeviceState d)) throw new IncompatibleStateException("connections holds " + o);
                restored.add(Connection.restore(d, limits.bufAlloc(), limits.toGuestCap()));
            }
            List<Object> rs = s.getList("loose-resets");
            if (rs.size() > MAX_LOOSE_RESETS)
                throw new IncompatibleStateException("loose-resets holds " + rs.size() + " headers (at most "
                        + MAX_LOOSE_RESETS + ")");
            List<VsockHeader> resets = new ArrayList<>();
            for (Object o : rs) {
                if (!(o instanceof byte[] b)) throw new IncompatibleStateException("loose-resets holds " + o);
                resets.add(VsockHeader.decode(b));
            }
            long port = s.getLong("next-host-port");
            if (port < 0 || port > 0xFFFF_FFFFL)
                throw new IncompatibleStateException("next-host-port " + port + " is not a port");
            boolean reset = s.getBoolean("transport-reset");
            connections.clear();
            ready.clear();
            for (Connection c : restored) {
                connections.put(c.key, c);
                touch(c);
            }
            looseResets.clear();
            looseResets.addAll(resets);
            nextHostPort = port;
            transportResetPending = reset;
        } catch (IncompatibleStateException e) {
            throw e.getMessage().startsWith(STATE_TYPE) ? e
                    : new IncompatibleStateException(STATE_TYPE + " state: " + e.getMessage());
        } catch (IllegalArgumentException e) {
            // A header too short, a state name no connection has, a key out of range: refused, by what it is.
            throw new IncompatibleStateException(STATE_TYPE + " state: " + e.getMessage());
        }
    }

    /** Resets the connections in {@code keys} (their host sockets were lost): RST to the guest for each. */
    public void resetAll(Collection<ConnectionKey> keys) {
        for (ConnectionKey k : keys) {
            Connection c = connections.get(k);
            if (c != null) abort(c, c.state != State.CLOSING);
        }
    }

    /** The state of {@code key}'s connection, for tests and the log, or null. */
    public String describe(ConnectionKey key) {
        Connection c = connections.get(key);
        if (c == null) return null;
        return c.state + " to-host " + c.toHost.size() + " to-guest " + c.toGuest.size() + " rx " + c.rxCnt + " fwd "
                + c.fwdCnt + " tx " + c.txCnt + " peer buf_alloc " + c.peerBufAlloc + " fwd_cnt " + c.peerFwdCnt
                + " peer-shutdown " + c.peerShutdown + " sent-shutdown " + c.shutdownSent;
    }
}
