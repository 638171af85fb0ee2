package device.virtio_net.protocol;

import java.util.List;

import vmm.core.device.EnumCounters;

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

    private final EnumCounters<Counter> values = new EnumCounters<>(Counter.class);

    public void add(Counter c, long n) {
        values.add(c, n);
    }

    public void increment(Counter c) {
        values.increment(c);
    }

    public long get(Counter c) {
        return values.get(c);
    }

    /** Values in {@link Counter} order, for saved state. */
    public List<Long> snapshot() {
        return values.snapshot();
    }

    /** Adopts saved values; a shorter list (an older format) leaves the rest at 0. */
    public void restore(List<Object> saved) {
        values.restore(saved);
    }

    @Override
    public String toString() {
        return values.toString();
    }
}
