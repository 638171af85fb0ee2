package vmm.testing;

import vmm.core.memory.GuestMemory;

/**
 * Hands out guest-physical memory for driver structures (rings, buffers),
 * like a guest kernel's allocator would, from a window of RAM. Never frees;
 * a test machine is short-lived. Thread-safe.
 */
public final class GuestAllocator {
    private final GuestMemory memory;
    private final long end;
    private long next;

    public GuestAllocator(GuestMemory memory, long start, long end) {
        this.memory = memory;
        this.next = start;
        this.end = end;
    }

    /**
     * Allocates {@code size} zeroed bytes aligned to {@code align} (a power of two).
     *
     * @throws IllegalStateException when the window is exhausted
     */
    public synchronized long allocate(long size, long align) {
        long at = (next + align - 1) & -align;
        if (size < 0 || at + size > end)
            throw new IllegalStateException("test machine out of guest memory for " + size + " bytes");
        next = at + size;
        if (size > 0) memory.fill(at, size, (byte) 0);
        return at;
    }

    /** Allocates and fills with {@code data}. */
    public long allocate(byte[] data, long align) {
        long at = allocate(data.length, align);
        memory.write(at, data, 0, data.length);
        return at;
    }
}
