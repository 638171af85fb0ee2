package vmm.emu.internal.irq;

import java.util.Objects;
import vmm.emu.internal.cpu.VirtualClock;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * The Intel 8254 programmable interval timer of a PC as a register model:
 * three counters at ports 0x40-0x42 clocked at 1.193182 MHz and the control
 * word register at 0x43 (modes 0-5, binary or BCD, LSB/MSB access with its
 * flip-flop, the counter latch and read-back commands), with counter 0's OUT
 * on IRQ0 and counter 2's gate and OUT on port 0x61 (bits 0 and 5), as KVM's
 * speaker port has them. Counters 0 and 1 have their gates tied high. Time
 * comes from a {@link VirtualClock}; IRQ0 is pulsed on each rising edge of
 * counter 0's OUT (in periodic modes no more often than every
 * {@link #MIN_PERIOD_NS}, KVM's limit, so a guest cannot make the timer
 * thread spin). Not thread-safe.
 */
public final class Pit8254 implements Timed, PortDevice {
    public static final int PORT_COUNTER0 = 0x40, PORT_CONTROL = 0x43, PORT_SPEAKER = 0x61;
    public static final long FREQUENCY_HZ = 1_193_182L;
    static final long MIN_PERIOD_NS = 200_000;
    static final long MIN_PERIOD_TICKS = (MIN_PERIOD_NS * FREQUENCY_HZ + 999_999_999L) / 1_000_000_000L;
    static final long NANOS_PER_SECOND = 1_000_000_000L;

    // Control word (8254 datasheet, figure 8).
    static final int CW_SELECT_SHIFT = 6, CW_RW_SHIFT = 4, CW_MODE_SHIFT = 1, CW_BCD = 1;
    static final int SELECT_READ_BACK = 3, RW_LATCH = 0, RW_LSB = 1, RW_MSB = 2, RW_LSB_MSB = 3;
    // Read-back command: bit 5 clear latches counts, bit 4 clear latches status, bits 3:1 pick counters 2..0.
    static final int RB_NO_COUNT = 1 << 5, RB_NO_STATUS = 1 << 4;
    // Status byte.
    static final int STATUS_OUT = 1 << 7, STATUS_NULL_COUNT = 1 << 6;
    // Port 0x61.
    static final int SPEAKER_GATE2 = 1, SPEAKER_DATA = 1 << 1, SPEAKER_REFRESH = 1 << 4, SPEAKER_OUT2 = 1 << 5;
    /** Port 0x61's refresh bit toggles every 2^14 ns (about 15 us), as in KVM. */
    static final int REFRESH_SHIFT = 14;

    private final VirtualClock clock;
    private final Runnable irq0;
    private final PitCounter[] counters = {new PitCounter(), new PitCounter(), new PitCounter()};
    private boolean speakerData;
    private long nextIrqTick = Timed.NEVER;

    /** @param irq0 pulses IRQ0 (a rising and a falling edge) */
    public Pit8254(VirtualClock clock, Runnable irq0) {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.irq0 = Objects.requireNonNull(irq0, "irq0");
        reset();
    }

    /** Power-on: no counts written, gates 0 and 1 high, gate 2 low. */
    public void reset() {
        for (PitCounter c : counters) c.reset();
        counters[0].gate = counters[1].gate = true;
        speakerData = false;
        nextIrqTick = Timed.NEVER;
    }

    static long ticksAt(long nanos) {
        return nanos / NANOS_PER_SECOND * FREQUENCY_HZ + nanos % NANOS_PER_SECOND * FREQUENCY_HZ / NANOS_PER_SECOND;
    }

    /** The first nanosecond at which {@link #ticksAt} reaches {@code ticks}. */
    static long nanosAt(long ticks) {
        long whole = ticks / FREQUENCY_HZ, rest = ticks % FREQUENCY_HZ;
        return whole * NANOS_PER_SECOND + (rest * NANOS_PER_SECOND + FREQUENCY_HZ - 1) / FREQUENCY_HZ;
    }

    private long now() {
        return ticksAt(clock.nanos());
    }

    /** Reads port 0x40-0x43 or 0x61; the control port reads all ones, as on an 8254 with no read of it. */
    @Override
    public int read(int port) {
        long t = catchUp();
        if (port == PORT_SPEAKER) {
            PitCounter c2 = counters[2];
            int refresh = (int) (clock.nanos() >>> REFRESH_SHIFT) & 1;
            return (c2.gate ? SPEAKER_GATE2 : 0) | (speakerData ? SPEAKER_DATA : 0)
                    | (refresh != 0 ? SPEAKER_REFRESH : 0) | (c2.out(t) ? SPEAKER_OUT2 : 0);
        }
        if (port < PORT_COUNTER0 || port > PORT_COUNTER0 + 2) return 0xff;
        return counters[port - PORT_COUNTER0].read(t);
    }

    /** Writes port 0x40-0x43 or 0x61 (bit 0: counter 2's gate, bit 1: speaker data). */
    @Override
    public void write(int port, int value) {
        long t = catchUp();
        value &= 0xff;
        if (port == PORT_SPEAKER) {
            counters[2].setGate((value & SPEAKER_GATE2) != 0, t);
            speakerData = (value & SPEAKER_DATA) != 0;
        } else if (port == PORT_CONTROL) {
            control(value, t);
        } else if (port >= PORT_COUNTER0 && port < PORT_CONTROL) {
            counters[port - PORT_COUNTER0].writeCount(value, t);
        }
        schedule(t);
    }

    private void control(int value, long t) {
        int select = value >>> CW_SELECT_SHIFT;
        if (select == SELECT_READ_BACK) {
            for (int i = 0; i < 3; i++) {
                if ((value & (2 << i)) == 0) continue;
                if ((value & RB_NO_COUNT) == 0) counters[i].latchCount(t);
                if ((value & RB_NO_STATUS) == 0) counters[i].latchStatus(t);
            }
            return;
        }
        int rw = (value >>> CW_RW_SHIFT) & 3;
        if (rw == RW_LATCH) counters[select].latchCount(t);
        else counters[select].program(rw, (value >>> CW_MODE_SHIFT) & 7, (value & CW_BCD) != 0);
    }

    /** Fires IRQ0 edges that fell due, so that a guest access sees (and changes) an up-to-date counter. */
    private long catchUp() {
        long nanos = clock.nanos();
        if (nextDeadline() <= nanos) advanceTo(nanos);
        return ticksAt(nanos);
    }

    private void schedule(long t) {
        nextIrqTick = counters[0].nextRisingEdge(t, MIN_PERIOD_TICKS);
    }

    @Override
    public long nextDeadline() {
        return nextIrqTick == Timed.NEVER ? Timed.NEVER : nanosAt(nextIrqTick);
    }

    @Override
    public void advanceTo(long nanos) {
        long t = ticksAt(nanos);
        if (nextIrqTick > t) return;
        irq0.run();
        schedule(t);
    }

    /** Counter {@code i}'s OUT now (for tests and port 0x61). */
    boolean out(int i) {
        return counters[i].out(now());
    }

    /** The three counters, the speaker data bit and the next IRQ0 tick, for a snapshot. */
    public DeviceState save() {
        java.util.List<DeviceState> c = new java.util.ArrayList<>();
        for (PitCounter p : counters) c.add(p.save());
        return DeviceState.builder("vmm.emu.pit", 1).putList("counters", c)
                .put("speaker-data", speakerData).put("next-irq-tick", nextIrqTick).build();
    }

    /**
     * Puts back {@link #save()}'s state, in the VM's time (which a restored VM continues from the snapshot's), so
     * that the next IRQ0 comes when it was due: none is lost or doubled.
     */
    public void restore(DeviceState s) {
        s.require("vmm.emu.pit", 1);
        java.util.List<Object> c = s.getList("counters");
        if (c.size() != counters.length || !c.stream().allMatch(o -> o instanceof DeviceState))
            throw new IncompatibleStateException("vmm.emu.pit state: 3 counters, not " + c.size());
        long next = s.getLong("next-irq-tick");
        // Far ticks would overflow into negative deadlines and keep the timer thread busy.
        if (next != Timed.NEVER && (next < 0 || next > ticksAt(Long.MAX_VALUE / 4)))
            throw new IncompatibleStateException("vmm.emu.pit state: next IRQ0 tick " + next
                    + " is outside the VM's time");
        // Each counter is checked before any is changed.
        PitCounter[] fresh = {new PitCounter(), new PitCounter(), new PitCounter()};
        for (int i = 0; i < 3; i++) fresh[i].restore((DeviceState) c.get(i));
        for (int i = 0; i < 3; i++) counters[i].restore((DeviceState) c.get(i));
        speakerData = s.getBoolean("speaker-data");
        nextIrqTick = next;
    }
}
