package vmm.testing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import vmm.core.irq.IrqChip;
import vmm.core.irq.MsiMessage;

/**
 * An {@link IrqChip} that records what devices signal instead of
 * interrupting a CPU: the level of each GSI and every MSI, in order.
 * Thread-safe; waiting methods block until the event or the timeout.
 */
public final class InterruptRecorder implements IrqChip {
    private final Map<Integer, Boolean> levels = new HashMap<>();
    private final Map<Integer, Integer> risingEdges = new HashMap<>();
    private final List<MsiMessage> msis = new ArrayList<>();

    @Override
    public synchronized void setLevel(int gsi, boolean level) {
        Boolean old = levels.put(gsi, level);
        if (level && !Boolean.TRUE.equals(old)) risingEdges.merge(gsi, 1, Integer::sum);
        notifyAll();
    }

    @Override
    public synchronized void signalMsi(MsiMessage message) {
        msis.add(message);
        notifyAll();
    }

    /** Whether {@code gsi} is driven high now. */
    public synchronized boolean level(int gsi) {
        return levels.getOrDefault(gsi, false);
    }

    /** How many times {@code gsi} went from low to high. */
    public synchronized int risingEdges(int gsi) {
        return risingEdges.getOrDefault(gsi, 0);
    }

    /** Every MSI so far, in order. */
    public synchronized List<MsiMessage> msis() {
        return List.copyOf(msis);
    }

    /** How many MSIs carried {@code data}. */
    public synchronized int msiCount(int data) {
        int n = 0;
        for (MsiMessage m : msis) if (m.data() == data) n++;
        return n;
    }

    /**
     * Waits until at least {@code count} MSIs with {@code data} were
     * recorded; returns whether they were within {@code timeout}.
     */
    public synchronized boolean awaitMsiCount(int data, int count, Duration timeout) {
        return awaitRecorded(() -> msiCount(data) >= count, timeout);
    }

    /** Waits until {@code gsi} is high; returns whether it was within {@code timeout}. */
    public synchronized boolean awaitLevel(int gsi, Duration timeout) {
        return awaitRecorded(() -> level(gsi), timeout);
    }

    /** Waits on this recorder until {@code done} holds; false on timeout or interrupt (the status set again). */
    private synchronized boolean awaitRecorded(java.util.function.BooleanSupplier done, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!done.getAsBoolean()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) return false;
            try {
                wait(Math.max(1, left / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    /** Forgets recorded MSIs and edge counts; levels stay. */
    public synchronized void clear() {
        msis.clear();
        risingEdges.clear();
    }
}
