package vmm.emu.internal.irq;

import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * The local APIC timer's counter (SDM vol. 3, 11.5.4): the initial count,
 * the divide configuration and the current count, in one-shot or periodic
 * mode, counting the bus clock. As in KVM, the bus clock runs at 1 GHz, so
 * one count lasts {@code divisor} nanoseconds. A periodic timer never fires
 * more often than every {@link #MIN_PERIOD_NS} (KVM's limit too), so a
 * guest cannot make the timer thread spin. TSC-deadline mode is not
 * implemented. Not thread-safe.
 */
final class ApicTimer {
    static final long MIN_PERIOD_NS = 200_000;
    static final int DCR_MASK = 0xb;

    private long initialCount;
    private int dcr;
    private boolean periodic;
    /** When the count was (re)started at {@link #initialCount}, in ns. */
    private long start;
    private long deadline = Timed.NEVER;

    void reset() {
        initialCount = 0;
        dcr = 0;
        periodic = false;
        deadline = Timed.NEVER;
    }

    /** The divisor of the divide configuration register: bits 3,1:0; 0b111 divides by 1, n by 2^(n+1). */
    static int divisor(int dcr) {
        int v = ((dcr & 8) >> 1) | (dcr & 3);
        return v == 7 ? 1 : 2 << v;
    }

    int divideConfiguration() {
        return dcr;
    }

    long initialCount() {
        return initialCount;
    }

    /** Writing the initial count restarts the count from it; 0 stops the timer. */
    void setInitialCount(long count, long now) {
        initialCount = count & 0xffff_ffffL;
        start = now;
        deadline = initialCount == 0 ? Timed.NEVER : now + period();
    }

    /** A new divisor takes effect from now on: the count reached so far is kept. */
    void setDivideConfiguration(int value, long now) {
        long current = currentCount(now);
        dcr = value & DCR_MASK;
        if (initialCount == 0 || deadline == Timed.NEVER) return;
        long div = divisor(dcr);
        start = now - (initialCount - current) * div;
        deadline = now + Math.max(current, 1) * div;
        if (periodic) deadline = Math.max(deadline, now + Math.min(MIN_PERIOD_NS, period()));
    }

    void setPeriodic(boolean periodic) {
        this.periodic = periodic;
    }

    private long period() {
        long p = initialCount * divisor(dcr);
        return periodic ? Math.max(p, MIN_PERIOD_NS) : p;
    }

    /** The current count register: counts down to 0; a one-shot timer stays at 0, a periodic one reloads. */
    long currentCount(long now) {
        if (initialCount == 0) return 0;
        long elapsed = Math.max(0, now - start) / divisor(dcr);
        if (!periodic) return elapsed >= initialCount ? 0 : initialCount - elapsed;
        return initialCount - elapsed % initialCount;
    }

    long deadline() {
        return deadline;
    }

    /** Returns whether the timer expired at or before {@code now}, and schedules the next expiry. */
    boolean expire(long now) {
        if (deadline > now) return false;
        if (!periodic) {
            deadline = Timed.NEVER;
            return true;
        }
        long p = period();
        long late = (now - deadline) / p + 1;
        // The count keeps its phase: the reload happens where the period ends.
        deadline += late * p;
        return true;
    }

    /** The counter's registers and where it stands in the VM's time, for a snapshot. */
    DeviceState save() {
        return DeviceState.builder("vmm.emu.apic-timer", 1).put("initial-count", initialCount)
                .put("dcr", dcr).put("periodic", periodic).put("start", start).put("deadline", deadline).build();
    }

    /** Puts back {@link #save()}'s state: the count goes on from where it stood, not restarted. */
    void restore(DeviceState s) {
        s.require("vmm.emu.apic-timer", 1);
        long nInitial = States.range(s, "initial-count", 0, 0xffff_ffffL);
        int nDcr = States.intRange(s, "dcr", 0, DCR_MASK);
        if ((nDcr & ~DCR_MASK) != 0)
            throw new IncompatibleStateException("vmm.emu.apic-timer state: DCR 0x" + Integer.toHexString(nDcr)
                    + " sets reserved bits");
        long nStart = States.range(s, "start", Long.MIN_VALUE / 2, Long.MAX_VALUE / 2);
        long nDeadline = States.range(s, "deadline", Long.MIN_VALUE / 2, Timed.NEVER);
        initialCount = nInitial;
        dcr = nDcr;
        periodic = s.getBoolean("periodic");
        start = nStart;
        deadline = nInitial == 0 ? Timed.NEVER : nDeadline;
    }
}
