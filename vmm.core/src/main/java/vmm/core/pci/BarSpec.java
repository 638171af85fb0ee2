package vmm.core.pci;

/**
 * One BAR a function implements.
 *
 * @param index        0..5; a 64-bit BAR also takes {@code index+1}
 * @param kind         what it decodes
 * @param size         a power of two: at least 4 for I/O (at most 256), at least 16 for memory
 * @param prefetchable the prefetchable bit of a memory BAR
 */
public record BarSpec(int index, BarKind kind, long size, boolean prefetchable) {
    public BarSpec {
        if (index < 0 || index > 5 || (kind == BarKind.MEMORY64 && index > 4))
            throw new IllegalArgumentException("BAR index " + index + " not possible for " + kind);
        if (Long.bitCount(size) != 1) throw new IllegalArgumentException("BAR " + index + " size must be a power of two, was " + size);
        if (kind == BarKind.IO && (size < 4 || size > 256))
            throw new IllegalArgumentException("I/O BAR " + index + " size must be 4..256, was " + size);
        if (kind != BarKind.IO && size < 16)
            throw new IllegalArgumentException("memory BAR " + index + " size must be at least 16, was " + size);
        if (kind == BarKind.MEMORY32 && size > (1L << 31))
            throw new IllegalArgumentException("32-bit BAR " + index + " size must be at most 2 GiB, was " + size);
        if (kind == BarKind.IO && prefetchable) throw new IllegalArgumentException("I/O BAR cannot be prefetchable");
    }

    public static BarSpec io(int index, long size) {
        return new BarSpec(index, BarKind.IO, size, false);
    }

    public static BarSpec mem32(int index, long size) {
        return new BarSpec(index, BarKind.MEMORY32, size, false);
    }

    public static BarSpec mem64(int index, long size, boolean prefetchable) {
        return new BarSpec(index, BarKind.MEMORY64, size, prefetchable);
    }
}
