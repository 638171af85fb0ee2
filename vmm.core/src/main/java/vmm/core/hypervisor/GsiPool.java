package vmm.core.hypervisor;

import java.util.BitSet;

/**
 * The GSIs of one VM that stand for MSIs ({@link VirtualMachine#routeMsi}),
 * handed out to whoever binds an irqfd: from {@link #FIRST} (above the
 * IOAPIC's inputs) up to a limit, lowest free first. Thread-safe.
 */
public final class GsiPool {
    /** The first GSI above the 24 IOAPIC inputs. */
    public static final int FIRST = 24;
    private final int limit;
    private final BitSet used = new BitSet();

    /** @param limit one past the highest GSI the host's routing table takes (KVM: 4096) */
    public GsiPool(int limit) {
        if (limit <= FIRST) throw new IllegalArgumentException("a GSI limit must exceed " + FIRST + ", was " + limit);
        this.limit = limit;
    }

    /**
     * Takes the lowest free GSI.
     *
     * @throws IllegalStateException when all are taken (the caller falls back to delivering MSIs itself)
     */
    public synchronized int allocate() {
        int g = used.nextClearBit(FIRST);
        if (g >= limit) throw new IllegalStateException("all " + (limit - FIRST) + " MSI GSIs are in use");
        used.set(g);
        return g;
    }

    /** Gives {@code gsi} back; freeing one that is not taken does nothing. */
    public synchronized void free(int gsi) {
        if (gsi >= FIRST) used.clear(gsi);
    }

    /** How many are taken. */
    public synchronized int inUse() {
        return used.cardinality();
    }
}
