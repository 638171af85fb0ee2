package vmm.core.device;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Lets guest accesses to a device pass while its implementation is in
 * place and makes them wait, for a bounded time, while it is being
 * replaced. Accessors call {@link #enter()} / {@link #exit()} around every
 * call into the device model; the swapper calls {@link #close()} /
 * {@link #open()}. Thread-safe.
 */
public final class SwapGate {
    /** How long a guest access waits for a swap before it is answered as if no device decoded it. */
    public static final long DEFAULT_WAIT_MILLIS = 2000;

    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock(true);
    private final long waitMillis;
    private volatile long timedOut;

    public SwapGate() {
        this(DEFAULT_WAIT_MILLIS);
    }

    public SwapGate(long waitMillis) {
        this.waitMillis = waitMillis;
    }

    /**
     * Enters for one access. Returns false when the gate stayed closed for
     * the whole bound (the access must then behave as unclaimed: reads all
     * ones, writes dropped); the caller must not call {@link #exit()} then.
     */
    public boolean enter() {
        ReentrantReadWriteLock.ReadLock r = lock.readLock();
        if (r.tryLock()) return true;
        try {
            if (r.tryLock(waitMillis, TimeUnit.MILLISECONDS)) return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        timedOut++;
        return false;
    }

    public void exit() {
        lock.readLock().unlock();
    }

    /** Waits for accesses in progress to finish, then holds new ones. Reentrant for the closing thread. */
    public void close() {
        lock.writeLock().lock();
    }

    /** Lets held accesses proceed. */
    public void open() {
        lock.writeLock().unlock();
    }

    /** Whether the calling thread holds the gate closed. */
    public boolean isClosedByCurrentThread() {
        return lock.isWriteLockedByCurrentThread();
    }

    /** Accesses that gave up waiting (a racy count, for diagnostics). */
    public long timedOutAccesses() {
        return timedOut;
    }
}
