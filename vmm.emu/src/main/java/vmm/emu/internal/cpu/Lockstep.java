package vmm.emu.internal.cpu;

import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * The turn-taking and the time of a deterministic run ({@code VmConfig.deterministic}), after QEMU's icount: the
 * vCPUs of a VM run one at a time, in index order, each for at most a quantum of instructions (less when a timer
 * falls due sooner), and the VM's time is the number of instructions they retired, one nanosecond each. Timers
 * fire between turns at their exact virtual time. When every vCPU is halted the time jumps to the next timer's
 * deadline; with none set it stands still until something outside the VM (a device's interrupt) wakes a vCPU.
 * So the same guest, with devices that complete their work while the notifying vCPU waits, runs the same
 * instructions and reads the same times on every run, whatever the host's speed and scheduling.
 *
 * <p>Thread-safe: each vCPU's own thread calls {@link #acquire} and {@link #release}; any thread {@link #poke}s
 * and reads the clock (a thread that does not hold the turn reads the time at the start of the current turn).
 */
public final class Lockstep implements VirtualClock {
    /** Instructions in a turn at most: short enough for a spinning vCPU to let the holder of a lock go on soon. */
    public static final long QUANTUM = 50_000;
    /** {@link #nextDeadline} when no timer is set. */
    private static final long NEVER = Long.MAX_VALUE;

    private final Machine[] vcpus;
    private final boolean[] gone;
    private volatile LongSupplier timers = () -> NEVER;

    // Guarded by this.
    private int turn;
    private int idleStreak;
    private long pokes, pokesAtIdleStart;
    private long nextDeadline = NEVER;
    private boolean closed;

    /** The time at the start of the current turn; written by the holder, read by any thread. */
    private volatile long base;
    /** The vCPU holding the turn and its instruction count when it took it; null between turns. */
    private volatile Machine holder;
    private volatile Thread holderThread;
    private long startCount;

    /** @param vcpus how many vCPUs take turns (indices 0 .. vcpus - 1) */
    public Lockstep(int vcpus) {
        if (vcpus < 1) throw new IllegalArgumentException("vcpus " + vcpus);
        this.vcpus = new Machine[vcpus];
        this.gone = new boolean[vcpus];
    }

    /**
     * The VM's timers: a call fires every timer due at {@link #nanos()} and returns the earliest deadline left
     * ({@code Long.MAX_VALUE} for none). Called between turns only.
     */
    public void setTimers(LongSupplier runDue) {
        this.timers = Objects.requireNonNull(runDue, "runDue");
    }

    /** Adds vCPU {@code m}, which takes its turns from now on. */
    synchronized void join(Machine m) {
        vcpus[m.index] = m;
        gone[m.index] = false;
    }

    /** vCPU {@code index} runs no more (closed): its turns are skipped. */
    public synchronized void leave(int index) {
        gone[index] = true;
        if (turn == index && holder == null) advance();
        notifyAll();
    }

    /** Ends every wait: the VM is closing; from now on each vCPU runs (and a halted one waits) on its own. */
    public synchronized void close() {
        closed = true;
        notifyAll();
    }

    /** Whether {@link #close()} was called. */
    synchronized boolean closed() {
        return closed;
    }

    @Override
    public long nanos() {
        Machine h = holder;
        if (h != null && Thread.currentThread() == holderThread) return base + (h.icount - startCount);
        return base;
    }

    /**
     * Something outside the VM's instruction stream may have given a vCPU work (an interrupt from a device
     * thread, a kick): a run where every vCPU is halted looks again. Any thread; cheap.
     */
    public synchronized void poke() {
        pokes++;
        notifyAll();
    }

    /**
     * Waits until it is {@code m}'s turn and takes it; returns how many instructions it may run, or -1 when the
     * vCPU was kicked meanwhile (it then holds no turn). Once the VM is closed every vCPU runs freely. Called by
     * {@code m}'s thread.
     */
    synchronized long acquire(Machine m) {
        boolean interrupted = false;
        try {
            while (turn != m.index || holder != null) {
                if (closed) return QUANTUM;
                if (m.kickPending()) return -1;
                try {
                    wait();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } finally {
            if (interrupted) Thread.currentThread().interrupt();
        }
        holder = m;
        holderThread = Thread.currentThread();
        startCount = m.icount;
        long left = nextDeadline == NEVER ? QUANTUM : nextDeadline - base;
        return Math.max(1, Math.min(QUANTUM, left));
    }

    /**
     * Ends {@code m}'s turn: the time moves on by what it retired, due timers fire, and the next vCPU's turn
     * begins. {@code idle}: it ran nothing because it is halted or waits for a start-up IPI. When every vCPU
     * was idle in a row the time jumps to the next deadline, or, with none, this waits for a {@link #poke}.
     */
    void release(Machine m, boolean idle) {
        boolean allIdle;
        synchronized (this) {
            if (holder != m) return;
            base += m.icount - startCount;
            holder = null;
            holderThread = null;
            // The turn stays m's until advanced below, so nobody else runs meanwhile.
            if (!idle) idleStreak = 0;
            else if (idleStreak++ == 0) pokesAtIdleStart = pokes;
            allIdle = idleStreak >= live();
        }
        // Timers run outside this monitor: they take the interrupt chip's lock, which a device thread may hold
        // while it wakes a vCPU and so pokes here.
        long next = timers.getAsLong();
        if (allIdle) {
            if (next != NEVER) {
                synchronized (this) {
                    if (next > base) base = next;
                }
                next = timers.getAsLong();
            } else {
                synchronized (this) {
                    boolean interrupted = false;
                    while (pokes == pokesAtIdleStart && !closed && !m.kickPending()) {
                        try {
                            wait();
                        } catch (InterruptedException e) {
                            interrupted = true;
                        }
                    }
                    if (interrupted) Thread.currentThread().interrupt();
                }
            }
        }
        synchronized (this) {
            nextDeadline = next;
            if (allIdle) idleStreak = 0;
            advance();
            notifyAll();
        }
    }

    private int live() {
        int n = 0;
        for (boolean g : gone) if (!g) n++;
        return Math.max(1, n);
    }

    private void advance() {
        for (int i = 1; i <= vcpus.length; i++) {
            int next = (turn + i) % vcpus.length;
            if (!gone[next]) {
                turn = next;
                return;
            }
        }
    }
}
