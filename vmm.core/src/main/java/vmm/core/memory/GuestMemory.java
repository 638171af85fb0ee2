package vmm.core.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import vmm.core.internal.linux.Libc;

/**
 * Guest-physical memory: a fixed set of non-overlapping {@link RamRegion}s and
 * bounds-checked little-endian access to them. Every access takes a guest
 * address and length and either lies wholly inside one region or throws
 * {@link GuestMemoryException}; a range that crosses a region edge is refused
 * even when the next region starts right there, because the host mappings of
 * two regions are not contiguous.
 *
 * <p>Thread-safe: the region set is immutable after construction, and
 * accesses are plain loads and stores like a CPU's (callers that need
 * ordering against the guest use the virtio library's barriers).
 */
public final class GuestMemory implements AutoCloseable {
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    private final RamRegion[] regions;
    private final List<Runnable> releasers;
    private volatile boolean closed;

    private GuestMemory(List<RamRegion> regions, List<Runnable> releasers) {
        this.regions = regions.toArray(RamRegion[]::new);
        this.releasers = releasers;
    }

    /** Starts a memory layout; add regions, then {@link Builder#build()}. */
    public static Builder builder() {
        return new Builder();
    }

    /** A single shareable RAM region of {@code size} bytes at guest address 0. */
    public static GuestMemory ofSize(long size) {
        return builder().ram("ram", 0, size).build();
    }

    /** The regions, ordered by guest address. */
    public List<RamRegion> regions() {
        return List.of(regions);
    }

    /** Total bytes of all regions. */
    public long totalSize() {
        long t = 0;
        for (RamRegion r : regions) t += r.size();
        return t;
    }

    /** Whether {@code [gpa, gpa+len)} is wholly inside one region. */
    public boolean isValid(long gpa, long len) {
        return find(gpa, len) != null;
    }

    /**
     * The host view of {@code [gpa, gpa+len)}, a slice of one region's mapping.
     *
     * @throws GuestMemoryException if the range is not wholly inside one region
     */
    public MemorySegment slice(long gpa, long len) {
        RamRegion r = region(gpa, len);
        return r.segment().asSlice(gpa - r.guestBase(), len);
    }

    /** Like {@link #slice} but refuses read-only (ROM) regions, for device writes into guest memory. */
    public MemorySegment writableSlice(long gpa, long len) {
        RamRegion r = region(gpa, len);
        if (r.readOnly()) throw new GuestMemoryException(gpa, len, "is read-only memory (" + r.name() + ")");
        return r.segment().asSlice(gpa - r.guestBase(), len);
    }

    /** The region holding the whole range. @throws GuestMemoryException if none does */
    public RamRegion region(long gpa, long len) {
        if (closed) throw new IllegalStateException("guest memory is closed");
        RamRegion r = find(gpa, len);
        if (r == null) throw new GuestMemoryException(gpa, len, describeMiss(gpa, len));
        return r;
    }

    private RamRegion find(long gpa, long len) {
        // Few regions (RAM below and above the PCI hole, ROMs): a linear scan
        // beats a tree and keeps the hot path branch-predictable.
        for (RamRegion r : regions) {
            if (r.contains(gpa, len)) return r;
        }
        return null;
    }

    private String describeMiss(long gpa, long len) {
        if (len < 0) return "has a negative length";
        for (RamRegion r : regions) {
            if (gpa >= r.guestBase() && gpa < r.guestEnd())
                return "crosses the end of region " + r.name() + String.format(" at 0x%x", r.guestEnd());
        }
        return "is not backed by RAM";
    }

    public int readU8(long gpa) {
        return Byte.toUnsignedInt(slice(gpa, 1).get(ValueLayout.JAVA_BYTE, 0));
    }

    public int readU16(long gpa) {
        return Short.toUnsignedInt(slice(gpa, 2).get(LE16, 0));
    }

    public int readU32AsInt(long gpa) {
        return slice(gpa, 4).get(LE32, 0);
    }

    public long readU32(long gpa) {
        return Integer.toUnsignedLong(readU32AsInt(gpa));
    }

    public long readU64(long gpa) {
        return slice(gpa, 8).get(LE64, 0);
    }

    public void writeU8(long gpa, int v) {
        writableSlice(gpa, 1).set(ValueLayout.JAVA_BYTE, 0, (byte) v);
    }

    public void writeU16(long gpa, int v) {
        writableSlice(gpa, 2).set(LE16, 0, (short) v);
    }

    public void writeU32(long gpa, long v) {
        writableSlice(gpa, 4).set(LE32, 0, (int) v);
    }

    public void writeU64(long gpa, long v) {
        writableSlice(gpa, 8).set(LE64, 0, v);
    }

    /** Copies {@code len} guest bytes at {@code gpa} into {@code dst[off..]}. */
    public void read(long gpa, byte[] dst, int off, int len) {
        MemorySegment.copy(slice(gpa, len), ValueLayout.JAVA_BYTE, 0, dst, off, len);
    }

    /** Copies {@code src[off..off+len)} into guest memory at {@code gpa}. */
    public void write(long gpa, byte[] src, int off, int len) {
        MemorySegment.copy(src, off, writableSlice(gpa, len), ValueLayout.JAVA_BYTE, 0, len);
    }

    /** Fills {@code [gpa, gpa+len)} with {@code value}. */
    public void fill(long gpa, long len, byte value) {
        writableSlice(gpa, len).fill(value);
    }

    /** Unmaps every region this memory created. Regions handed in by the caller are left alone. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (Runnable r : releasers) r.run();
    }

    /** Collects regions; refuses overlaps when built. */
    public static final class Builder {
        private final List<RamRegion> regions = new ArrayList<>();
        private final List<Runnable> releasers = new ArrayList<>();

        /**
         * Adds {@code size} bytes of RAM at {@code guestBase}, backed by a
         * fresh memfd mapped shared, so another process or KVM can map it.
         */
        public Builder ram(String name, long guestBase, long size) {
            if (size <= 0) throw new IllegalArgumentException("region " + name + ": size must be positive, was " + size);
            int fd = Libc.memfdCreate("vmm-" + name, size);
            MemorySegment seg;
            try {
                seg = Libc.mmapShared(fd, 0, size, true);
            } catch (RuntimeException e) {
                Libc.close(fd);
                throw e;
            }
            regions.add(new RamRegion(name, guestBase, seg, fd, 0, false));
            releasers.add(() -> {
                Libc.munmap(seg);
                Libc.close(fd);
            });
            return this;
        }

        /** Adds a read-only region holding a copy of {@code image} (firmware, option ROMs). */
        public Builder rom(String name, long guestBase, byte[] image) {
            MemorySegment seg = Arena.ofAuto().allocate(image.length, 4096);
            MemorySegment.copy(image, 0, seg, ValueLayout.JAVA_BYTE, 0, image.length);
            regions.add(new RamRegion(name, guestBase, seg, -1, 0, true));
            return this;
        }

        /** Adds a region the caller mapped (for example a vhost-user peer's fd); the caller unmaps it. */
        public Builder region(RamRegion region) {
            regions.add(region);
            return this;
        }

        public GuestMemory build() {
            regions.sort(Comparator.comparingLong(RamRegion::guestBase));
            for (int i = 1; i < regions.size(); i++) {
                RamRegion a = regions.get(i - 1), b = regions.get(i);
                if (b.guestBase() < a.guestEnd()) {
                    releasers.forEach(Runnable::run);
                    throw new IllegalArgumentException(String.format(
                            "memory regions %s [0x%x, 0x%x) and %s [0x%x, 0x%x) overlap",
                            a.name(), a.guestBase(), a.guestEnd(), b.name(), b.guestBase(), b.guestEnd()));
                }
            }
            return new GuestMemory(regions, List.copyOf(releasers));
        }
    }
}
