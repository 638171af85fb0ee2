package device.virtio_vsock.connection;

import vmm.core.device.DeviceState;

/**
 * One stream's state: where the handshake is, both byte queues and both
 * sides' credit (virtio 1.2 section 5.10.6.3). Counters are u32 values
 * kept in longs, compared modulo 2^32. Owned by {@link Connections}.
 */
final class Connection {
    static final long U32 = 0xffff_ffffL;

    enum State {
        /** The guest sent REQUEST; the host socket {@code PATH_port} is being connected. */
        HOST_CONNECTING,
        /** A host process asked for the guest's port; our REQUEST waits for the guest's RESPONSE. */
        GUEST_CONNECTING,
        ESTABLISHED,
        /** Both sides are done and the guest was sent RST; what the guest sent is still being written to the host. */
        CLOSING
    }

    /** Control packets owed to the guest, sent before data. */
    static final int SEND_REQUEST = 1, SEND_RESPONSE = 2, SEND_CREDIT_UPDATE = 4, SEND_CREDIT_REQUEST = 8,
            SEND_SHUTDOWN = 16, SEND_RST = 32;

    final ConnectionKey key;
    State state;
    /** The guest's bytes not yet written to the host, after {@link #preamble} bytes of our own. */
    final ByteQueue toHost;
    int preamble;
    /** The host's bytes not yet sent to the guest. */
    final ByteQueue toGuest;
    /**
     * Our receive side: bytes received from the guest, bytes written on to the host, fwd_cnt last told to the
     * guest.
     */
    long rxCnt, fwdCnt, advertisedFwd;
    /** Our send side: bytes sent to the guest, and the guest's last buf_alloc and fwd_cnt. */
    long txCnt, peerBufAlloc, peerFwdCnt;
    /** SHUTDOWN flags the guest sent, and those we sent. */
    int peerShutdown, shutdownSent;
    /** The host socket reached end of stream. */
    boolean hostEof;
    /** SHUTDOWN_OUTPUT was asked of the host side. */
    boolean hostOutputShut;
    int owed;
    /** A CREDIT_REQUEST went out since the guest's last packet. */
    boolean creditAsked;
    /** Whether the connection is in the ready queue of {@link Connections}. */
    boolean ready;

    Connection(ConnectionKey key, State state, int bufAlloc, int toGuestCap) {
        this.key = key;
        this.state = state;
        this.toHost = new ByteQueue(bufAlloc + 64);
        this.toGuest = new ByteQueue(toGuestCap);
    }

    /** Bytes the guest may still send: what our buf_alloc leaves after what was received and not forwarded. */
    long ourFree(int bufAlloc) {
        return bufAlloc - ((rxCnt - fwdCnt) & U32);
    }

    /** Bytes we may still send the guest (0 when it shrank its buffer below what is in flight). */
    long peerFree() {
        long inFlight = (txCnt - peerFwdCnt) & U32;
        return Math.max(0, peerBufAlloc - inFlight);
    }

    /** Whether {@code fwdCnt} is one the guest can have: between its last one and what we sent, modulo 2^32. */
    boolean plausiblePeerFwdCnt(long fwd) {
        return ((fwd - peerFwdCnt) & U32) <= ((txCnt - peerFwdCnt) & U32);
    }

    DeviceState save() {
        return DeviceState.builder("virtio-vsock-connection", 1)
                .put("host-port", key.hostPort()).put("guest-port", key.guestPort())
                .put("state", state.name())
                .put("to-host", toHost.peek(toHost.size())).put("preamble", preamble)
                .put("to-guest", toGuest.peek(toGuest.size()))
                .put("rx-cnt", rxCnt).put("fwd-cnt", fwdCnt).put("advertised-fwd", advertisedFwd)
                .put("tx-cnt", txCnt).put("peer-buf-alloc", peerBufAlloc).put("peer-fwd-cnt", peerFwdCnt)
                .put("peer-shutdown", peerShutdown).put("shutdown-sent", shutdownSent)
                .put("host-eof", hostEof).put("host-output-shut", hostOutputShut).put("owed", owed)
                .put("credit-asked", creditAsked)
                .build();
    }

    static Connection restore(DeviceState s, int bufAlloc, int toGuestCap) {
        s.require("virtio-vsock-connection", 1);
        String name = s.getString("state");
        State state = java.util.Arrays.stream(State.values()).filter(v -> v.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("a connection's state " + name + " is none this device has"));
        Connection c = new Connection(new ConnectionKey(port(s, "host-port"), port(s, "guest-port")), state, bufAlloc,
                toGuestCap);
        byte[] h = s.getBytes("to-host"), g = s.getBytes("to-guest");
        if (h.length > c.toHost.room() || g.length > c.toGuest.room())
            throw new IllegalArgumentException(c.key + ": saved buffers exceed this device's limits");
        c.toHost.append(h, 0, h.length);
        c.preamble = count(s, "preamble");
        c.toGuest.append(g, 0, g.length);
        c.rxCnt = longCount(s, "rx-cnt");
        c.fwdCnt = longCount(s, "fwd-cnt");
        c.advertisedFwd = longCount(s, "advertised-fwd");
        c.txCnt = longCount(s, "tx-cnt");
        c.peerBufAlloc = longCount(s, "peer-buf-alloc");
        c.peerFwdCnt = longCount(s, "peer-fwd-cnt");
        c.peerShutdown = shutdownBits(s, "peer-shutdown");
        c.shutdownSent = shutdownBits(s, "shutdown-sent");
        c.hostEof = s.getBoolean("host-eof");
        c.hostOutputShut = s.getBoolean("host-output-shut");
        c.owed = count(s, "owed");
        c.creditAsked = s.getBoolean("credit-asked");
        return c;
    }

    /** A saved port: a u32, as the wire carries it. */
    private static long port(DeviceState s, String field) {
        long v = s.getLong(field);
        if (v < 0 || v > 0xFFFF_FFFFL) throw new IllegalArgumentException("a connection's " + field + " " + v + " is not a port");
        return v;
    }

    /** A saved count or size: never negative (an int field also fits an int). */
    private static int count(DeviceState s, String field) {
        int v = s.getInt(field);
        if (v < 0) throw new IllegalArgumentException("a connection's " + field + " " + v + " is negative");
        return v;
    }

    /** A saved byte count: never negative. */
    private static long longCount(DeviceState s, String field) {
        long v = s.getLong(field);
        if (v < 0) throw new IllegalArgumentException("a connection's " + field + " " + v + " is negative");
        return v;
    }

    /** Shutdown flags: receive (1) and send (2), nothing else. */
    private static int shutdownBits(DeviceState s, String field) {
        int v = s.getInt(field);
        if ((v & ~3) != 0) throw new IllegalArgumentException("a connection's " + field + " " + v + " has bits no shutdown has");
        return v;
    }
}
