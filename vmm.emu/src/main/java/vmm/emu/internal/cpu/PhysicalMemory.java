package vmm.emu.internal.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import vmm.core.bus.IoHandler;
import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.events.VmExitEvent;
import vmm.core.memory.GuestMemory;
import vmm.core.memory.RamRegion;

/**
 * Guest-physical accesses as a KVM memory map answers them: RAM regions read
 * and write, ROM regions read (whole pages: past a ROM image's end reads zero)
 * and send writes to the MMIO bus as a read-only memslot does, everything else
 * is MMIO. Shared by the vCPUs of a VM; the MMIO bus is the one given to the
 * current run.
 */
public final class PhysicalMemory {
    static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final long PAGE = 4096;

    private final GuestMemory memory;
    /** The guest memory's regions, then the host memory mapped in with {@link #map}; replaced, never changed. */
    private volatile RamRegion[] regions;
    /** Changes with every {@link #map} and unmap, so vCPUs drop TLB entries and blocks that may point at old memory. */
    volatile long mapEpoch;
    final CodeCache code = new CodeCache();
    /** Compiles hot blocks to bytecode; null runs everything interpreted. */
    volatile BlockTranslator translator;

    /** Sets (or with null removes) the translator the vCPUs hand hot blocks to; blocks compiled so far stay. */
    public void setTranslator(BlockTranslator t) {
        translator = t;
    }

    /** The translator hot blocks go to, or null. */
    public BlockTranslator translator() {
        return translator;
    }
    /** Port and MMIO writes that signal an eventfd instead of reaching the bus (ioeventfd); null for none. */
    volatile WriteInterceptor interceptor;
    /**
     * The VM's own devices (its interrupt controllers and PIT), asked before the buses given to a run,
     * as KVM's in-kernel devices are; null for none.
     */
    volatile IoPortBus platformPorts;
    volatile MmioBus platformMmio;

    public PhysicalMemory(GuestMemory memory) {
        this.memory = memory;
        this.regions = memory.regions().toArray(RamRegion[]::new);
    }

    public GuestMemory memory() {
        return memory;
    }

    /** The region whose pages (rounded up to 4 KiB) hold {@code pa}, or null. */
    RamRegion regionOf(long pa) {
        for (RamRegion r : regions) {
            if (pa >= r.guestBase() && pa - r.guestBase() < ((r.size() + PAGE - 1) & -PAGE)) return r;
        }
        return null;
    }

    /** The region holding all of page {@code pagePa} (page aligned), or null where it is MMIO or a partial ROM page. */
    RamRegion wholePage(long pagePa) {
        RamRegion r = regionOf(pagePa);
        return r != null && r.contains(pagePa, PAGE) ? r : null;
    }

    static long get(MemorySegment s, long off, int size) {
        return switch (size) {
            case 1 -> s.get(ValueLayout.JAVA_BYTE, off) & 0xFFL;
            case 2 -> s.get(LE16, off) & 0xFFFFL;
            case 4 -> s.get(LE32, off) & 0xFFFFFFFFL;
            default -> s.get(LE64, off);
        };
    }

    static void put(MemorySegment s, long off, int size, long v) {
        switch (size) {
            case 1 -> s.set(ValueLayout.JAVA_BYTE, off, (byte) v);
            case 2 -> s.set(LE16, off, (short) v);
            case 4 -> s.set(LE32, off, (int) v);
            default -> s.set(LE64, off, v);
        }
    }

    /** Reads {@code size} bytes at {@code pa}, which do not cross a page. */
    long read(long pa, int size, MmioBus mmio, IoHandler apic, long apicBase, int vcpu) {
        RamRegion r = regionOf(pa);
        if (r != null) {
            long off = pa - r.guestBase();
            if (off + size <= r.size()) return get(r.segment(), off, size);
            long v = 0; // a ROM's last page past its image reads zero
            for (int i = size - 1; i >= 0; i--) v = v << 8 | (off + i < r.size() ? get(r.segment(), off + i, 1) : 0);
            return v;
        }
        if (apic != null && (pa & -PAGE) == apicBase) return apic.read(pa - apicBase, size);
        MmioBus platform = platformMmio;
        if (platform != null && platform.isClaimed(pa)) return platform.read(pa, size);
        if (mmio == null) return Cpu.mask(size);
        VmExitEvent e = Machine.exitEvent();
        if (e != null) e.begin();
        long v = mmio.read(pa, size);
        if (e != null && e.shouldCommit()) mmioEvent(e, vcpu, pa, size, false);
        return v;
    }

    /** Writes {@code size} bytes at {@code pa}, which do not cross a page; a write to code drops its blocks. */
    void write(long pa, int size, long v, MmioBus mmio, IoHandler apic, long apicBase, int vcpu) {
        RamRegion r = regionOf(pa);
        if (r != null && !r.readOnly()) {
            code.written(pa);
            put(r.segment(), pa - r.guestBase(), size, v);
            return;
        }
        if (r == null && apic != null && (pa & -PAGE) == apicBase) {
            apic.write(pa - apicBase, size, v);
            return;
        }
        MmioBus platform = platformMmio;
        if (r == null && platform != null && platform.isClaimed(pa)) {
            platform.write(pa, size, v & Cpu.mask(size));
            return;
        }
        WriteInterceptor w = interceptor;
        if (w != null && w.intercept(false, pa, size, v & Cpu.mask(size))) return;
        if (mmio == null) return;
        VmExitEvent e = Machine.exitEvent();
        if (e != null) e.begin();
        mmio.write(pa, size, v & Cpu.mask(size));
        if (e != null && e.shouldCommit()) mmioEvent(e, vcpu, pa, size, true);
    }

    private static void mmioEvent(VmExitEvent e, int vcpu, long pa, int size, boolean write) {
        e.vcpu = vcpu;
        e.reason = "KVM_EXIT_MMIO";
        e.address = pa;
        e.size = size;
        e.write = write;
        e.count = 1;
        e.commit();
    }

    /**
     * Maps {@code host} (whole pages) at guest-physical {@code gpa}, as KVM maps a memory slot; the returned action
     * unmaps it (once). The caller keeps {@code host} alive until then.
     *
     * @throws IllegalArgumentException if {@code gpa} or the size is not page aligned, or the range overlaps RAM or
     *                                  another mapping
     */
    public synchronized Runnable map(long gpa, MemorySegment host, boolean readOnly) {
        long size = host.byteSize();
        if (gpa < 0 || gpa % PAGE != 0 || size == 0 || size % PAGE != 0)
            throw new IllegalArgumentException(String.format(
                    "a mapping must be whole pages at a page-aligned address, not 0x%x bytes at 0x%x", size, gpa));
        for (RamRegion r : regions) {
            if (gpa < r.guestEnd() && r.guestBase() < gpa + size)
                throw new IllegalArgumentException(String.format("[0x%x, 0x%x) overlaps %s [0x%x, 0x%x)", gpa,
                        gpa + size, r.name(), r.guestBase(), r.guestEnd()));
        }
        RamRegion added = new RamRegion("mapped device memory", gpa, host, -1, 0, readOnly);
        RamRegion[] next = java.util.Arrays.copyOf(regions, regions.length + 1);
        next[regions.length] = added;
        regions = next;
        changed();
        boolean[] done = {false};
        return () -> {
            synchronized (this) {
                if (done[0]) return;
                done[0] = true;
                regions = java.util.Arrays.stream(regions).filter(r -> r != added).toArray(RamRegion[]::new);
                changed();
            }
        };
    }

    private void changed() {
        code.clear();
        mapEpoch++;
    }

    public void setInterceptor(WriteInterceptor w) {
        interceptor = w;
    }

    /** Puts the VM's own devices in front of every run's buses (null for none); set before the vCPUs run. */
    public void setPlatformBuses(IoPortBus ports, MmioBus mmio) {
        platformPorts = ports;
        platformMmio = mmio;
    }

    /** Drops every decoded block (tests; a machine reset). */
    public void flushCode() {
        code.clear();
    }
}
