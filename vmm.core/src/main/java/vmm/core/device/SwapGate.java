package vmm.core.device;

/**
 * Lets guest accesses to a device pass while its implementation is in
 * place and makes them wait, for a bounded time, while it is being replaced
 * or while no implementation is present. Accessors call {@link #enter()} /
 * {@link #exit()} around every call into the device model; the swapper
 * calls {@link #close()} / {@link #open()}, possibly from different threads
 * (a device's provider can leave on one thread and its successor arrive on
 * another). Thread-safe.
 */
public final class SwapGate {
    /** How long a guest access waits for a swap before it is answered as if no device decoded it. */
    public static final long DEFAULT_WAIT_MILLIS = 2000;

    private final long waitNanos;
    private boolean closed;
    private Thread closer;
    private int active;
    private long timedOut;

    public SwapGate() {
        this(DEFAULT_WAIT_MILLIS);
    }

    public SwapGate(long waitMillis) {
        this.waitNanos = waitMillis * 1_000_000L;
    }

    /**
     * Enters for one access. Returns false when the gate stayed closed for
     * the whole bound (the access must then behave as unclaimed: reads all
     * ones, writes dropped); the caller must not call {@link #exit()} then.
     * The thread that closed the gate passes straight through, so a swapper
     * can call into the device it is installing.
     */
    public synchronized boolean enter() {
        if (closed && closer != Thread.currentThread()) {
            long deadline = System.nanoTime() + waitNanos;
            while (closed) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    timedOut++;
                    return false;
                }
                try {
                    wait(Math.max(1, left / 1_000_000L));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    timedOut++;
                    return false;
                }
            }
        }
        active++;
        return true;
    }

    /**
     * One guest read through the gate: {@link #enter()}, {@code access}, {@link #exit()}; {@code unclaimed} (what
     * an address nobody decodes reads) when the gate stayed closed for the whole bound.
     */
    public long pass(java.util.function.LongSupplier access, long unclaimed) {
        if (!enter()) return unclaimed;
        try {
            return access.getAsLong();
        } finally {
            exit();
        }
    }

    /** One guest write through the gate; dropped when the gate stayed closed for the whole bound. */
    public void pass(Runnable access) {
        if (!enter()) return;
        try {
            access.run();
        } finally {
            exit();
        }
    }

    /** Leaves after a successful {@link #enter()}. */
    public synchronized void exit() {
        if (--active == 0) notifyAll();
    }

    /**
     * Waits until no access is in progress, then holds new ones. A second
     * closer waits until the first has opened the gate again.
     */
    public synchronized void close() {
        boolean interrupted = false;
        while (closed) {
            try {
                wait();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        closed = true;
        closer = Thread.currentThread();
        while (active > 0) {
            try {
                wait();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }

    /** Lets held and future accesses proceed; may be called from any thread. */
    public synchronized void open() {
        closed = false;
        closer = null;
        notifyAll();
    }

    /** Whether the gate is closed now. */
    public synchronized boolean isClosed() {
        return closed;
    }

    /** Whether the calling thread is the one that closed the gate. */
    public synchronized boolean isClosedByCurrentThread() {
        return closed && closer == Thread.currentThread();
    }

    /** Accesses that gave up waiting. */
    public synchronized long timedOutAccesses() {
        return timedOut;
    }
}
