package device.virtio_net.protocol;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Per-device counters: what went through, and what the device refused and
 * why (a hostile or broken guest shows up here, not as a VMM failure).
 * Thread-safe; kept across a swap in the saved state.
 */
public final class NetCounters {
    public enum Counter {
        TX_PACKETS, TX_BYTES,
        /** Transmit chains refused: too short for a header, bad header fields, oversized frames. */
        TX_DROPPED,
        /** Frames the back end would not take (it was full or gone). */
        TX_BACKEND_ERRORS,
        RX_PACKETS, RX_BYTES,
        /** Received frames the guest's buffers could not hold. */
        RX_DROPPED,
        /** Received frames the RX mode or MAC table kept from the guest. */
        RX_FILTERED,
        /** Control commands answered VIRTIO_NET_ERR. */
        CTRL_ERRORS,
        /** Times the receive path stopped reading the back end because the guest had posted no buffer. */
        RX_STALLS
    }

    private final AtomicLongArray values = new AtomicLongArray(Counter.values().length);

    public void add(Counter c, long n) {
        values.addAndGet(c.ordinal(), n);
    }

    public void increment(Counter c) {
        values.incrementAndGet(c.ordinal());
    }

    public long get(Counter c) {
        return values.get(c.ordinal());
    }

    /** Values in {@link Counter} order, for saved state. */
    public List<Long> snapshot() {
        List<Long> l = new ArrayList<>();
        for (Counter c : Counter.values()) l.add(get(c));
        return l;
    }

    /** Adopts saved values; a shorter list (an older format) leaves the rest at 0. */
    public void restore(List<Object> saved) {
        for (int i = 0; i < Math.min(saved.size(), values.length()); i++) values.set(i, (Long) saved.get(i));
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("{");
        for (Counter c : Counter.values()) s.append(s.length() > 1 ? ", " : "").append(c.name().toLowerCase()).append('=').append(get(c));
        return s.append('}').toString();
    }
}
