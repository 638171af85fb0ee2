package vmm.emu.internal.cpu;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Decoded blocks of a VM, by guest-physical address and code size, and the
 * pages they were decoded from. A CPU write to such a page drops the page's
 * blocks; the vCPUs keep no writable TLB entry for a code page, so every such
 * write comes through {@link #written}. Writes the CPU never sees (device DMA)
 * are caught when a block is entered: it compares its bytes with memory.
 * Thread-safe: the vCPUs of a VM share it.
 */
final class CodeCache {
    private final ConcurrentHashMap<Long, Block> blocks = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Long, Set<Long>> pages = new ConcurrentHashMap<>();
    /** Changes whenever a page becomes a code page, so vCPUs drop writable TLB entries they hold for it. */
    volatile long epoch;

    static long key(long pa, int codeBits) {
        return pa << 2 | (codeBits >>> 5); // 16 -> 0, 32 -> 1, 64 -> 2
    }

    Block get(long pa, int codeBits) {
        return blocks.get(key(pa, codeBits));
    }

    void put(Block b) {
        long key = key(b.pa, b.codeBits);
        long page = b.pa >>> 12;
        Set<Long> keys = pages.computeIfAbsent(page, p -> {
            epoch++;
            return ConcurrentHashMap.newKeySet();
        });
        keys.add(key);
        Block replaced = blocks.put(key, b);
        // Two vCPUs decoding the same address race here: the loser's block is no longer the cache's, so no later
        // write to its page would reach it; it must not be taken again (Machine keeps a block while it is valid).
        if (replaced != null && replaced != b) replaced.valid = false;
    }

    boolean isCode(long page) {
        return pages.containsKey(page);
    }

    /** A CPU write at {@code pa}: drops the blocks decoded from its page. */
    void written(long pa) {
        if (pages.isEmpty()) return;
        Set<Long> keys = pages.remove(pa >>> 12);
        if (keys == null) return;
        for (Long k : keys) {
            Block b = blocks.remove(k);
            if (b != null) b.valid = false;
        }
    }

    void remove(Block b) {
        b.valid = false;
        blocks.remove(key(b.pa, b.codeBits), b);
    }

    void clear() {
        blocks.values().forEach(b -> b.valid = false);
        blocks.clear();
        pages.clear();
    }

    int size() {
        return blocks.size();
    }
}
