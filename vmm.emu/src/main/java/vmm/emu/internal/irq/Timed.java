package vmm.emu.internal.irq;

/**
 * A model with a timer: it says when it next needs attention and is brought
 * up to a time. Not thread-safe: the owner of the model's lock calls it.
 */
public interface Timed {
    /** {@link #nextDeadline()} when nothing is scheduled. */
    long NEVER = Long.MAX_VALUE;

    /** The virtual time (ns) at which the model next fires, or {@link #NEVER}. */
    long nextDeadline();

    /**
     * Fires whatever fell due at or before {@code now} (a periodic source late by
     * several periods fires once, as a coalesced interrupt) and schedules the next.
     */
    void advanceTo(long now);
}
