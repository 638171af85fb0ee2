package vmm.core.bus;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A flat address space of non-overlapping ranges, each answered by an
 * {@link IoHandler}. Reads on the dispatch path are lock-free (the range
 * table is copied on every change, which is rare); registration is
 * serialized.
 *
 * <p>An access that no range claims, or that would run past the end of the
 * range it starts in, reads as all ones and its writes are dropped, as on a
 * real bus with no device decoding the cycle.
 */
public abstract sealed class AddressBus permits IoPortBus, MmioBus {
    private static final Entry[] EMPTY = new Entry[0];

    private final String name;
    private final long limit;
    private volatile Entry[] entries = EMPTY;
    private volatile long unclaimedAccesses;

    AddressBus(String name, long limit) {
        this.name = name;
        this.limit = limit;
    }

    /**
     * Registers {@code [base, base+length)}.
     *
     * @throws BusConflictException if the range overlaps one already registered,
     *                              is empty, or leaves the bus's address space
     */
    public Registration register(String owner, long base, long length, IoHandler handler) {
        if (length <= 0 || base < 0 || base > limit - length)
            throw new BusConflictException(String.format("%s: %s asked for [0x%x, +0x%x), outside [0, 0x%x)",
                    name, owner, base, length, limit));
        synchronized (this) {
            Entry[] cur = entries;
            int at = 0;
            while (at < cur.length && cur[at].base < base) at++;
            Entry before = at > 0 ? cur[at - 1] : null, after = at < cur.length ? cur[at] : null;
            Entry clash = before != null && before.base + before.length > base ? before
                    : after != null && base + length > after.base ? after : null;
            if (clash != null)
                throw new BusConflictException(String.format(
                        "%s: %s [0x%x, 0x%x) overlaps %s [0x%x, 0x%x)", name, owner, base, base + length,
                        clash.owner, clash.base, clash.base + clash.length));
            Entry e = new Entry(this, owner, base, length, handler);
            Entry[] next = new Entry[cur.length + 1];
            System.arraycopy(cur, 0, next, 0, at);
            next[at] = e;
            System.arraycopy(cur, at, next, at + 1, cur.length - at);
            entries = next;
            return e;
        }
    }

    private synchronized void remove(Entry e) {
        Entry[] cur = entries;
        int i = Arrays.asList(cur).indexOf(e);
        if (i < 0) return;
        Entry[] next = new Entry[cur.length - 1];
        System.arraycopy(cur, 0, next, 0, i);
        System.arraycopy(cur, i + 1, next, i, cur.length - i - 1);
        entries = next;
    }

    /** Dispatches a read of {@code size} (1, 2, 4 or 8) bytes; unclaimed reads return all ones. */
    public long read(long address, int size) {
        checkSize(size);
        Entry e = lookup(address, size);
        if (e == null) {
            unclaimedAccesses++;
            return ones(size);
        }
        return e.handler.read(address - e.base, size) & ones(size);
    }

    /** Dispatches a write of the low {@code size} bytes of {@code value}; unclaimed writes are dropped. */
    public void write(long address, int size, long value) {
        checkSize(size);
        Entry e = lookup(address, size);
        if (e == null) {
            unclaimedAccesses++;
            return;
        }
        e.handler.write(address - e.base, size, value & ones(size));
    }

    /** Whether some range claims {@code address}. */
    public boolean isClaimed(long address) {
        return lookup(address, 1) != null;
    }

    /** Accesses nobody claimed since creation (a racy count, for diagnostics). */
    public long unclaimedAccesses() {
        return unclaimedAccesses;
    }

    /** A snapshot of the registered ranges, by address. */
    public List<Registration> ranges() {
        return List.of(entries);
    }

    public String name() {
        return name;
    }

    private Entry lookup(long address, int size) {
        Entry[] es = entries;
        int lo = 0, hi = es.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            Entry e = es[mid];
            if (address < e.base) hi = mid - 1;
            else if (address - e.base >= e.length) lo = mid + 1;
            else return address - e.base <= e.length - size ? e : null;
        }
        return null;
    }

    static long ones(int size) {
        return size == 8 ? -1L : (1L << (size * 8)) - 1;
    }

    private static void checkSize(int size) {
        if (size != 1 && size != 2 && size != 4 && size != 8)
            throw new IllegalArgumentException("access size must be 1, 2, 4 or 8, was " + size);
    }

    @Override
    public String toString() {
        List<String> s = new ArrayList<>();
        for (Entry e : entries) s.add(e.toString());
        return name + s;
    }

    private static final class Entry implements Registration {
        final AddressBus bus;
        final String owner;
        final long base, length;
        final IoHandler handler;

        Entry(AddressBus bus, String owner, long base, long length, IoHandler handler) {
            this.bus = bus;
            this.owner = owner;
            this.base = base;
            this.length = length;
            this.handler = handler;
        }

        @Override public long base() { return base; }
        @Override public long length() { return length; }
        @Override public String owner() { return owner; }
        @Override public void close() { bus.remove(this); }
        @Override public String toString() { return String.format("%s[0x%x,+0x%x)", owner, base, length); }
    }
}
