package vmm.emu.internal.cpu;

import vmm.core.hypervisor.Segment;

/**
 * Segment register loads with the protected-mode checks, descriptor parsing
 * and the hidden descriptor caches, and the per-access segment checks. Real
 * mode loads change only selector and base and keep the cached limit and
 * attributes, which is what makes big real mode ("unreal") work.
 */
final class Segmentation {
    static final int UNUSABLE = 1, NOT_READABLE = 2, NOT_WRITABLE = 4, EXPAND_DOWN = 8;

    private Segmentation() {
    }

    static int kind(Segment s) {
        if (s.unusable() || !s.present()) return UNUSABLE;
        if (!s.s()) return 0; // system segments are only reached through their own instructions
        int t = s.type();
        if ((t & 8) != 0) return ((t & 2) == 0 ? NOT_READABLE : 0) | NOT_WRITABLE;
        return ((t & 2) == 0 ? NOT_WRITABLE : 0) | ((t & 4) != 0 ? EXPAND_DOWN : 0);
    }

    /** Checks a protected-mode access of {@code size} bytes at {@code off} in segment {@code s}. */
    static void checkAccess(Cpu c, int s, long off, int size, boolean write) {
        int k = c.segKind[s];
        long end = off + size - 1;
        if (k == 0 && end <= c.segLimit[s]) return;
        if (c.v86() || !c.protectedMode()) {
            if (end > c.segLimit[s]) throw s == Cpu.SS ? CpuFault.ss(0) : CpuFault.gp(0);
            return;
        }
        if ((k & UNUSABLE) != 0) throw s == Cpu.SS ? CpuFault.ss(0) : CpuFault.gp(0);
        if (write && (k & NOT_WRITABLE) != 0 || !write && (k & NOT_READABLE) != 0) throw CpuFault.gp(0);
        boolean bad;
        if ((k & EXPAND_DOWN) != 0) {
            long upper = c.seg[s].db() ? 0xFFFFFFFFL : 0xFFFF;
            bad = off <= c.segLimit[s] || end > upper;
        } else {
            bad = end > c.segLimit[s];
        }
        if (bad) throw s == Cpu.SS ? CpuFault.ss(0) : CpuFault.gp(0);
    }

    /** The segment a raw 8-byte descriptor describes, for selector {@code sel}. */
    static Segment parse(long d, int sel) {
        long base = ((d >>> 16) & 0xFFFFFF) | ((d >>> 56) & 0xFF) << 24;
        long limit = (d & 0xFFFF) | ((d >>> 48) & 0xF) << 16;
        boolean g = ((d >>> 55) & 1) != 0;
        if (g) limit = limit << 12 | 0xFFF;
        return new Segment(base, (int) limit, sel, (int) (d >>> 40) & 0xF, ((d >>> 47) & 1) != 0, (int) (d >>> 45) & 3,
                ((d >>> 54) & 1) != 0, ((d >>> 44) & 1) != 0, ((d >>> 53) & 1) != 0, g, ((d >>> 52) & 1) != 0, false);
    }

    /** The linear address of the descriptor {@code sel} names; #GP(sel) beyond its table's limit. */
    static long descriptorAddress(Cpu c, int sel) {
        int idx = sel & ~7;
        if ((sel & 4) != 0) {
            if (c.ldtr.unusable() || idx + 7 > (c.ldtr.limit() & 0xFFFFFFFFL)) throw CpuFault.gp(sel & 0xFFFC);
            return c.ldtr.base() + idx;
        }
        if (idx + 7 > c.gdtLimit) throw CpuFault.gp(sel & 0xFFFC);
        return c.gdtBase + idx;
    }

    static long readDescriptor(Cpu c, int sel) {
        return c.readSys(descriptorAddress(c, sel), 8);
    }

    /** Sets the accessed bit of the descriptor, as the processor does on a load. */
    static void markAccessed(Cpu c, int sel, long d) {
        if ((d & (1L << 40)) == 0) c.writeSys(descriptorAddress(c, sel) + 5, 1, (d >>> 40 | 1) & 0xFF);
    }

    static Segment nullSegment(int sel) {
        return new Segment(0, 0, sel, 0, false, 0, false, false, false, false, false, true);
    }

    /** MOV/POP to a data segment register or SS, LDS and friends. */
    static void load(Cpu c, int n, int sel) {
        sel &= 0xFFFF;
        if (!c.protectedMode() || c.v86()) {
            Segment old = c.seg[n];
            Segment s = c.v86()
                    ? new Segment((long) sel << 4, 0xFFFF, sel, n == Cpu.CS ? 0xB : 3, true, 3, false, true, false,
                            false, false, false)
                    : new Segment((long) sel << 4, old.limit(), sel, old.type(), true, old.dpl(), old.db(), true,
                            old.l(), old.granularity(), old.avl(), false);
            c.setSegment(n, s);
            return;
        }
        int rpl = sel & 3;
        if ((sel & ~3) == 0) {
            if (n == Cpu.SS && !(c.codeBits == 64 && c.cpl != 3 && rpl == c.cpl)) throw CpuFault.gp(0);
            c.setSegment(n, nullSegment(sel));
            return;
        }
        long d = readDescriptor(c, sel);
        Segment s = parse(d, sel);
        int t = s.type();
        boolean code = (t & 8) != 0;
        if (n == Cpu.SS) {
            if (rpl != c.cpl || !s.s() || code || (t & 2) == 0 || s.dpl() != c.cpl) throw CpuFault.gp(sel & 0xFFFC);
            if (!s.present()) throw CpuFault.ss(sel & 0xFFFC);
        } else {
            if (!s.s() || code && (t & 2) == 0) throw CpuFault.gp(sel & 0xFFFC);
            boolean conforming = code && (t & 4) != 0;
            if (!conforming && Math.max(c.cpl, rpl) > s.dpl()) throw CpuFault.gp(sel & 0xFFFC);
            if (!s.present()) throw CpuFault.np(sel & 0xFFFC);
        }
        markAccessed(c, sel, d);
        c.setSegment(n, withAccessed(s));
    }

    static Segment withAccessed(Segment s) {
        return new Segment(s.base(), s.limit(), s.selector(), s.type() | (s.s() ? 1 : 0), s.present(), s.dpl(), s.db(),
                s.s(), s.l(), s.granularity(), s.avl(), s.unusable());
    }

    /**
     * Checks and loads a code segment for a far JMP/CALL/RET, IRET or an interrupt: {@code newCpl} is the
     * privilege the code will run at. Raises #GP/#NP(selector) when the descriptor does not allow it.
     */
    static void loadCs(Cpu c, int sel, long d, int newCpl) {
        Segment s = parse(d, (sel & ~3) | newCpl);
        if (!s.s() || (s.type() & 8) == 0) throw CpuFault.gp(sel & 0xFFFC);
        if (!s.present()) throw CpuFault.np(sel & 0xFFFC);
        markAccessed(c, sel, d);
        Segment cs = withAccessed(s);
        if (c.longMode() && cs.l() && cs.db()) throw CpuFault.gp(sel & 0xFFFC);
        c.setSegment(Cpu.CS, cs);
        c.cpl = newCpl;
        c.updateCodeBits();
        c.cpl = newCpl;
    }

    /** After a return to an outer privilege level: data segments the new level may not use become null. */
    static void nullInaccessible(Cpu c) {
        for (int n : new int[] {Cpu.ES, Cpu.DS, Cpu.FS, Cpu.GS}) {
            Segment s = c.seg[n];
            boolean conformingCode = (s.type() & 0xC) == 0xC;
            if (!s.unusable() && s.s() && !conformingCode && s.dpl() < c.cpl) c.setSegment(n, nullSegment(0));
        }
    }

    /** ARPL (63 outside 64-bit mode). */
    static void arpl(Cpu c, Insn d) {
        if (!c.protectedMode() || c.v86()) throw CpuFault.ud();
        long dst = c.rm(d, 2), src = c.regOp(d, 2);
        if ((dst & 3) < (src & 3)) {
            c.setRm(d, 2, (dst & ~3) | (src & 3));
            c.setFlag(Cpu.ZF, true);
        } else {
            c.setFlag(Cpu.ZF, false);
        }
    }

    /** LAR (true) or LSL: ZF set and the access rights or limit written when the descriptor is visible. */
    static void larLsl(Cpu c, Insn d, boolean lar) {
        if (!c.protectedMode() || c.v86()) throw CpuFault.ud();
        int sel = (int) c.rm(d, 2);
        boolean ok = false;
        long value = 0;
        if ((sel & ~3) != 0) {
            try {
                long desc = readDescriptor(c, sel);
                Segment s = parse(desc, sel);
                boolean conforming = s.s() && (s.type() & 0xC) == 0xC;
                boolean typeOk = s.s() || (lar ? java.util.Set.of(1, 2, 3, 4, 5, 9, 0xB, 0xC).contains(s.type())
                        : java.util.Set.of(1, 2, 3, 9, 0xB).contains(s.type()));
                if (typeOk && (conforming || Math.max(c.cpl, sel & 3) <= s.dpl())) {
                    ok = true;
                    value = lar ? desc >>> 32 & 0x00F0FF00L : s.limit() & 0xFFFFFFFFL;
                }
            } catch (CpuFault f) {
                if (f.vector != CpuFault.GP) throw f;
            }
        }
        c.setFlag(Cpu.ZF, ok);
        if (ok) c.setRegOp(d, d.opSize, value);
    }
}
