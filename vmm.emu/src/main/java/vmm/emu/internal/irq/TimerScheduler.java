package vmm.emu.internal.irq;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.LockSupport;
import vmm.emu.internal.cpu.VirtualClock;

/**
 * Runs the {@link Timed} models of one VM against one {@link VirtualClock}:
 * either from one timer thread ({@link #start}) or step by step from a test or
 * a deterministic run ({@link #runDue}). Every model is advanced while holding
 * {@code lock}, the lock that guards the models (the interrupt chip's).
 * Thread-safe.
 */
public final class TimerScheduler implements AutoCloseable {
    /** The longest the timer thread sleeps without looking at the clock again (a guard against lost wake-ups). */
    private static final long MAX_SLEEP_NS = 50_000_000L;

    private final VirtualClock clock;
    private final Object lock;
    private final List<Timed> models = new CopyOnWriteArrayList<>();
    private volatile Thread thread;
    private volatile boolean closed;
    private volatile boolean changed;

    public TimerScheduler(VirtualClock clock, Object lock) {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.lock = Objects.requireNonNull(lock, "lock");
    }

    public VirtualClock clock() {
        return clock;
    }

    /** Adds a model; it is run from the next {@link #runDue} on. */
    public void add(Timed model) {
        models.add(Objects.requireNonNull(model, "model"));
        changed();
    }

    /**
     * Advances every model whose deadline is at or before the clock's time now, and
     * returns the earliest deadline left ({@link Timed#NEVER} if none). Any thread.
     */
    public long runDue() {
        synchronized (lock) {
            long now = clock.nanos();
            long next = Timed.NEVER;
            for (Timed t : models) {
                if (t.nextDeadline() <= now) t.advanceTo(now);
                next = Math.min(next, t.nextDeadline());
            }
            return next;
        }
    }

    /** The earliest deadline of all models, without running any. */
    public long nextDeadline() {
        synchronized (lock) {
            long next = Timed.NEVER;
            for (Timed t : models) next = Math.min(next, t.nextDeadline());
            return next;
        }
    }

    /**
     * Says that a deadline may have moved (the guest programmed a timer), so the
     * timer thread looks again. Cheap; any thread, with or without the lock.
     */
    public void changed() {
        changed = true;
        Thread t = thread;
        if (t != null) LockSupport.unpark(t);
    }

    /**
     * Starts the timer thread, which sleeps until the earliest deadline (in the
     * clock's nanoseconds) and runs the models due then.
     *
     * @throws IllegalStateException if started before or closed
     */
    public synchronized void start(String name) {
        if (thread != null || closed) throw new IllegalStateException("timer thread already started or closed");
        thread = Thread.ofPlatform().daemon().name(name).unstarted(this::loop);
        thread.start();
    }

    private void loop() {
        while (!closed) {
            changed = false;
            long next = runDue();
            if (changed || closed) continue;
            long wait = next == Timed.NEVER ? MAX_SLEEP_NS : next - clock.nanos();
            if (wait > 0) LockSupport.parkNanos(this, Math.min(wait, MAX_SLEEP_NS));
        }
    }

    /** Stops the timer thread and waits for it; the models stay as they are. */
    @Override
    public void close() {
        closed = true;
        Thread t = thread;
        if (t == null) return;
        LockSupport.unpark(t);
        if (t == Thread.currentThread()) return;
        boolean interrupted = false;
        while (t.isAlive()) {
            try {
                t.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }
}
