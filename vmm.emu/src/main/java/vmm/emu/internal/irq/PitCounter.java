package vmm.emu.internal.irq;

import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * One counter of the 8254 (8254 datasheet, "Modes"), computed from the time
 * its count was loaded rather than ticked: the count read or latched, OUT,
 * and the next rising edge of OUT, all in input-clock ticks. A count written
 * while counting takes effect at once (as in KVM and QEMU), not at the end of
 * the current period. Not thread-safe.
 */
final class PitCounter {
    static final int MODE_TERMINAL_COUNT = 0, MODE_ONE_SHOT = 1, MODE_RATE = 2, MODE_SQUARE = 3,
            MODE_SOFTWARE_STROBE = 4, MODE_HARDWARE_STROBE = 5;

    int rw = Pit8254.RW_LSB_MSB, mode;
    /** The mode bits as the control word wrote them (6 and 7 stay as written; the status reads them back). */
    private int modeBits;
    boolean bcd, gate;
    /** The count as loaded: 1-65536 (binary) or 1-10000 (BCD); 0 before the first count. */
    private long count;
    private boolean loaded, triggered, nullCount;
    private long loadTick;
    /** Ticks counted when the gate went low in modes 0 and 4, which suspend counting. */
    private long suspendedAt;
    private boolean writeMsbNext, readMsbNext;
    private int lsbWritten;
    private int latched = -1, latchedStatus = -1;
    private boolean latchedMsbNext;

    void reset() {
        rw = Pit8254.RW_LSB_MSB;
        mode = modeBits = 0;
        bcd = false;
        gate = false;
        count = 0;
        loaded = triggered = nullCount = false;
        writeMsbNext = readMsbNext = latchedMsbNext = false;
        latched = latchedStatus = -1;
    }

    /** A control word for this counter: access, mode (6 and 7 act as 2 and 3) and BCD; OUT to its initial state. */
    void program(int rw, int mode, boolean bcd) {
        this.rw = rw;
        this.modeBits = mode;
        this.mode = mode > MODE_HARDWARE_STROBE ? mode & 3 : mode;
        this.bcd = bcd;
        loaded = triggered = false;
        nullCount = true;
        writeMsbNext = readMsbNext = latchedMsbNext = false;
        latched = latchedStatus = -1;
    }

    void writeCount(int value, long t) {
        int raw;
        switch (rw) {
            case Pit8254.RW_LSB -> raw = value;
            case Pit8254.RW_MSB -> raw = value << 8;
            default -> {
                if (!writeMsbNext) {
                    lsbWritten = value;
                    writeMsbNext = true;
                    // In mode 0 the first byte already stops the count (OUT goes low).
                    if (mode == MODE_TERMINAL_COUNT) loaded = false;
                    return;
                }
                writeMsbNext = false;
                raw = lsbWritten | value << 8;
            }
        }
        load(raw, t);
    }

    private void load(int raw, long t) {
        long n = bcd ? fromBcd(raw) : raw;
        count = n == 0 ? modulus() : n;
        loaded = true;
        nullCount = false;
        loadTick = t;
        suspendedAt = 0;
        // Modes 1 and 5 wait for a rising gate edge; the others count (a low gate suspends or holds them).
        triggered = mode != MODE_ONE_SHOT && mode != MODE_HARDWARE_STROBE;
    }

    private long modulus() {
        return bcd ? 10_000 : 65_536;
    }

    static int fromBcd(int v) {
        return (v >> 12 & 0xf) * 1000 + (v >> 8 & 0xf) * 100 + (v >> 4 & 0xf) * 10 + (v & 0xf);
    }

    static int toBcd(long v) {
        return (int) (v / 1000 % 10 << 12 | v / 100 % 10 << 8 | v / 10 % 10 << 4 | v % 10);
    }

    void setGate(boolean level, long t) {
        if (level == gate) return;
        gate = level;
        if (!loaded) return;
        switch (mode) {
            case MODE_TERMINAL_COUNT, MODE_SOFTWARE_STROBE -> {
                if (!level) suspendedAt = t - loadTick;
                else loadTick = t - suspendedAt;
            }
            // A rising gate restarts the rate generators and triggers the one-shots.
            default -> {
                if (level) {
                    loadTick = t;
                    triggered = true;
                }
            }
        }
    }

    /** Ticks counted since the count was loaded or triggered, with gate suspensions left out. */
    private long elapsed(long t) {
        if ((mode == MODE_TERMINAL_COUNT || mode == MODE_SOFTWARE_STROBE) && !gate) return suspendedAt;
        return Math.max(0, t - loadTick);
    }

    private boolean counting() {
        return loaded && triggered;
    }

    boolean out(long t) {
        if (!counting()) return mode != MODE_TERMINAL_COUNT;
        long d = elapsed(t);
        return switch (mode) {
            case MODE_TERMINAL_COUNT, MODE_ONE_SHOT -> d >= count;
            case MODE_RATE -> !gate || d % count != count - 1;
            case MODE_SQUARE -> !gate || d % count < (count + 1) / 2;
            default -> d != count; // the strobes: low for the one tick at terminal count
        };
    }

    /** The counting element's value now, as a read or latch sees it. */
    long value(long t) {
        if (!counting()) return count % modulus();
        long d = elapsed(t), m = modulus();
        return switch (mode) {
            case MODE_RATE -> gate ? count - d % count : count;
            // Mode 3 counts down by two each clock and reloads every half period.
            case MODE_SQUARE -> gate ? count - (2 * d) % count : count;
            default -> Math.floorMod(count - d, m); // counts on past zero, wrapping
        } % m;
    }

    /**
     * The tick of OUT's next rising edge after {@code t}, or {@link Timed#NEVER}:
     * terminal count in modes 0 and 1, the end of the strobe in 4 and 5, each
     * period's end in 2 and 3 (periods shorter than {@code minPeriod} stretched to it).
     */
    long nextRisingEdge(long t, long minPeriod) {
        if (!counting()) return Timed.NEVER;
        // The gate stops modes 0, 2, 3 and 4; modes 1 and 5 run on once triggered.
        if (!gate && mode != MODE_ONE_SHOT && mode != MODE_HARDWARE_STROBE) return Timed.NEVER;
        long d = Math.max(0, t - loadTick);
        switch (mode) {
            case MODE_RATE, MODE_SQUARE -> {
                long p = Math.max(count, minPeriod);
                return loadTick + (d / p + 1) * p;
            }
            case MODE_TERMINAL_COUNT, MODE_ONE_SHOT -> {
                return d < count ? loadTick + count : Timed.NEVER;
            }
            default -> {
                return d < count + 1 ? loadTick + count + 1 : Timed.NEVER;
            }
        }
    }

    void latchCount(long t) {
        if (latched >= 0) return; // a second latch before the first is read is ignored
        long v = value(t);
        latched = bcd ? toBcd(v) : (int) (v & 0xffff);
        latchedMsbNext = false;
    }

    void latchStatus(long t) {
        if (latchedStatus >= 0) return;
        latchedStatus = (out(t) ? Pit8254.STATUS_OUT : 0) | (nullCount ? Pit8254.STATUS_NULL_COUNT : 0)
                | rw << Pit8254.CW_RW_SHIFT | modeBits << Pit8254.CW_MODE_SHIFT | (bcd ? Pit8254.CW_BCD : 0);
    }

    /** A read of the counter's port: a latched status first, then a latched count, else the live count. */
    int read(long t) {
        if (latchedStatus >= 0) {
            int s = latchedStatus;
            latchedStatus = -1;
            return s;
        }
        if (latched >= 0) {
            int v = latched;
            switch (rw) {
                case Pit8254.RW_LSB -> latched = -1;
                case Pit8254.RW_MSB -> {
                    latched = -1;
                    return v >>> 8 & 0xff;
                }
                default -> {
                    if (latchedMsbNext) {
                        latched = -1;
                        latchedMsbNext = false;
                        return v >>> 8 & 0xff;
                    }
                    latchedMsbNext = true;
                }
            }
            return v & 0xff;
        }
        long raw = value(t);
        int v = bcd ? toBcd(raw) : (int) (raw & 0xffff);
        return switch (rw) {
            case Pit8254.RW_LSB -> v & 0xff;
            case Pit8254.RW_MSB -> v >>> 8 & 0xff;
            default -> {
                readMsbNext = !readMsbNext;
                yield readMsbNext ? v & 0xff : v >>> 8 & 0xff;
            }
        };
    }

    /** Every register and latch of the counter, for a snapshot. */
    DeviceState save() {
        return DeviceState.builder("vmm.emu.8254-counter", 1).put("rw", rw).put("mode", mode)
                .put("mode-bits", modeBits).put("bcd", bcd).put("gate", gate).put("count", count).put("loaded", loaded)
                .put("triggered", triggered).put("null-count", nullCount).put("load-tick", loadTick)
                .put("suspended-at", suspendedAt).put("write-msb-next", writeMsbNext).put("read-msb-next", readMsbNext)
                .put("lsb-written", lsbWritten).put("latched", latched).put("latched-status", latchedStatus)
                .put("latched-msb-next", latchedMsbNext).build();
    }

    /** Puts back {@link #save()}'s state, checked first: a bad value changes nothing. */
    void restore(DeviceState s) {
        s.require("vmm.emu.8254-counter", 1);
        int nRw = States.intRange(s, "rw", Pit8254.RW_LSB, Pit8254.RW_LSB_MSB);
        int nModeBits = States.intRange(s, "mode-bits", 0, 7);
        int nMode = States.intRange(s, "mode", 0, MODE_HARDWARE_STROBE);
        if (nMode != (nModeBits > MODE_HARDWARE_STROBE ? nModeBits & 3 : nModeBits))
            throw new IncompatibleStateException("vmm.emu.8254-counter state: mode " + nMode
                    + " does not follow the mode bits " + nModeBits);
        boolean nBcd = s.getBoolean("bcd"), nLoaded = s.getBoolean("loaded");
        // A loaded count divides the elapsed ticks: it is never 0.
        long nCount = States.range(s, "count", nLoaded ? 1 : 0, nBcd ? 10_000 : 65_536);
        long nLoadTick = States.range(s, "load-tick", 0, Long.MAX_VALUE / 2);
        long nSuspended = States.range(s, "suspended-at", 0, Long.MAX_VALUE / 2);
        int nLsb = States.intRange(s, "lsb-written", 0, 0xff), nLatched = States.intRange(s, "latched", -1, 0xffff),
                nStatus = States.intRange(s, "latched-status", -1, 0xff);
        rw = nRw;
        mode = nMode;
        modeBits = nModeBits;
        bcd = nBcd;
        gate = s.getBoolean("gate");
        count = nCount;
        loaded = nLoaded;
        triggered = s.getBoolean("triggered");
        nullCount = s.getBoolean("null-count");
        loadTick = nLoadTick;
        suspendedAt = nSuspended;
        writeMsbNext = s.getBoolean("write-msb-next");
        readMsbNext = s.getBoolean("read-msb-next");
        lsbWritten = nLsb;
        latched = nLatched;
        latchedStatus = nStatus;
        latchedMsbNext = s.getBoolean("latched-msb-next");
    }
}
