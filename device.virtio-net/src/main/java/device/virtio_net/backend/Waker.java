package device.virtio_net.backend;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * Wakes a data-path thread that waits in {@link NetBackend#await}: an
 * eventfd a native back end polls next to its own descriptor, plus a flag
 * and an unpark for back ends that wait in Java. One waker per waiting
 * thread. {@link #wake()} may be called from any thread, any number of
 * times; wakes before the wait are not lost.
 */
public final class Waker implements AutoCloseable {
    private final int fd;
    private final AtomicBoolean woken = new AtomicBoolean();
    private volatile Thread waiter;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment one, scratch, capture;

    public Waker() {
        capture = arena.allocate(Libc.CAPTURE);
        one = arena.allocate(8);
        one.set(ValueLayout.JAVA_LONG, 0, 1L);
        scratch = arena.allocate(8);
        try {
            fd = (int) Libc.eventfd.invokeExact(capture, 0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
        if (fd < 0) throw new IllegalStateException("eventfd: errno " + Libc.errno(capture));
    }

    /** The eventfd a native back end polls for POLLIN. */
    public int fd() {
        return fd;
    }

    public void wake() {
        if (woken.getAndSet(true)) return;
        try {
            long n = (long) Libc.write.invokeExact(capture, fd, one, 8L); // errno unused: the counter cannot overflow here
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
        Thread w = waiter;
        if (w != null) LockSupport.unpark(w);
    }

    /** Whether {@link #wake()} was called since the last {@link #clear()}. */
    public boolean isWoken() {
        return woken.get();
    }

    /** Consumes a wake; called by the waiting thread after it woke. */
    public synchronized void clear() {
        if (!woken.getAndSet(false)) return;
        drainFd();
    }

    /**
     * Empties the eventfd; a native back end calls it when poll saw the
     * eventfd readable. Needed because a wake racing {@link #clear()} can
     * leave the eventfd readable with the flag already consumed, and poll
     * would then return at once for ever.
     */
    public synchronized void drainFd() {
        try {
            long n = (long) Libc.read.invokeExact(capture, fd, scratch, 8L);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    /** Registers the calling thread as the one to unpark (for back ends that wait in Java). */
    public void bindCurrentThread() {
        waiter = Thread.currentThread();
    }

    @Override
    public void close() {
        try {
            int r = (int) Libc.close.invokeExact(capture, fd);
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
        arena.close();
    }
}
