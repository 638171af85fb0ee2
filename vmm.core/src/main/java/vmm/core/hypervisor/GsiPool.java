package vmm.core.hypervisor;

import java.util.BitSet;
import java.util.Objects;

/**
 * The GSIs of one VM that stand for MSIs ({@link VirtualMachine#routeMsi}),
 * handed out to whoever binds an irqfd. A machine on a hypervisor uses
 * {@link #of(VirtualMachine)}, so the transport's GSIs come from the same
 * allocator as everyone else's (passthrough takes its GSIs from the VM
 * directly) and never collide; a pool made with a limit stands alone, for
 * tests and fakes: from {@link #FIRST} up to the limit, lowest free first.
 * Thread-safe.
 */
public final class GsiPool {
    /** The first GSI above the 24 IOAPIC inputs. */
    public static final int FIRST = 24;
    private final int limit;
    private final VirtualMachine vm;
    private final BitSet used = new BitSet();

    /** @param limit one past the highest GSI the host's routing table takes (KVM: 4096) */
    public GsiPool(int limit) {
        if (limit <= FIRST) throw new IllegalArgumentException("a GSI limit must exceed " + FIRST + ", was " + limit);
        this.limit = limit;
        this.vm = null;
    }

    private GsiPool(VirtualMachine vm) {
        this.limit = Integer.MAX_VALUE;
        this.vm = Objects.requireNonNull(vm, "vm");
    }

    /** A pool handing out {@code vm}'s own GSIs ({@link VirtualMachine#allocateMsiGsi}). */
    public static GsiPool of(VirtualMachine vm) {
        return new GsiPool(vm);
    }

    /**
     * Takes the lowest free GSI.
     *
     * @throws IllegalStateException when all are taken (the caller falls back to delivering MSIs itself)
     */
    public synchronized int allocate() {
        int g;
        if (vm != null) {
            try {
                g = vm.allocateMsiGsi();
            } catch (HypervisorException | UnsupportedOperationException e) {
                throw new IllegalStateException("no MSI GSI: " + e.getMessage(), e);
            }
        } else {
            g = used.nextClearBit(FIRST);
            if (g >= limit) throw new IllegalStateException("all " + (limit - FIRST) + " MSI GSIs are in use");
        }
        used.set(g);
        return g;
    }

    /** Gives {@code gsi} back; freeing one that is not taken does nothing. */
    public synchronized void free(int gsi) {
        if (gsi < FIRST || !used.get(gsi)) return;
        used.clear(gsi);
        if (vm != null) vm.releaseMsiGsi(gsi);
    }

    /** How many this pool has handed out and not taken back. */
    public synchronized int inUse() {
        return used.cardinality();
    }
}
