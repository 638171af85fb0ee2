package vmm.core;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/**
 * Waits in vmm.core's tests for a state another thread brings about (vmm.testing's HangGuard, which
 * these tests cannot depend on). The bound only keeps a broken build from hanging: a test returns as
 * soon as the state is there and never depends on how long anything takes.
 */
public final class Await {
    /** How long a test waits for a state before it calls it a hang. */
    public static final Duration BOUND = Duration.ofSeconds(60);

    private Await() {}

    /** Polls {@code condition} until it holds; an AssertionError naming {@code what} after {@link #BOUND}. */
    public static void until(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0)
                throw new AssertionError("still not the case after " + BOUND.toSeconds() + " s: " + what);
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting until " + what, e);
            }
        }
    }

    /** Waits until {@code t} is parked in a wait (held at a gate or a lock's condition, not running). */
    public static void untilWaiting(Thread t) {
        until(t.getName() + " waits", () -> {
            Thread.State s = t.getState();
            return s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING;
        });
    }
}
