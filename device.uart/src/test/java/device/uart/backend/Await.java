package device.uart.backend;

import java.util.function.BooleanSupplier;

/**
 * Waits for a condition another thread brings about. The bound only keeps a
 * broken build from hanging; no test depends on how long anything takes.
 */
final class Await {
    private static final long HANG_GUARD_NANOS = 60_000_000_000L;

    private Await() {}

    static void until(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + HANG_GUARD_NANOS;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("never happened: " + what);
            Thread.onSpinWait();
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for: " + what);
            }
        }
    }
}
