package vmm.testing;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/**
 * The one bound a test waits under for something that must happen: long enough that only a hang
 * reaches it, however loaded the machine (a test waits for the state it asserts, and returns as soon
 * as it is there; it never asserts that something happened within a guessed time).
 */
public final class HangGuard {
    /** How long a test waits for a state before it calls it a hang. */
    public static final Duration BOUND = Duration.ofSeconds(60);

    private HangGuard() {}

    /**
     * Polls {@code condition} (every millisecond or so) until it holds; any thread.
     *
     * @throws AssertionError when it still does not hold after {@link #BOUND}, or the thread is interrupted
     */
    public static void await(BooleanSupplier condition, String what) {
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
}
