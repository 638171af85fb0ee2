package vmm.emu.internal.cpu;

import vmm.core.hypervisor.Segment;

/**
 * Far JMP/CALL/RET, IRET, ENTER, POPF's privilege rules, and the delivery of
 * interrupts and exceptions through the IVT (real mode), 32-bit IDT gates
 * (with the TSS stack switch on a privilege change) and 64-bit IDT gates (with
 * IST). Call gates are followed for JMP and for a CALL at the same privilege;
 * task gates and task switches raise #GP.
 */
final class ControlFlow {
    private ControlFlow() {
    }

    private static boolean realOrV86(Cpu c) {
        return !c.protectedMode() || c.v86();
    }

    static void farJump(Cpu c, int sel, long offset, int os) {
        if (realOrV86(c)) {
            Segmentation.load(c, Cpu.CS, sel);
            c.jump(offset, os);
            return;
        }
        if ((sel & ~3) == 0) throw CpuFault.gp(0);
        long d = Segmentation.readDescriptor(c, sel);
        Segment s = Segmentation.parse(d, sel);
        if (!s.s() && (s.type() == 0xC || s.type() == 4)) {
            long[] t = gateTarget(c, sel, d, s);
            farJump(c, (int) t[0], t[1], s.type() == 4 ? 2 : c.longMode() ? 8 : 4);
            return;
        }
        checkCodeTarget(c, sel, s);
        Segmentation.loadCs(c, sel, d, c.cpl);
        c.jump(offset, c.codeBits == 64 ? 8 : os);
    }

    /** A call gate's target {selector, offset}, after its checks. */
    private static long[] gateTarget(Cpu c, int sel, long d, Segment g) {
        if (g.dpl() < Math.max(c.cpl, sel & 3)) throw CpuFault.gp(sel & 0xFFFC);
        if (!g.present()) throw CpuFault.np(sel & 0xFFFC);
        long offset = (d & 0xFFFF) | (g.type() == 0xC ? (d >>> 32) & 0xFFFF0000L : 0);
        if (c.longMode()) offset |= c.readSys(Segmentation.descriptorAddress(c, sel) + 8, 4) << 32;
        int target = (int) (d >>> 16) & 0xFFFF;
        long td = Segmentation.readDescriptor(c, target);
        Segment ts = Segmentation.parse(td, target);
        if (!ts.s() || (ts.type() & 8) == 0 || ts.dpl() > c.cpl) throw CpuFault.gp(target & 0xFFFC);
        if (ts.dpl() < c.cpl && (ts.type() & 4) == 0) throw CpuFault.gp(target & 0xFFFC); // inner-level call gates
        return new long[] {(target & ~3) | c.cpl, offset};
    }

    private static void checkCodeTarget(Cpu c, int sel, Segment s) {
        if (!s.s() || (s.type() & 8) == 0) throw CpuFault.gp(sel & 0xFFFC);
        boolean conforming = (s.type() & 4) != 0;
        if (conforming ? s.dpl() > c.cpl : (sel & 3) > c.cpl || s.dpl() != c.cpl) throw CpuFault.gp(sel & 0xFFFC);
        if (!s.present()) throw CpuFault.np(sel & 0xFFFC);
    }

    static void farCall(Cpu c, int sel, long offset, int os, long ret) {
        if (realOrV86(c)) {
            long cs = c.seg[Cpu.CS].selector();
            c.push(cs, os);
            c.push(ret, os);
            Segmentation.load(c, Cpu.CS, sel);
            c.jump(offset, os);
            return;
        }
        if ((sel & ~3) == 0) throw CpuFault.gp(0);
        long d = Segmentation.readDescriptor(c, sel);
        Segment s = Segmentation.parse(d, sel);
        if (!s.s() && (s.type() == 0xC || s.type() == 4)) {
            long[] t = gateTarget(c, sel, d, s);
            farCall(c, (int) t[0], t[1], s.type() == 4 ? 2 : c.longMode() ? 8 : 4, ret);
            return;
        }
        checkCodeTarget(c, sel, s);
        int size = c.codeBits == 64 ? Math.max(os, 4) : os;
        long oldSp = c.r[Cpu.RSP];
        long cs = c.seg[Cpu.CS].selector();
        try {
            c.push(cs, size);
            c.push(ret, size);
        } catch (CpuFault f) {
            c.r[Cpu.RSP] = oldSp;
            throw f;
        }
        Segmentation.loadCs(c, sel, d, c.cpl);
        c.jump(offset, c.codeBits == 64 ? 8 : os);
    }

    static void farReturn(Cpu c, int os, int imm) {
        if (realOrV86(c)) {
            long ip = c.pop(os);
            int cs = (int) c.pop(os) & 0xFFFF;
            c.setSp(c.sp() + imm);
            Segmentation.load(c, Cpu.CS, cs);
            c.jump(ip, os);
            return;
        }
        long ip = c.peek(os, 0);
        int sel = (int) c.peek(os, 1) & 0xFFFF;
        int rpl = sel & 3;
        if ((sel & ~3) == 0 || rpl < c.cpl) throw CpuFault.gp(sel & 0xFFFC);
        long d = Segmentation.readDescriptor(c, sel);
        Segment s = Segmentation.parse(d, sel);
        if (!s.s() || (s.type() & 8) == 0) throw CpuFault.gp(sel & 0xFFFC);
        if ((s.type() & 4) != 0 ? s.dpl() > rpl : s.dpl() != rpl) throw CpuFault.gp(sel & 0xFFFC);
        if (!s.present()) throw CpuFault.np(sel & 0xFFFC);
        if (rpl == c.cpl) {
            c.setSp(c.sp() + 2L * os + imm);
            Segmentation.loadCs(c, sel, d, rpl);
            c.jump(ip, os);
            return;
        }
        long sp = c.peek(os, 2 + imm / os);
        int ss = (int) c.peek(os, 3 + imm / os) & 0xFFFF;
        Segmentation.loadCs(c, sel, d, rpl);
        Segmentation.load(c, Cpu.SS, ss);
        c.setReg(Cpu.RSP, c.stackSize(), sp + imm);
        Segmentation.nullInaccessible(c);
        c.jump(ip, os);
    }

    /** POPF's rules: IOPL only at CPL 0, IF only at CPL <= IOPL; VM and RF stay clear, VIF/VIP unchanged. */
    static void popFlags(Cpu c, long v, int os) {
        long old = c.rflags();
        long keep = Cpu.VM | Cpu.RF | Cpu.VIF | Cpu.VIP;
        if (c.protectedMode()) {
            if (c.cpl > 0) keep |= Cpu.IOPL;
            if (c.cpl > ((old & Cpu.IOPL) >>> 12)) keep |= Cpu.IF;
        }
        if (os == 2) keep |= ~0xFFFFL;
        long nv = (v & ~keep) | (old & keep);
        nv &= ~(Cpu.VM | Cpu.RF) | (old & (Cpu.VM));
        c.setRflags(nv);
    }

    static void enter(Cpu c, int alloc, int level, int os) {
        int ss = c.stackSize();
        c.push(c.reg(Cpu.RBP, os), os);
        long frame = c.sp();
        if (level > 0) {
            long bp = c.reg(Cpu.RBP, ss);
            for (int i = 1; i < level; i++) {
                bp = (bp - os) & Cpu.mask(ss);
                c.push(c.read(Cpu.SS, bp, os), os);
            }
            c.push(frame, os);
        }
        c.setReg(Cpu.RBP, os, frame);
        c.setSp((c.sp() - alloc) & Cpu.mask(ss));
    }

    static void iret(Cpu c, int os) {
        c.machine.serial++;
        if (c.machine.nmiBlocked) {
            c.machine.nmiBlocked = false;
            c.machine.attention = true; // an NMI that waited may come now
        }
        if (!c.protectedMode()) {
            long ip = c.pop(os);
            int cs = (int) c.pop(os) & 0xFFFF;
            long fl = c.pop(os);
            Segmentation.load(c, Cpu.CS, cs);
            long keep = os == 2 ? ~0xFFFFL : Cpu.VM | Cpu.VIF | Cpu.VIP;
            c.setRflags((fl & ~keep) | (c.rflags() & keep));
            c.jump(ip, os);
            return;
        }
        if (c.v86()) throw CpuFault.gp(0); // virtual-8086 mode is not in the model
        if ((c.flags & Cpu.NT) != 0 && !c.longMode()) throw Machine.unsupportedFeature(c, "IRET with NT (task return)");
        int size = c.codeBits == 64 ? 8 : os;
        if (c.codeBits == 64 && os == 4) size = 4;
        long ip = c.peek(size, 0);
        int sel = (int) c.peek(size, 1) & 0xFFFF;
        long fl = c.peek(size, 2);
        int rpl = sel & 3;
        if ((fl & Cpu.VM) != 0 && c.cpl == 0 && !c.longMode())
            throw Machine.unsupportedFeature(c, "IRET to virtual-8086 mode");
        if ((sel & ~3) == 0 || rpl < c.cpl) throw CpuFault.gp(sel & 0xFFFC);
        long d = Segmentation.readDescriptor(c, sel);
        Segment s = Segmentation.parse(d, sel);
        if (!s.s() || (s.type() & 8) == 0) throw CpuFault.gp(sel & 0xFFFC);
        if ((s.type() & 4) != 0 ? s.dpl() > rpl : s.dpl() != rpl) throw CpuFault.gp(sel & 0xFFFC);
        if (!s.present()) throw CpuFault.np(sel & 0xFFFC);
        int oldCpl = c.cpl;
        long oldFlags = c.rflags();
        boolean outer = rpl != c.cpl || c.codeBits == 64;
        long sp = 0;
        int ss = 0;
        if (outer) {
            sp = c.peek(size, 3);
            ss = (int) c.peek(size, 4) & 0xFFFF;
        } else {
            c.setSp(c.sp() + 3L * size);
        }
        Segmentation.loadCs(c, sel, d, rpl);
        long keep = Cpu.VM | Cpu.VIF | Cpu.VIP;
        if (oldCpl > 0) keep |= Cpu.IOPL;
        if (oldCpl > ((oldFlags & Cpu.IOPL) >>> 12)) keep |= Cpu.IF;
        if (size == 2) keep |= ~0xFFFFL;
        c.setRflags((fl & ~keep) | (oldFlags & keep));
        if (outer) {
            if (c.codeBits == 64 && (ss & ~3) == 0 && rpl != 3) {
                c.setSegment(Cpu.SS, Segmentation.nullSegment(ss));
            } else {
                Segmentation.load(c, Cpu.SS, ss);
            }
            c.setReg(Cpu.RSP, c.codeBits == 64 ? 8 : c.stackSize(), sp);
            if (rpl > oldCpl) Segmentation.nullInaccessible(c);
        }
        c.jump(ip, c.codeBits == 64 ? 8 : os);
    }

    /** INT n, INT3, INTO, INT1: a software interrupt returning to {@code ret}. */
    static void softwareInterrupt(Cpu c, int vector, long ret) {
        if (c.v86() && (c.flags & Cpu.IOPL) != Cpu.IOPL) throw CpuFault.gp(0);
        deliver(c, vector, true, false, 0, false, ret);
    }

    /**
     * Delivers {@code vector}: pushes the return frame and enters the handler.
     *
     * @param software INT n (the gate's DPL is checked against CPL)
     * @param external an external interrupt or NMI (sets EXT in error codes of faults during delivery)
     */
    static void deliver(Cpu c, int vector, boolean software, boolean external, int error, boolean hasError, long ret) {
        c.machine.serial++;
        int ext = external ? 1 : 0;
        if (!c.protectedMode()) {
            if (vector * 4L + 3 > c.idtLimit) throw CpuFault.gp(vector * 8 + 2 + ext);
            long fl = c.rflags();
            c.push(fl, 2);
            c.push(c.seg[Cpu.CS].selector(), 2);
            c.push(ret, 2);
            long ent = c.readSys(c.idtBase + vector * 4L, 4);
            c.flags &= ~(Cpu.IF | Cpu.TF | Cpu.AC | Cpu.RF);
            Segmentation.load(c, Cpu.CS, (int) (ent >>> 16) & 0xFFFF);
            c.rip = ent & 0xFFFF;
            return;
        }
        boolean lm = c.longMode();
        int gateSize = lm ? 16 : 8;
        if ((long) vector * gateSize + gateSize - 1 > c.idtLimit) throw CpuFault.gp(vector * 8 + 2 + ext);
        long gAddr = c.idtBase + (long) vector * gateSize;
        long g = c.readSys(gAddr, 8);
        int type = (int) (g >>> 40) & 0xF;
        int dpl = (int) (g >>> 45) & 3;
        boolean present = ((g >>> 47) & 1) != 0;
        boolean trap;
        boolean gate32;
        if (lm) {
            if (type != 0xE && type != 0xF) throw CpuFault.gp(vector * 8 + 2 + ext);
            trap = type == 0xF;
            gate32 = true;
        } else {
            switch (type) {
                case 0x6, 0x7, 0xE, 0xF -> {
                }
                case 0x5 -> throw Machine.unsupportedFeature(c, "a task gate in the IDT (vector " + vector + ")");
                default -> throw CpuFault.gp(vector * 8 + 2 + ext);
            }
            trap = (type & 1) != 0;
            gate32 = (type & 8) != 0;
        }
        if (software && dpl < c.cpl) throw CpuFault.gp(vector * 8 + 2);
        if (!present) throw CpuFault.np(vector * 8 + 2 + ext);
        long offset = (g & 0xFFFF) | ((g >>> 32) & 0xFFFF0000L);
        if (lm) offset |= c.readSys(gAddr + 8, 4) << 32;
        else if (!gate32) offset &= 0xFFFF;
        int sel = (int) (g >>> 16) & 0xFFFF;
        if ((sel & ~3) == 0) throw CpuFault.gp(ext);
        long d = Segmentation.readDescriptor(c, sel);
        Segment cs = Segmentation.parse(d, sel);
        if (!cs.s() || (cs.type() & 8) == 0 || cs.dpl() > c.cpl) throw CpuFault.gp((sel & 0xFFFC) + ext);
        if (!cs.present()) throw CpuFault.np((sel & 0xFFFC) + ext);
        if (lm && (!cs.l() || cs.db())) throw CpuFault.gp((sel & 0xFFFC) + ext);
        boolean conforming = (cs.type() & 4) != 0;
        int newCpl = conforming ? c.cpl : cs.dpl();
        long fl = c.rflags();
        int oldSs = c.seg[Cpu.SS].selector();
        long oldSp = c.r[Cpu.RSP];
        int oldCs = c.seg[Cpu.CS].selector();
        int oldCpl = c.cpl;
        Segment savedSs = c.seg[Cpu.SS], savedCs = c.seg[Cpu.CS];
        try {
            if (lm) {
                int ist = (int) (g >>> 32) & 7;
                long newSp;
                if (ist != 0) newSp = tss64Stack(c, 36 + (ist - 1) * 8, ext);
                else if (newCpl < oldCpl) newSp = tss64Stack(c, 4 + newCpl * 8, ext);
                else newSp = c.r[Cpu.RSP];
                if (newCpl < oldCpl) c.setSegment(Cpu.SS, Segmentation.nullSegment(newCpl));
                Segmentation.loadCs(c, sel, d, newCpl);
                c.r[Cpu.RSP] = newSp & ~15L;
                c.push(oldSs, 8);
                c.push(oldSp, 8);
                c.push(fl, 8);
                c.push(oldCs, 8);
                c.push(ret, 8);
                if (hasError) c.push(error, 8);
            } else {
                int size = gate32 ? 4 : 2;
                if (newCpl < oldCpl) {
                    long[] stack = tss32Stack(c, newCpl, ext);
                    int ss = (int) stack[0];
                    loadStackForInterrupt(c, ss, newCpl, ext);
                    c.setReg(Cpu.RSP, c.stackSize(), stack[1]);
                    Segmentation.loadCs(c, sel, d, newCpl);
                    c.push(oldSs, size);
                    c.push(oldSp, size);
                } else {
                    Segmentation.loadCs(c, sel, d, newCpl);
                }
                c.push(fl, size);
                c.push(oldCs, size);
                c.push(ret, size);
                if (hasError) c.push(error, size);
            }
        } catch (CpuFault f) {
            c.setSegment(Cpu.SS, savedSs);
            c.setSegment(Cpu.CS, savedCs);
            c.cpl = oldCpl;
            c.r[Cpu.RSP] = oldSp;
            throw f;
        }
        c.rip = offset;
        c.flags &= ~(Cpu.TF | Cpu.NT | Cpu.RF | Cpu.VM);
        c.materialize();
        c.flags &= ~(Cpu.TF | Cpu.NT | Cpu.RF | Cpu.VM);
        if (!trap) c.flags &= ~Cpu.IF;
    }

    private static long tss64Stack(Cpu c, int at, int ext) {
        if (c.tr.unusable() || at + 7 > (c.tr.limit() & 0xFFFFFFFFL))
            throw CpuFault.ts((c.tr.selector() & 0xFFFC) + ext);
        return c.readSys(c.tr.base() + at, 8);
    }

    /** SS and ESP for privilege level {@code cpl} from the current 32- or 16-bit TSS. */
    private static long[] tss32Stack(Cpu c, int cpl, int ext) {
        boolean tss32 = (c.tr.type() & 8) != 0;
        int at = tss32 ? 4 + cpl * 8 : 2 + cpl * 4;
        int len = tss32 ? 6 : 4;
        if (c.tr.unusable() || at + len - 1 > (c.tr.limit() & 0xFFFFFFFFL))
            throw CpuFault.ts((c.tr.selector() & 0xFFFC) + ext);
        long sp = c.readSys(c.tr.base() + at, tss32 ? 4 : 2);
        int ss = (int) c.readSys(c.tr.base() + at + (tss32 ? 4 : 2), 2);
        return new long[] {ss, sp};
    }

    private static void loadStackForInterrupt(Cpu c, int ss, int cpl, int ext) {
        if ((ss & ~3) == 0 || (ss & 3) != cpl) throw CpuFault.ts((ss & 0xFFFC) + ext);
        long d = Segmentation.readDescriptor(c, ss);
        Segment s = Segmentation.parse(d, ss);
        if (!s.s() || (s.type() & 8) != 0 || (s.type() & 2) == 0 || s.dpl() != cpl)
            throw CpuFault.ts((ss & 0xFFFC) + ext);
        if (!s.present()) throw CpuFault.ss((ss & 0xFFFC) + ext);
        Segmentation.markAccessed(c, ss, d);
        c.setSegment(Cpu.SS, Segmentation.withAccessed(s));
    }
}
