package device.virtio_vsock.connection;

import java.nio.ByteBuffer;

/**
 * A FIFO of bytes with a hard capacity, grown on demand: one direction of
 * one connection. Not thread-safe (the owning {@link Connections} is not).
 */
final class ByteQueue {
    private final int capacity;
    private byte[] buf = new byte[0];
    private int start, size;

    ByteQueue(int capacity) {
        this.capacity = capacity;
    }

    int size() { return size; }
    boolean isEmpty() { return size == 0; }
    int room() { return capacity - size; }

    /** Appends {@code len} bytes; the caller checked {@link #room()}. */
    void append(byte[] b, int off, int len) {
        if (len > room()) throw new IllegalStateException("append of " + len + " bytes with room for " + room());
        if (start + size + len > buf.length) {
            int want = Math.min(capacity, Math.max(size + len, Math.max(4096, buf.length * 2)));
            byte[] n = want > buf.length ? new byte[want] : buf;
            System.arraycopy(buf, start, n, 0, size);
            buf = n;
            start = 0;
        }
        System.arraycopy(b, off, buf, start + size, len);
        size += len;
    }

    /** Copies the first {@code len} bytes (at most {@link #size()}) into a new array without removing them. */
    byte[] peek(int len) {
        byte[] out = new byte[Math.min(len, size)];
        System.arraycopy(buf, start, out, 0, out.length);
        return out;
    }

    /** Copies as much as fits into {@code dst} from the front, without removing it; returns the count. */
    int peekInto(ByteBuffer dst) {
        int n = Math.min(dst.remaining(), size);
        dst.put(buf, start, n);
        return n;
    }

    /** Removes the first {@code n} bytes (at most {@link #size()}). */
    void discard(int n) {
        n = Math.min(n, size);
        start += n;
        size -= n;
        if (size == 0) {
            start = 0;
            if (buf.length > 64 * 1024) buf = new byte[0]; // an idle connection keeps no large buffer
        }
    }

    void clear() {
        discard(size);
    }
}
