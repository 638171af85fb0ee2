package device.uart.backend;

/**
 * A bounded byte ring between the UART (producer, never blocks) and a back
 * end's writer thread (consumer, blocks). Thread-safe.
 */
final class OutputQueue {
    private final byte[] ring;
    private int head, count;
    private long dropped;
    private boolean closed;

    OutputQueue(int capacity) {
        ring = new byte[capacity];
    }

    /** Copies what fits; drops and counts the rest. */
    synchronized void offer(byte[] b, int off, int len) {
        if (closed) {
            dropped += len;
            return;
        }
        int n = Math.min(len, ring.length - count);
        for (int i = 0; i < n; i++) ring[(head + count + i) % ring.length] = b[off + i];
        count += n;
        dropped += len - n;
        if (n > 0) notifyAll();
    }

    /**
     * Waits for queued bytes and moves up to {@code dst.length} of them;
     * returns -1 once closed and empty.
     */
    synchronized int take(byte[] dst) throws InterruptedException {
        while (count == 0 && !closed) wait();
        if (count == 0) return -1;
        int n = Math.min(dst.length, count);
        for (int i = 0; i < n; i++) dst[i] = ring[(head + i) % ring.length];
        head = (head + n) % ring.length;
        count -= n;
        return n;
    }

    /** No more offers; {@link #take} returns what is left, then -1. */
    synchronized void close() {
        closed = true;
        notifyAll();
    }

    synchronized long dropped() {
        return dropped;
    }

    synchronized int queued() {
        return count;
    }
}
