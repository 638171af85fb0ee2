package vmm.emu.internal.cpu;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.OptionalLong;

import vmm.core.memory.RamRegion;

/**
 * Linear to physical translation (no paging, 32-bit, PAE and 4-level paging,
 * 4 KiB / 2 MiB / 4 MiB pages, NX, accessed and dirty bits, CR0.WP, global
 * pages) with a software TLB whose entries point straight at the host memory
 * of a RAM page. Misses, MMIO, ROM writes and accesses crossing a page take
 * the slow path. Page faults set CR2 and carry the architectural error code.
 */
final class Mmu {
    static final int READ = 0, WRITE = 1, EXEC = 2;
    static final int PF_P = 1, PF_W = 2, PF_U = 4, PF_RSVD = 8, PF_I = 16;
    private static final int SIZE = 256;
    private static final long ADDR_MASK = 0x000F_FFFF_FFFF_F000L;

    private Cpu cpu;
    final PhysicalMemory phys;
    private final long[][] tag = new long[3][SIZE];
    private final MemorySegment[][] host = new MemorySegment[3][SIZE];
    private final long[][] off = new long[3][SIZE];
    private final boolean[][] global = new boolean[3][SIZE];
    /** Per {@link #EXEC} entry: the guest-physical page, which {@link #codePage} reports with the host memory. */
    private final long[] execPage = new long[SIZE];
    long codeEpoch = -1;
    long mapEpoch;

    // Result of the last walk.
    private boolean walkGlobal;

    Mmu(PhysicalMemory phys) {
        this.phys = phys;
        flush();
    }

    void attach(Cpu cpu) {
        this.cpu = cpu;
    }

    /** Changes on every TLB flush or INVLPG, so caches of linear-to-physical facts know to drop them. */
    long generation;

    void flush() {
        for (long[] t : tag) Arrays.fill(t, -1);
        generation++;
    }

    /** Drops the entries of non-global pages (a CR3 load with CR4.PGE set). */
    void flushNonGlobal() {
        if ((cpu.cr4 & Cpu.CR4_PGE) == 0) {
            flush();
            return;
        }
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < SIZE; i++) if (!global[k][i]) tag[k][i] = -1;
        generation++;
    }

    void flushWrites() {
        Arrays.fill(tag[WRITE], -1);
        codeEpoch = phys.code.epoch;
    }

    void invlpg(long lin) {
        int i = (int) (lin >>> 12) & (SIZE - 1);
        for (long[] t : tag) t[i] = -1;
        generation++;
    }

    private static long tagOf(long lin, boolean user) {
        return (lin >>> 12) << 1 | (user ? 1 : 0);
    }

    long read(long lin, int size, boolean user) {
        int i = (int) (lin >>> 12) & (SIZE - 1);
        int o = (int) lin & 0xFFF;
        if (tag[READ][i] == tagOf(lin, user) && o <= 4096 - size)
            return PhysicalMemory.get(host[READ][i], off[READ][i] + o, size);
        return readSlow(lin, size, user);
    }

    void write(long lin, int size, long v, boolean user) {
        int i = (int) (lin >>> 12) & (SIZE - 1);
        int o = (int) lin & 0xFFF;
        if (tag[WRITE][i] == tagOf(lin, user) && o <= 4096 - size) {
            PhysicalMemory.put(host[WRITE][i], off[WRITE][i] + o, size, v);
            return;
        }
        writeSlow(lin, size, v, user);
    }

    private long readSlow(long lin, int size, boolean user) {
        int o = (int) lin & 0xFFF;
        if (o + size > 4096) {
            int first = 4096 - o;
            long pa1 = translate(lin, READ, user), pa2 = translate(lin + first, READ, user);
            long v = 0;
            for (int k = size - 1; k >= 0; k--)
                v = v << 8 | ramRead(k < first ? pa1 + k : pa2 + k - first, 1);
            return v;
        }
        long pa = translate(lin, READ, user);
        fill(READ, lin, pa, user);
        return ramRead(pa, size);
    }

    private void writeSlow(long lin, int size, long v, boolean user) {
        int o = (int) lin & 0xFFF;
        if (o + size > 4096) {
            int first = 4096 - o;
            long pa1 = translate(lin, WRITE, user), pa2 = translate(lin + first, WRITE, user);
            for (int k = 0; k < size; k++) ramWrite(k < first ? pa1 + k : pa2 + k - first, 1, v >>> (8 * k));
            return;
        }
        long pa = translate(lin, WRITE, user);
        if (!phys.code.isCode(pa >>> 12)) fill(WRITE, lin, pa, user);
        ramWrite(pa, size, v);
    }

    /**
     * A read at {@code pa} on the slow path (a TLB miss, a page-crossing access): RAM is read straight, without
     * moving {@code Machine.serial}, as the TLB's fast path does; anything else (MMIO, the APIC, a ROM's tail) is a
     * device access and serializes. Before, every TLB miss moved the serial number, so each block entered after it
     * compared its bytes with memory again and every translated loop left.
     */
    private long ramRead(long pa, int size) {
        RamRegion r = phys.regionOf(pa);
        if (r != null && r.contains(pa, size)) return PhysicalMemory.get(r.segment(), pa - r.guestBase(), size);
        return physRead(pa, size);
    }

    /** A write at {@code pa} on the slow path: RAM straight (dropping the blocks of a code page), else as a device. */
    private void ramWrite(long pa, int size, long v) {
        RamRegion r = phys.regionOf(pa);
        if (r != null && !r.readOnly() && r.contains(pa, size)) {
            phys.code.written(pa);
            PhysicalMemory.put(r.segment(), pa - r.guestBase(), size, v);
            return;
        }
        physWrite(pa, size, v);
    }

    long physRead(long pa, int size) {
        cpu.machine.serial++; // a device access (MMIO, the APIC, a ROM's tail), or an instruction fetched through it
        return phys.read(pa, size, cpu.machine.mmio, cpu.machine.apic, cpu.machine.apicBase(), cpu.machine.index);
    }

    void physWrite(long pa, int size, long v) {
        cpu.machine.serial++;
        phys.write(pa, size, v, cpu.machine.mmio, cpu.machine.apic, cpu.machine.apicBase(), cpu.machine.index);
    }

    private void fill(int kind, long lin, long pa, boolean user) {
        long page = pa & -4096L;
        RamRegion r = phys.wholePage(page);
        if (r == null || (kind == WRITE && r.readOnly())) return;
        if (cpu.machine.apic != null && page == cpu.machine.apicBase()) return;
        int i = (int) (lin >>> 12) & (SIZE - 1);
        tag[kind][i] = tagOf(lin, user);
        host[kind][i] = r.segment();
        off[kind][i] = page - r.guestBase();
        global[kind][i] = walkGlobal;
    }

    /** The host memory of an executable RAM page at linear {@code lin}, after the access checks; null if not RAM. */
    MemorySegment codePage(long lin, long[] paOut) {
        boolean user = cpu.cpl == 3;
        int i = (int) (lin >>> 12) & (SIZE - 1);
        if (tag[EXEC][i] == tagOf(lin, user)) {
            // A fetch TLB hit: the walk (its checks, accessed bits) was done when the entry was filled, and every
            // change that could make it stale (CR0/CR3/CR4/EFER, INVLPG, a new guest-physical map) drops it.
            paOut[0] = execPage[i] | (lin & 0xFFF);
            paOut[1] = off[EXEC][i];
            return host[EXEC][i];
        }
        long pa = translate(lin, EXEC, user);
        paOut[0] = pa;
        RamRegion r = phys.wholePage(pa & -4096L);
        if (r == null) return null;
        paOut[1] = (pa & -4096L) - r.guestBase();
        fill(EXEC, lin, pa, user);
        if (tag[EXEC][i] == tagOf(lin, user)) execPage[i] = pa & -4096L;
        return r.segment();
    }

    /**
     * Where a locked read-modify-write of {@code size} bytes at {@code lin} lands in host memory: {@code out[0]} is
     * the offset in the returned segment. Null when it is not RAM in one page (the caller serializes instead).
     */
    MemorySegment ramForWrite(long lin, int size, boolean user, long[] out) {
        if (((int) lin & 0xFFF) + size > 4096) return null;
        long pa = translate(lin, WRITE, user);
        RamRegion r = phys.regionOf(pa);
        if (r == null || r.readOnly() || !r.contains(pa, size)) return null;
        phys.code.written(pa);
        out[0] = pa - r.guestBase();
        return r.segment();
    }

    // ---- page walks ----

    /**
     * A page-table entry. In RAM it is read straight, without counting as a serializing access: a TLB miss is no
     * device access, and moving {@code Machine.serial} would make every block re-check its bytes and every
     * translated loop leave. Anywhere else (MMIO, a ROM's tail) it goes the slow way, as before.
     */
    private long tableRead(long pa, int size) {
        RamRegion r = phys.regionOf(pa);
        if (r != null && r.contains(pa, size)) return PhysicalMemory.get(r.segment(), pa - r.guestBase(), size);
        return physRead(pa, size);
    }

    boolean paging() {
        return (cpu.cr0 & Cpu.CR0_PG) != 0 && (cpu.cr0 & Cpu.CR0_PE) != 0;
    }

    /** Translates for an access of {@code kind}; raises #PF (setting CR2) when the page tables refuse. */
    long translate(long lin, int kind, boolean user) {
        walkGlobal = false;
        if (!paging()) return cpu.longMode() ? lin : lin & 0xFFFFFFFFL;
        return walk(lin, kind, user, true);
    }

    /** The physical address of {@code lin} with no fault and no accessed/dirty update, or empty. */
    OptionalLong probe(long lin) {
        if (!paging()) return OptionalLong.of(cpu.longMode() ? lin : lin & 0xFFFFFFFFL);
        try {
            return OptionalLong.of(walk(lin, READ, false, false));
        } catch (CpuFault f) {
            return OptionalLong.empty();
        } catch (RuntimeException e) {
            return OptionalLong.empty();
        }
    }

    private long walk(long lin, int kind, boolean user, boolean update) {
        boolean pae = (cpu.cr4 & Cpu.CR4_PAE) != 0;
        boolean nxe = (cpu.efer & Cpu.EFER_NXE) != 0 && pae;
        int levels;
        long table;
        if (cpu.longMode()) {
            long canon = lin << 16 >> 16;
            if (canon != lin) throw CpuFault.gp(0);
            levels = 4;
            table = cpu.cr3 & ADDR_MASK;
        } else if (pae) {
            lin &= 0xFFFFFFFFL;
            levels = 3;
            table = cpu.cr3 & 0xFFFFFFE0L;
        } else {
            lin &= 0xFFFFFFFFL;
            levels = 2;
            table = cpu.cr3 & 0xFFFFF000L;
        }
        boolean writable = true, userOk = true, noExec = false;
        long[] entries = new long[levels];
        long[] addrs = new long[levels];
        for (int level = levels; level >= 1; level--) {
            long entryAddr;
            int entrySize = pae ? 8 : 4;
            if (pae || cpu.longMode()) {
                int shift = 12 + 9 * (level - 1);
                int idx = (int) (lin >>> shift) & (level == 3 && !cpu.longMode() ? 3 : 511);
                entryAddr = table + idx * 8L;
            } else {
                int shift = level == 2 ? 22 : 12;
                entryAddr = table + ((lin >>> shift) & 1023) * 4;
            }
            long e = tableRead(entryAddr, entrySize);
            entries[levels - level] = e;
            addrs[levels - level] = entryAddr;
            if ((e & 1) == 0) throw pageFault(lin, kind, user, 0);
            boolean pdpte32 = pae && !cpu.longMode() && level == 3;
            if (pdpte32) {
                if ((e & 0x1E6) != 0) throw pageFault(lin, kind, user, PF_P | PF_RSVD);
            } else {
                if (!nxe && pae && (e & (1L << 63)) != 0) throw pageFault(lin, kind, user, PF_P | PF_RSVD);
                writable &= (e & 2) != 0;
                userOk &= (e & 4) != 0;
                noExec |= nxe && (e & (1L << 63)) != 0;
            }
            boolean large = (e & 0x80) != 0 && !pdpte32
                    && (level == 2 && (pae || (cpu.cr4 & Cpu.CR4_PSE) != 0) || level == 3 && cpu.longMode());
            if (level == 4 && (e & 0x80) != 0) throw pageFault(lin, kind, user, PF_P | PF_RSVD);
            if (level == 1 || large) {
                check(lin, kind, user, writable, userOk, noExec);
                long pa;
                if (level == 1) pa = (e & (pae ? ADDR_MASK : 0xFFFFF000L)) | (lin & 0xFFF);
                else if (!pae) pa = (e & 0xFFC00000L) | ((e & 0x1FE000L) << 19) | (lin & 0x3FFFFF);
                else {
                    long span = 1L << (12 + 9 * (level - 1));
                    pa = (e & ADDR_MASK & -span) | (lin & (span - 1));
                }
                walkGlobal = (e & 0x100) != 0 && (cpu.cr4 & Cpu.CR4_PGE) != 0;
                if (update) setAccessedDirty(entries, addrs, levels - level + 1, kind == WRITE, entrySize);
                return pa;
            }
            table = e & (pae ? ADDR_MASK : 0xFFFFF000L);
        }
        throw new IllegalStateException("unreachable");
    }

    private void check(long lin, int kind, boolean user, boolean writable, boolean userOk, boolean noExec) {
        if (user && !userOk) throw pageFault(lin, kind, user, PF_P);
        if (kind == WRITE && !writable && (user || (cpu.cr0 & Cpu.CR0_WP) != 0)) throw pageFault(lin, kind, user, PF_P);
        if (kind == EXEC && noExec) throw pageFault(lin, kind, user, PF_P);
    }

    private void setAccessedDirty(long[] entries, long[] addrs, int n, boolean write, int size) {
        for (int k = 0; k < n; k++) {
            long e = entries[k];
            boolean last = k == n - 1;
            long want = e | 0x20 | (last && write ? 0x40 : 0);
            boolean pdpte32 = size == 8 && !cpu.longMode() && entries.length == 3 && k == 0;
            if (pdpte32) continue; // PAE PDPTEs have no accessed bit in this form
            if (want != e) ramWrite(addrs[k], size == 8 ? 8 : 4, want); // RAM: no serialization, as tableRead
        }
    }

    private CpuFault pageFault(long lin, int kind, boolean user, int bits) {
        cpu.cr2 = lin;
        int code = bits | (kind == WRITE ? PF_W : 0) | (user ? PF_U : 0);
        if (kind == EXEC && (cpu.efer & Cpu.EFER_NXE) != 0) code |= PF_I;
        return CpuFault.pf(code);
    }
}
