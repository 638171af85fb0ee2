package vmm.core.device;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A device's counters, one per constant of {@code E}: thread-safe, saved
 * and restored as a list in the constants' order, so a device keeps them
 * across a swap. Counting is lock-free; a snapshot is not atomic across
 * counters. A device may use it as it is or name it by subclassing.
 *
 * @param <E> the counters, in the order they are saved
 * @since 1.3
 */
public class EnumCounters<E extends Enum<E>> {
    private final E[] counters;
    private final AtomicLongArray values;

    /** Counters for every constant of {@code type}, all 0. */
    public EnumCounters(Class<E> type) {
        this.counters = Objects.requireNonNull(type, "type").getEnumConstants();
        this.values = new AtomicLongArray(counters.length);
    }

    /** Adds {@code n} to {@code c}. Any thread. */
    public final void add(E c, long n) {
        values.addAndGet(c.ordinal(), n);
    }

    /** Adds 1 to {@code c}. Any thread. */
    public final void increment(E c) {
        values.incrementAndGet(c.ordinal());
    }

    /** The value of {@code c}. Any thread. */
    public final long get(E c) {
        return values.get(c.ordinal());
    }

    /** Values in the constants' order, for saved state. */
    public final List<Long> snapshot() {
        List<Long> l = new ArrayList<>();
        for (E c : counters) l.add(get(c));
        return l;
    }

    /**
     * Adopts saved values (a list {@link #snapshot()} made); a shorter list (an older format) leaves the rest
     * at 0, extra entries are ignored.
     *
     * @throws IncompatibleStateException when an entry is not a count (a Long of at least 0), from a hostile
     *                                    snapshot file; nothing is adopted then
     */
    public final void restore(List<Object> saved) {
        for (Object o : saved)
            if (!(o instanceof Long v) || v < 0)
                throw new IncompatibleStateException("saved counters hold " + o + ", not a count");
        for (int i = 0; i < Math.min(saved.size(), values.length()); i++) values.set(i, (Long) saved.get(i));
    }

    /** {@code {name=value, ...}} with the constants' names in lower case. */
    @Override
    public final String toString() {
        StringBuilder s = new StringBuilder("{");
        for (E c : counters)
            s.append(s.length() > 1 ? ", " : "").append(c.name().toLowerCase()).append('=').append(get(c));
        return s.append('}').toString();
    }
}
