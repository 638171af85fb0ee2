package vmm.emu.internal.cpu;

import vmm.core.hypervisor.Segment;

/**
 * System instructions: control and debug registers, descriptor-table
 * registers, LLDT/LTR, I/O permission checks, MSRs, SYSCALL/SYSRET. CPUID is
 * {@link CpuidModel}.
 */
final class SystemOps {
    static final int IA32_TSC = 0x10, IA32_APIC_BASE = 0x1B, IA32_TSC_ADJUST = 0x3B, IA32_MTRRCAP = 0xFE, IA32_SYSENTER_CS = 0x174,
            IA32_SYSENTER_ESP = 0x175, IA32_SYSENTER_EIP = 0x176, IA32_MISC_ENABLE = 0x1A0, EFER = 0xC0000080,
            STAR = 0xC0000081, LSTAR = 0xC0000082,
            CSTAR = 0xC0000083, SFMASK = 0xC0000084, FS_BASE = 0xC0000100, GS_BASE = 0xC0000101,
            KERNEL_GS_BASE = 0xC0000102, TSC_AUX = 0xC0000103, HWCR = 0xC0010015, DE_CFG = 0xC0011029,
            SYSCFG = 0xC0010010, INT_PENDING_MSG = 0xC0010055;
    /** HWCR bits a write may set (KVM ignores them as we do): TLB cache disable, FFDIS, IGNNE emulation. */
    static final long HWCR_IGNORED = 0x8 | 0x40 | 0x100;
    /** DE_CFG bit 1: LFENCE is dispatch-serializing (ours is a full fence), which Linux sets on AMD. */
    static final long DE_CFG_LFENCE_SERIALIZE = 2;

    private SystemOps() {
    }

    static void checkCpl0(Cpu c) {
        if (c.cpl != 0) throw CpuFault.gp(0);
    }

    /** CLI/STI: #GP when CPL > IOPL in protected mode. */
    static void checkIopl(Cpu c) {
        if (c.protectedMode() && c.cpl > ((c.flags & Cpu.IOPL) >>> 12)) throw CpuFault.gp(0);
    }

    /** IN/OUT/INS/OUTS: above IOPL the TSS I/O permission bitmap decides. */
    static void checkIo(Cpu c, int port, int size) {
        if (!c.protectedMode() || (!c.v86() && c.cpl <= ((c.flags & Cpu.IOPL) >>> 12))) return;
        Segment tr = c.tr;
        if (tr.unusable() || (tr.type() & 8) == 0 || tr.limit() < 0x67) throw CpuFault.gp(0);
        int mapBase = (int) c.readSys(tr.base() + 0x66, 2);
        long at = mapBase + (port >>> 3);
        if (at + 1 > (tr.limit() & 0xFFFFFFFFL)) throw CpuFault.gp(0);
        int bits = (int) c.readSys(tr.base() + at, 2);
        if (((bits >>> (port & 7)) & ((1 << size) - 1)) != 0) throw CpuFault.gp(0);
    }

    static long readCr(Cpu c, int n) {
        return switch (n) {
            case 0 -> c.cr0;
            case 2 -> c.cr2;
            case 3 -> c.cr3;
            case 4 -> c.cr4;
            case 8 -> c.cr8;
            default -> throw CpuFault.ud();
        };
    }

    static void writeCr(Cpu c, int n, long v) {
        c.machine.serial++;
        switch (n) {
            case 0 -> {
                if (c.codeBits != 64) v &= 0xFFFFFFFFL;
                if ((v >>> 32) != 0) throw CpuFault.gp(0);
                if ((v & Cpu.CR0_PG) != 0 && (v & Cpu.CR0_PE) == 0) throw CpuFault.gp(0);
                if ((v & Cpu.CR0_NW) != 0 && (v & Cpu.CR0_CD) == 0) throw CpuFault.gp(0);
                boolean pgOn = (v & Cpu.CR0_PG) != 0 && (c.cr0 & Cpu.CR0_PG) == 0;
                boolean pgOff = (v & Cpu.CR0_PG) == 0 && (c.cr0 & Cpu.CR0_PG) != 0;
                if (pgOn && (c.efer & Cpu.EFER_LME) != 0) {
                    if ((c.cr4 & Cpu.CR4_PAE) == 0) throw CpuFault.gp(0);
                    c.efer |= Cpu.EFER_LMA;
                }
                if (pgOff && c.longMode()) {
                    if (c.codeBits == 64) throw CpuFault.gp(0);
                    c.efer &= ~Cpu.EFER_LMA;
                }
                c.cr0 = v | Cpu.CR0_ET;
                c.updateCodeBits();
                c.mmu.flush();
                c.machine.endBlock = true;
            }
            case 2 -> c.cr2 = v;
            case 3 -> {
                if (c.codeBits != 64) v &= 0xFFFFFFFFL;
                c.cr3 = v;
                c.mmu.flushNonGlobal();
            }
            case 4 -> {
                long allowed = Cpu.CR4_VME | Cpu.CR4_PVI | Cpu.CR4_TSD | Cpu.CR4_DE | Cpu.CR4_PSE | Cpu.CR4_PAE
                        | Cpu.CR4_MCE | Cpu.CR4_PGE | Cpu.CR4_PCE | Cpu.CR4_OSFXSR | Cpu.CR4_OSXMMEXCPT;
                if ((v & ~allowed) != 0) throw CpuFault.gp(0);
                if (c.longMode() && (v & Cpu.CR4_PAE) == 0) throw CpuFault.gp(0);
                c.cr4 = v;
                c.mmu.flush();
            }
            case 8 -> {
                if ((v & ~15L) != 0) throw CpuFault.gp(0);
                c.cr8 = v;
            }
            default -> throw CpuFault.ud();
        }
    }

    static long readDr(Cpu c, int n) {
        if (n == 4 || n == 5) {
            if ((c.cr4 & Cpu.CR4_DE) != 0) throw CpuFault.ud();
            n += 2;
        }
        if (n > 7) throw CpuFault.ud();
        return c.dr[n];
    }

    static void writeDr(Cpu c, int n, long v) {
        if (n == 4 || n == 5) {
            if ((c.cr4 & Cpu.CR4_DE) != 0) throw CpuFault.ud();
            n += 2;
        }
        if (n > 7) throw CpuFault.ud();
        if (n == 6) v = (v & 0xF00FL) | 0xFFFF0FF0L;
        if (n == 7) v = (v & 0xFFFF2BFFL) | 0x400;
        c.dr[n] = v;
    }

    /** Group 7 (0F 01): SGDT SIDT LGDT LIDT SMSW LMSW INVLPG, and the register forms it has (SWAPGS, RDTSCP). */
    static void group7(Cpu c, Insn d) {
        int os = d.opSize;
        if (d.mod == 3) {
            if (d.regOp == 7 && (d.rm & 7) == 0 && c.codeBits == 64) { // SWAPGS
                checkCpl0(c);
                long gs = c.segBase[Cpu.GS];
                Segment s = c.seg[Cpu.GS];
                c.setSegment(Cpu.GS, new Segment(c.machine.kernelGsBase, s.limit(), s.selector(), s.type(), s.present(),
                        s.dpl(), s.db(), s.s(), s.l(), s.granularity(), s.avl(), s.unusable()));
                c.machine.kernelGsBase = gs;
                return;
            }
            if (d.regOp == 4) {
                c.setReg(d.rm, os, c.cr0 & Cpu.mask(os));
                return;
            }
            if (d.regOp == 6) {
                lmsw(c, c.reg(d.rm, 2));
                return;
            }
            throw Machine.unsupported(c, d);
        }
        int s = c.segOf(d);
        long a = c.ea(d);
        int baseSize = c.codeBits == 64 ? 8 : 4;
        switch (d.regOp) {
            case 0, 1 -> {
                boolean idt = d.regOp == 1;
                c.write(s, a, 2, idt ? c.idtLimit : c.gdtLimit);
                long base = idt ? c.idtBase : c.gdtBase;
                c.write(s, (a + 2) & Cpu.mask(d.adSize), baseSize, baseSize == 4 && os == 2 ? base & 0xFFFFFF : base);
            }
            case 2, 3 -> {
                checkCpl0(c);
                c.machine.serial++;
                int limit = (int) c.read(s, a, 2);
                long base = c.read(s, (a + 2) & Cpu.mask(d.adSize), baseSize);
                if (baseSize == 4 && os == 2) base &= 0xFFFFFF;
                if (d.regOp == 2) {
                    c.gdtBase = base;
                    c.gdtLimit = limit;
                } else {
                    c.idtBase = base;
                    c.idtLimit = limit;
                }
            }
            case 4 -> c.write(s, a, 2, c.cr0);
            case 6 -> lmsw(c, c.read(s, a, 2));
            case 7 -> {
                checkCpl0(c);
                c.mmu.invlpg(c.linear(s, a, 1, false));
            }
            default -> throw CpuFault.ud();
        }
    }

    private static void lmsw(Cpu c, long v) {
        checkCpl0(c);
        // LMSW can set PE but never clear it, and touches only MP, EM, TS.
        long nv = (c.cr0 & ~0xEL) | (v & 0xF) | (c.cr0 & Cpu.CR0_PE);
        writeCr(c, 0, nv);
    }

    /** Group 6 (0F 00): SLDT STR LLDT LTR VERR VERW. */
    static void group6(Cpu c, Insn d) {
        if (!c.protectedMode() || c.v86()) throw CpuFault.ud();
        c.machine.serial++; // LLDT and LTR serialize
        switch (d.regOp) {
            case 0 -> storeSel(c, d, c.ldtr.selector());
            case 1 -> storeSel(c, d, c.tr.selector());
            case 2 -> {
                checkCpl0(c);
                int sel = (int) c.rm(d, 2);
                if ((sel & ~3) == 0) {
                    c.ldtr = Segmentation.nullSegment(sel);
                    return;
                }
                if ((sel & 4) != 0) throw CpuFault.gp(sel & 0xFFFC);
                long desc = Segmentation.readDescriptor(c, sel);
                Segment s = Segmentation.parse(desc, sel);
                if (s.s() || s.type() != 2) throw CpuFault.gp(sel & 0xFFFC);
                if (!s.present()) throw CpuFault.np(sel & 0xFFFC);
                c.ldtr = withHighBase(c, sel, s);
            }
            case 3 -> {
                checkCpl0(c);
                int sel = (int) c.rm(d, 2);
                if ((sel & ~3) == 0 || (sel & 4) != 0) throw CpuFault.gp(sel & 0xFFFC);
                long desc = Segmentation.readDescriptor(c, sel);
                Segment s = Segmentation.parse(desc, sel);
                boolean available = s.type() == 1 || s.type() == 9;
                if (s.s() || !available || c.longMode() && s.type() != 9) throw CpuFault.gp(sel & 0xFFFC);
                if (!s.present()) throw CpuFault.np(sel & 0xFFFC);
                c.writeSys(Segmentation.descriptorAddress(c, sel) + 5, 1, (desc >>> 40 | 2) & 0xFF); // busy
                Segment busy = withHighBase(c, sel, s);
                c.tr = new Segment(busy.base(), busy.limit(), sel, s.type() | 2, true, s.dpl(), s.db(), false, false,
                        s.granularity(), s.avl(), false);
            }
            case 4, 5 -> {
                int sel = (int) c.rm(d, 2);
                boolean ok = false;
                if ((sel & ~3) != 0) {
                    try {
                        Segment s = Segmentation.parse(Segmentation.readDescriptor(c, sel), sel);
                        boolean code = (s.type() & 8) != 0;
                        boolean conforming = code && (s.type() & 4) != 0;
                        boolean priv = conforming || Math.max(c.cpl, sel & 3) <= s.dpl();
                        boolean rw = (s.type() & 2) != 0;
                        ok = s.s() && priv && (d.regOp == 4 ? !code || rw : !code && rw);
                    } catch (CpuFault f) {
                        if (f.vector != CpuFault.GP) throw f;
                    }
                }
                c.setFlag(Cpu.ZF, ok);
            }
            default -> throw CpuFault.ud();
        }
    }

    private static Segment withHighBase(Cpu c, int sel, Segment s) {
        if (!c.longMode()) return s;
        long high = c.readSys(Segmentation.descriptorAddress(c, sel) + 8, 4);
        return new Segment(s.base() | high << 32, s.limit(), sel, s.type(), s.present(), s.dpl(), s.db(), s.s(), s.l(),
                s.granularity(), s.avl(), false);
    }

    private static void storeSel(Cpu c, Insn d, int sel) {
        if (d.mod == 3) c.setReg(d.rm, d.opSize, sel);
        else c.setRm(d, 2, sel);
    }

    // ---- MSRs ----

    /** The MSR's value, or null when the model has no such MSR (the caller raises #GP). */
    static Long readMsr(Cpu c, int msr) {
        Machine m = c.machine;
        return switch (msr) {
            case IA32_TSC -> m.tsc();
            case IA32_TSC_ADJUST -> m.tscAdjust();
            case IA32_APIC_BASE -> m.apicBaseMsr;
            case IA32_MTRRCAP -> MtrrMsrs.MTRRCAP_VALUE;
            case IA32_SYSENTER_CS, IA32_SYSENTER_ESP, IA32_SYSENTER_EIP -> m.msrs.getOrDefault(msr, 0L);
            case IA32_MISC_ENABLE -> 1L; // fast strings
            case HWCR -> 0L;
            case SYSCFG -> 0L; // AMD's system configuration: no TOM2, no DRAM bits in the fixed MTRRs (as KVM)
            case INT_PENDING_MSG -> 0L; // K8's C1E controls, which Linux reads for erratum 400 (as KVM: none)
            case DE_CFG -> m.msrs.getOrDefault(msr, DE_CFG_LFENCE_SERIALIZE);
            case EFER -> c.efer;
            case STAR, LSTAR, CSTAR, SFMASK, TSC_AUX -> m.msrs.getOrDefault(msr, 0L);
            case FS_BASE -> c.segBase[Cpu.FS];
            case GS_BASE -> c.segBase[Cpu.GS];
            case KERNEL_GS_BASE -> m.kernelGsBase;
            default -> MtrrMsrs.stored(msr) ? m.msrs.getOrDefault(msr, MtrrMsrs.reset(msr)) : null;
        };
    }

    /** Whether the model keeps {@code msr} in {@link Machine#msrs} (what a snapshot carries of that table). */
    static boolean keptInTable(int msr) {
        return switch (msr) {
            case IA32_SYSENTER_CS, IA32_SYSENTER_ESP, IA32_SYSENTER_EIP, STAR, LSTAR, CSTAR, SFMASK, TSC_AUX, DE_CFG ->
                    true;
            default -> MtrrMsrs.stored(msr);
        };
    }

    /** Writes an MSR; false when the model has none of that number or refuses the value. */
    static boolean writeMsr(Cpu c, int msr, long v) {
        c.machine.serial++;
        Machine m = c.machine;
        switch (msr) {
            case IA32_TSC -> m.setTsc(v);
            case IA32_TSC_ADJUST -> m.setTscAdjust(v);
            case IA32_APIC_BASE -> {
                if (!m.writeApicBaseMsr(v)) return false;
            }
            case EFER -> {
                long allowed = Cpu.EFER_SCE | Cpu.EFER_LME | Cpu.EFER_NXE;
                if ((v & ~(allowed | Cpu.EFER_LMA)) != 0) return false;
                if ((c.cr0 & Cpu.CR0_PG) != 0 && ((v ^ c.efer) & Cpu.EFER_LME) != 0) return false;
                c.efer = (v & allowed) | (c.efer & Cpu.EFER_LMA);
                c.mmu.flush();
            }
            case FS_BASE, GS_BASE -> {
                int n = msr == FS_BASE ? Cpu.FS : Cpu.GS;
                Segment s = c.seg[n];
                c.setSegment(n, new Segment(v, s.limit(), s.selector(), s.type(), s.present(), s.dpl(), s.db(), s.s(),
                        s.l(), s.granularity(), s.avl(), s.unusable()));
            }
            case KERNEL_GS_BASE -> m.kernelGsBase = v;
            case IA32_SYSENTER_CS, IA32_SYSENTER_ESP, IA32_SYSENTER_EIP, STAR, LSTAR, CSTAR, SFMASK ->
                    m.msrs.put(msr, v);
            case TSC_AUX -> {
                if ((v >>> 32) != 0) return false;
                m.msrs.put(msr, v);
            }
            case IA32_MISC_ENABLE -> {
            }
            case HWCR -> {
                return (v & ~HWCR_IGNORED) == 0;
            }
            case SYSCFG, INT_PENDING_MSG -> {
                return v == 0;
            }
            case DE_CFG -> {
                if ((v & ~DE_CFG_LFENCE_SERIALIZE) != 0) return false;
                m.msrs.put(msr, v);
            }
            default -> {
                if (!MtrrMsrs.stored(msr) || !MtrrMsrs.valid(msr, v)) return false;
                m.msrs.put(msr, v);
            }
        }
        return true;
    }

    // ---- SYSCALL / SYSRET (long mode) ----

    static void syscall(Cpu c, Insn d) {
        if ((c.efer & Cpu.EFER_SCE) == 0 || !c.longMode()) throw CpuFault.ud();
        long star = c.machine.msrs.getOrDefault(STAR, 0L);
        int sel = (int) (star >>> 32) & 0xFFFC;
        long ret = c.rip + d.len;
        boolean from64 = c.codeBits == 64;
        c.r[Cpu.RCX] = ret;
        c.r[11] = c.rflags() & ~Cpu.RF;
        c.setSegment(Cpu.CS, new Segment(0, 0xFFFFFFFF, sel, 0xB, true, 0, false, true, true, true,
                false, false));
        c.setSegment(Cpu.SS, new Segment(0, 0xFFFFFFFF, sel + 8, 3, true, 0, true, true, false, true, false, false));
        c.cpl = 0;
        long mask = c.machine.msrs.getOrDefault(SFMASK, 0L);
        c.setRflags(c.rflags() & ~mask & ~Cpu.RF);
        // From compatibility mode the entry point is CSTAR (AMD64 vol. 2 §6.1.1).
        c.rip = c.machine.msrs.getOrDefault(from64 ? LSTAR : CSTAR, 0L);
    }

    static void sysret(Cpu c, Insn d) {
        if ((c.efer & Cpu.EFER_SCE) == 0 || !c.longMode()) throw CpuFault.ud();
        checkCpl0(c);
        long star = c.machine.msrs.getOrDefault(STAR, 0L);
        int base = (int) (star >>> 48) & 0xFFFF;
        boolean to64 = d.opSize == 8;
        int cs = (to64 ? base + 16 : base) | 3;
        c.setRflags((c.r[11] & ~Cpu.RF) | 2);
        c.setSegment(Cpu.CS, new Segment(0, 0xFFFFFFFF, cs, 0xB, true, 3, !to64, true, to64, true, false, false));
        Segment ss = c.seg[Cpu.SS];
        c.setSegment(Cpu.SS, new Segment(ss.base(), ss.limit(), (base + 8) | 3, 3, true, 3, true, true, false, true,
                false, false));
        c.cpl = 3;
        c.rip = to64 ? c.r[Cpu.RCX] : c.r[Cpu.RCX] & 0xFFFFFFFFL;
    }
}
