package vmm.emu.internal.irq;

import java.util.Objects;
import java.util.function.ToIntFunction;

import vmm.core.bus.IoHandler;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * The I/O APIC (Intel 82093AA, version 0x11) with 24 inputs, as a register
 * model: IOREGSEL at offset 0x00 and IOWIN at 0x10 of its page, the ID,
 * version and arbitration registers and the 24-entry redirection table
 * (vector, delivery mode, destination mode, polarity, remote IRR, trigger
 * mode, mask, destination). Inputs are logical levels: {@link #setPin} with
 * true means asserted, whatever the entry's polarity (KVM and QEMU do the
 * same; the polarity bit is stored for the guest). A level-triggered entry
 * sets remote IRR when delivered and is not delivered again until a local
 * APIC's EOI for its vector ({@link #endOfInterrupt}) clears it. There is no
 * EOI register (that came with version 0x20). Not thread-safe.
 */
public final class IoApic implements IoHandler {
    public static final long BASE = 0xfec0_0000L;
    /** The window KVM's in-kernel IOAPIC claims. */
    public static final int SIZE = 0x100;
    public static final int PINS = 24, VERSION = 0x11;
    static final int IOREGSEL = 0x00, IOWIN = 0x10;
    static final int REG_ID = 0x00, REG_VERSION = 0x01, REG_ARBITRATION = 0x02, REG_REDIRECTION = 0x10;
    static final int ID_SHIFT = 24, ID_MASK = 0x0f;

    // Redirection entry, low dword (82093AA 3.2.4); the destination is bits 63:56.
    static final long RTE_VECTOR = 0xff, RTE_DELIVERY_MODE_SHIFT = 8, RTE_DEST_LOGICAL = 1 << 11,
            RTE_DELIVERY_STATUS = 1 << 12, RTE_POLARITY_LOW = 1 << 13, RTE_REMOTE_IRR = 1 << 14,
            RTE_LEVEL = 1 << 15, RTE_MASKED = 1 << 16;
    static final int RTE_DEST_SHIFT = 56;
    /** The bits a guest writes; delivery status and remote IRR are read-only. */
    static final long RTE_WRITABLE = ~(RTE_DELIVERY_STATUS | RTE_REMOTE_IRR) & 0xff00_0000_0001_ffffL;

    private final ToIntFunction<ApicMessage> bus;
    private final long[] table = new long[PINS];
    /** Input levels as driven. */
    private int lines;
    private int id;
    private int select;

    /** @param bus delivers a message to the local APICs and returns how many accepted it */
    public IoApic(ToIntFunction<ApicMessage> bus) {
        this.bus = Objects.requireNonNull(bus, "bus");
        reset();
    }

    /** Power-on state: every entry masked, ID 0 (the MADT's IOAPIC ID). */
    public void reset() {
        java.util.Arrays.fill(table, RTE_MASKED);
        lines = 0;
        id = 0;
        select = 0;
    }

    /**
     * Drives input {@code pin}. A level entry delivers while the input is asserted,
     * unmasked and remote IRR is clear; an edge entry delivers on a rising edge
     * while unmasked (an edge on a masked input is lost, as 82093AA 3.2.4 says).
     */
    public void setPin(int pin, boolean level) {
        if (pin < 0 || pin >= PINS) return;
        int bit = 1 << pin;
        boolean was = (lines & bit) != 0;
        if (level) lines |= bit;
        else lines &= ~bit;
        if (!level) return;
        long e = table[pin];
        if ((e & RTE_LEVEL) != 0) service(pin);
        else if (!was && (e & RTE_MASKED) == 0) deliver(pin, e);
    }

    /** A local APIC's EOI broadcast for {@code vector}: clears remote IRR of level entries with that vector. */
    public void endOfInterrupt(int vector) {
        for (int pin = 0; pin < PINS; pin++) {
            long e = table[pin];
            if ((e & RTE_VECTOR) != vector || (e & RTE_LEVEL) == 0 || (e & RTE_REMOTE_IRR) == 0) continue;
            table[pin] = e & ~RTE_REMOTE_IRR;
            service(pin); // still asserted: deliver again
        }
    }

    /** Delivers a level entry if its input is asserted, it is unmasked and no EOI is outstanding. */
    private void service(int pin) {
        long e = table[pin];
        if ((lines & (1 << pin)) == 0 || (e & RTE_MASKED) != 0 || (e & RTE_LEVEL) == 0
                || (e & RTE_REMOTE_IRR) != 0)
            return;
        if (deliver(pin, e) > 0) table[pin] |= RTE_REMOTE_IRR;
    }

    private int deliver(int pin, long e) {
        return bus.applyAsInt(ApicMessage.of((int) (e & RTE_VECTOR), (int) (e >>> RTE_DELIVERY_MODE_SHIFT) & 7,
                (e & RTE_DEST_LOGICAL) != 0, (int) (e >>> RTE_DEST_SHIFT), (e & RTE_LEVEL) != 0));
    }

    /** Reads the MMIO window: IOREGSEL, or IOWIN as the register it selects; other offsets read 0. */
    @Override
    public long read(long offset, int size) {
        long v = switch ((int) offset & ~3) {
            case IOREGSEL -> select;
            case IOWIN -> readRegister(select);
            default -> 0;
        };
        return v >>> (8 * (offset & 3));
    }

    /** Writes the MMIO window: the low byte of IOREGSEL, or the selected register through IOWIN. */
    @Override
    public void write(long offset, int size, long value) {
        if ((offset & 3) != 0) return; // only dword-aligned accesses reach the registers
        switch ((int) offset) {
            case IOREGSEL -> select = (int) value & 0xff;
            case IOWIN -> writeRegister(select, (int) value);
            default -> { }
        }
    }

    int readRegister(int reg) {
        if (reg == REG_ID || reg == REG_ARBITRATION) return id << ID_SHIFT;
        if (reg == REG_VERSION) return (PINS - 1) << 16 | VERSION;
        int pin = (reg - REG_REDIRECTION) >> 1;
        if (reg < REG_REDIRECTION || pin >= PINS) return 0;
        long e = table[pin];
        return (reg & 1) == 0 ? (int) e : (int) (e >>> 32);
    }

    void writeRegister(int reg, int value) {
        if (reg == REG_ID) {
            id = (value >>> ID_SHIFT) & ID_MASK;
            return;
        }
        int pin = (reg - REG_REDIRECTION) >> 1;
        if (reg < REG_REDIRECTION || pin >= PINS) return; // version and arbitration are read-only
        long old = table[pin];
        long written = (reg & 1) == 0 ? (old & ~0xffff_ffffL) | (value & 0xffff_ffffL)
                : (old & 0xffff_ffffL) | ((long) value << 32);
        long e = (written & RTE_WRITABLE) | (old & RTE_REMOTE_IRR);
        // Remote IRR means nothing for an edge entry (KVM clears it when the guest switches to edge).
        if ((e & RTE_LEVEL) == 0) e &= ~RTE_REMOTE_IRR;
        table[pin] = e;
        service(pin); // unmasking an asserted level input delivers it
    }

    /** The redirection entry of {@code pin} as the guest would read it. */
    public long entry(int pin) {
        return table[pin];
    }

    public int id() {
        return id;
    }

    /** The redirection table, input levels, ID and register select, for a snapshot. */
    public DeviceState save() {
        return DeviceState.builder("vmm.emu.ioapic", 1).putList("table", States.list(table))
                .put("lines", lines).put("id", id).put("select", select).build();
    }

    /** Puts back {@link #save()}'s state, checked first: a bad value changes nothing. */
    public void restore(DeviceState s) {
        s.require("vmm.emu.ioapic", 1);
        long[] t = States.longs(s, "table", PINS, Long.MIN_VALUE, Long.MAX_VALUE);
        long kept = RTE_WRITABLE | RTE_DELIVERY_STATUS | RTE_REMOTE_IRR;
        for (int i = 0; i < PINS; i++)
            if ((t[i] & ~kept) != 0)
                throw new IncompatibleStateException(String.format(
                        "vmm.emu.ioapic state: entry %d (0x%x) sets reserved bits", i, t[i]));
        int nLines = States.intRange(s, "lines", 0, (1 << PINS) - 1);
        int nId = States.intRange(s, "id", 0, 15), nSelect = States.intRange(s, "select", 0, 0xff);
        System.arraycopy(t, 0, table, 0, PINS);
        lines = nLines;
        id = nId;
        select = nSelect;
    }
}
