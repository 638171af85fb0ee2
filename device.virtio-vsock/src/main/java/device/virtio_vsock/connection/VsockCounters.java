package device.virtio_vsock.connection;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Per-device counters: traffic, and what the device refused and why (a
 * hostile guest shows up here, not as a VMM failure). Thread-safe; kept in
 * the saved state across a swap.
 */
public final class VsockCounters {
    public enum Counter {
        /** Packets taken from the transmit queue, and sent into the receive queue. */
        TX_PACKETS, RX_PACKETS,
        /** Payload bytes the guest sent to host sockets, and host sockets sent to the guest. */
        TO_HOST_BYTES, TO_GUEST_BYTES,
        /** Connections established, in either direction. */
        CONNECTIONS,
        /** RSTs the device sent. */
        RESETS_SENT,
        /** Guest packets refused: bad fields, unknown ops, credit overrun, a chain too short for its header. */
        BAD_PACKETS,
        /** Guest packets dropped for a source CID other than the guest's own. */
        SPOOFED,
        /** Connections refused for want of room (the connection limit) or a host socket. */
        REFUSED,
        /** RSTs not sent because the queue of them was full (the guest was not taking packets). */
        RESETS_DROPPED
    }

    private final AtomicLongArray values = new AtomicLongArray(Counter.values().length);

    public void add(Counter c, long n) { values.addAndGet(c.ordinal(), n); }
    public void increment(Counter c) { values.incrementAndGet(c.ordinal()); }
    public long get(Counter c) { return values.get(c.ordinal()); }

    /** Values in {@link Counter} order, for saved state. */
    public List<Long> snapshot() {
        List<Long> l = new ArrayList<>();
        for (Counter c : Counter.values()) l.add(get(c));
        return l;
    }

    /** Adopts saved values; a shorter list leaves the rest at 0. */
    public void restore(List<Object> saved) {
        for (int i = 0; i < Math.min(saved.size(), values.length()); i++) values.set(i, (Long) saved.get(i));
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("{");
        for (Counter c : Counter.values())
            s.append(s.length() > 1 ? ", " : "").append(c.name().toLowerCase()).append('=').append(get(c));
        return s.append('}').toString();
    }
}
