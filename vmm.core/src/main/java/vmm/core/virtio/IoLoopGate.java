package vmm.core.virtio;

import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The handshake between a virtio device's control calls (activate, pause, resume, reset, stop: the transport's and
 * the swap's threads) and the device's own I/O loop threads, so that a device's code is only what a turn of its
 * loop does. Each loop thread asks {@link #next} for the context to serve; it parks there while the device is
 * paused, not activated or, by the device's own rule, not wanted; {@link #pause} and {@link #reset} return only once
 * every loop is parked, so the loops' state is then the caller's.
 *
 * <p>One {@link #lock()} guards the gate's state; a device may guard its own loop-shared state with it too. The
 * waits for idle loops are bounded by a guard, not a timing: a loop that does not park in
 * {@value #DRAIN_BOUND_S} s is a bug, reported as {@link IllegalStateException}. Thread-safe.
 */
public final class IoLoopGate {
    /** How long a pause waits for the loops to park before it gives up: a guard, not a timing. */
    public static final long DRAIN_BOUND_S = 10;

    private final String loops;
    private final Runnable wake;
    private final Object lock = new Object();
    /** Set once the loops are gone: later control calls do nothing. */
    private volatile boolean closed;
    // Guarded by lock.
    private final boolean[] idle;
    private VirtioContext ctx;
    private boolean paused, stopping;

    /**
     * @param loops   what the loops are, for the error message: "virtio-net n1: the I/O thread"
     * @param threads how many loop threads call {@link #next}, numbered from 0
     * @param wake    breaks every loop out of its own wait (an eventfd, a selector); any thread, under the lock or not
     */
    public IoLoopGate(String loops, int threads, Runnable wake) {
        this.loops = Objects.requireNonNull(loops, "loops");
        this.wake = Objects.requireNonNull(wake, "wake");
        this.idle = new boolean[threads];
        Arrays.fill(idle, true);
    }

    /** The lock of the gate's state; a device may hold it to guard state its loops share with control calls. */
    public Object lock() {
        return lock;
    }

    /**
     * Called by loop thread {@code thread} before each turn: parks while paused, not activated or {@code parked}
     * says so (read under the lock), running {@code onPark} (under the lock) the first time it parks after a turn;
     * returns the context to serve, or null when the device stops or the thread is interrupted (the loop ends).
     */
    public VirtioContext next(int thread, BooleanSupplier parked, Runnable onPark) {
        synchronized (lock) {
            while ((paused || ctx == null || parked.getAsBoolean()) && !stopping) {
                if (!idle[thread]) {
                    onPark.run();
                    idle[thread] = true;
                    lock.notifyAll();
                }
                try {
                    lock.wait();
                } catch (InterruptedException e) {
                    return null;
                }
            }
            if (stopping) {
                idle[thread] = true;
                lock.notifyAll();
                return null;
            }
            idle[thread] = false;
            return ctx;
        }
    }

    /** The context the loops serve, or null; read it under {@link #lock()} where it must not change meanwhile. */
    public VirtioContext context() {
        synchronized (lock) {
            return ctx;
        }
    }

    /** Whether the loops are gone ({@link #join} saw them end): what they used may be closed, kicks do nothing. */
    public boolean closed() {
        return closed;
    }

    /** The loops serve {@code context} from now on; {@code alsoUnderLock} runs with it under the lock, then the loops
     *  are woken. Any thread. */
    public void activate(VirtioContext context, Runnable alsoUnderLock) {
        update(() -> {
            ctx = context;
            alsoUnderLock.run();
        });
    }

    /** Runs {@code change} under the lock, then wakes the loops to look at their conditions again. Any thread. */
    public void update(Runnable change) {
        synchronized (lock) {
            change.run();
            lock.notifyAll();
        }
        wake.run();
    }

    /**
     * Parks every loop and returns once all are parked; nothing once they are gone. A control thread, never a loop
     * thread.
     *
     * @throws IllegalStateException when the loops do not park within the guard, or the caller is interrupted
     */
    public void pause() {
        if (closed) return;
        synchronized (lock) {
            paused = true;
            wake.run();
            awaitIdle();
        }
    }

    /** Marks the device paused without waiting: for a loop thread that gives up on a broken device. */
    public void halt() {
        synchronized (lock) {
            paused = true;
        }
    }

    /** Lets the loops run again and wakes them; nothing once they are gone. Any thread. */
    public void resume() {
        if (closed) return;
        update(() -> paused = false);
    }

    /**
     * Parks every loop as {@link #pause} does, runs {@code whileParked} (under the lock, the loops' state is the
     * caller's), forgets the context and leaves the device paused as it was; nothing once the loops are gone. A
     * control thread.
     */
    public void reset(Runnable whileParked) {
        if (closed) return;
        synchronized (lock) {
            boolean was = paused;
            paused = true;
            wake.run();
            awaitIdle();
            whileParked.run();
            ctx = null;
            paused = was;
        }
    }

    /**
     * Tells the loops to end and wakes them (outside the lock). Returns false when the device was stopping already
     * (nothing done). Any thread; then {@link #join} the loop threads.
     */
    public boolean stop() {
        synchronized (lock) {
            if (stopping) return false;
            stopping = paused = true;
            lock.notifyAll();
        }
        wake.run();
        return true;
    }

    /**
     * After {@link #stop}: waits for each of {@code threads} (null ones are skipped) within the guard; returns whether
     * all are gone, and then marks the gate {@link #closed}, so that what they touch may be closed. An interrupt ends
     * the waits early, the interrupt status set again.
     */
    public boolean join(Thread... threads) {
        boolean gone = true;
        for (Thread t : threads) {
            try {
                if (t != null) t.join(TimeUnit.SECONDS.toMillis(DRAIN_BOUND_S));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            gone &= t == null || !t.isAlive();
        }
        if (gone) closed = true;
        return gone;
    }

    private void awaitIdle() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(DRAIN_BOUND_S);
        while (!allIdle()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) throw new IllegalStateException(loops + " did not drain in " + DRAIN_BOUND_S + " s");
            try {
                lock.wait(Math.max(1, left / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while draining", e);
            }
        }
    }

    private boolean allIdle() {
        for (boolean i : idle) if (!i) return false;
        return true;
    }
}
