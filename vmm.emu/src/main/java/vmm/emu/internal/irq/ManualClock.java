package vmm.emu.internal.irq;

import java.util.concurrent.atomic.AtomicLong;
import vmm.emu.internal.cpu.VirtualClock;

/**
 * A {@link VirtualClock} that moves only when told, for tests and for a
 * deterministic run of the VM (time advanced by instructions retired).
 * Thread-safe.
 */
public final class ManualClock implements VirtualClock {
    private final AtomicLong now = new AtomicLong();

    @Override
    public long nanos() {
        return now.get();
    }

    /** Moves the clock forward by {@code delta} nanoseconds; returns the new time. */
    public long advance(long delta) {
        if (delta < 0) throw new IllegalArgumentException("a clock does not go back: " + delta);
        return now.addAndGet(delta);
    }

    /** Sets the clock to {@code nanos}, which must not be before the current time. */
    public void set(long nanos) {
        now.accumulateAndGet(nanos, (cur, to) -> {
            if (to < cur) throw new IllegalArgumentException("a clock does not go back: " + cur + " -> " + to);
            return to;
        });
    }
}
