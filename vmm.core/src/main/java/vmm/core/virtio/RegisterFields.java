package vmm.core.virtio;

import java.util.function.IntToLongFunction;

/**
 * Register plumbing of the virtio-pci register blocks: a block is a table of
 * {offset, size} registers, and a guest access of any width and alignment is
 * split over (reads) or merged into (writes) the registers it covers.
 */
final class RegisterFields {
    private RegisterFields() {
    }

    /**
     * Reads {@code [off, off+size)} over registers {@code fields}, so that an
     * access of any width sees each register it covers (wholly or in part);
     * bytes outside every register read 0.
     */
    static long composeRead(int[][] fields, int off, int size, IntToLongFunction value) {
        long v = 0;
        for (int[] f : fields) {
            int s = Math.max(off, f[0]), e = Math.min(off + size, f[0] + f[1]);
            if (s >= e) continue;
            long bytes = value.applyAsLong(f[0]) >>> 8 * (s - f[0]) & ones(e - s);
            v |= bytes << 8 * (s - off);
        }
        return v;
    }

    /**
     * The part of a write {@code [off, off+size) = value} that lands in
     * register {@code f}: {mask, bits} in the register's own bit positions,
     * or null when the write does not touch it.
     */
    static long[] fieldBits(int[] f, int off, int size, long value) {
        int s = Math.max(off, f[0]), e = Math.min(off + size, f[0] + f[1]);
        if (s >= e) return null;
        long bytes = value >>> 8 * (s - off) & ones(e - s);
        return new long[] {ones(e - s) << 8 * (s - f[0]), bytes << 8 * (s - f[0])};
    }

    static long merge(long old, long mask, long bits) {
        return old & ~mask | bits;
    }

    static long ones(int size) {
        return size >= 8 ? -1L : (1L << 8 * size) - 1;
    }

    static boolean overlaps(int offset, int size, int start, int length) {
        return offset < start + length && start < offset + size;
    }

    static void putLe32(byte[] a, int at, int v) {
        for (int i = 0; i < 4; i++) a[at + i] = (byte) (v >>> 8 * i);
    }

    static int getLe32(byte[] a, int at) {
        return (int) getLe(a, at, 4);
    }

    static long getLe(byte[] a, int at, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) v |= (a[at + i] & 0xffL) << 8 * i;
        return v;
    }
}
