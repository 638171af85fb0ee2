package vmm.emu.internal.cpu;

/**
 * The semantics of the two-byte (0F xx) opcodes the model has; the rest raise
 * #UD and are logged once.
 */
final class Executor0F {
    private Executor0F() {
    }

    static void exec(Cpu c, Insn d) {
        int op = d.op & 0xFF;
        int os = d.opSize;
        switch (op) {
            case 0x00 -> SystemOps.group6(c, d);
            case 0x01 -> {
                if (d.mod == 3 && d.regOp == 7 && (d.rm & 7) == 1) { // RDTSCP
                    c.setReg(Cpu.RCX, 4, c.machine.msrs.getOrDefault(SystemOps.TSC_AUX, 0L));
                    rdtsc(c);
                } else {
                    SystemOps.group7(c, d);
                }
            }
            case 0x02, 0x03 -> Segmentation.larLsl(c, d, op == 0x02);
            case 0x05 -> {
                SystemOps.syscall(c, d);
                return;
            }
            case 0x06 -> {
                SystemOps.checkCpl0(c);
                c.cr0 &= ~Cpu.CR0_TS;
            }
            case 0x07 -> {
                SystemOps.sysret(c, d);
                return;
            }
            case 0x08, 0x09 -> { // INVD, WBINVD: no caches to write back, but they serialize
                SystemOps.checkCpl0(c);
                c.machine.serial++;
            }
            case 0x0B, 0xB9, 0xFF -> throw CpuFault.ud(); // UD2, UD1, UD0: defined to raise #UD
            case 0x0D, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F -> {
                // prefetch hints and the multi-byte NOP
            }
            case 0x20, 0x22 -> {
                SystemOps.checkCpl0(c);
                int cr = d.reg;
                if (d.lock && cr == 0) cr = 8; // AMD's alternative encoding of CR8
                int size = c.codeBits == 64 ? 8 : 4;
                if (op == 0x20) c.setReg(d.rm, size, SystemOps.readCr(c, cr));
                else SystemOps.writeCr(c, cr, c.reg(d.rm, size));
            }
            case 0x21, 0x23 -> {
                SystemOps.checkCpl0(c);
                int size = c.codeBits == 64 ? 8 : 4;
                if (op == 0x21) c.setReg(d.rm, size, SystemOps.readDr(c, d.reg));
                else SystemOps.writeDr(c, d.reg, c.reg(d.rm, size));
            }
            case 0x30 -> {
                SystemOps.checkCpl0(c);
                int msr = (int) c.r[Cpu.RCX];
                long v = (c.r[Cpu.RDX] & 0xFFFFFFFFL) << 32 | (c.r[Cpu.RAX] & 0xFFFFFFFFL);
                if (!SystemOps.writeMsr(c, msr, v)) throw Machine.msrRefused(c, "wrmsr", msr);
            }
            case 0x31 -> {
                if ((c.cr4 & Cpu.CR4_TSD) != 0 && c.cpl != 0) throw CpuFault.gp(0);
                rdtsc(c);
            }
            case 0x32 -> {
                SystemOps.checkCpl0(c);
                Long v = SystemOps.readMsr(c, (int) c.r[Cpu.RCX]);
                if (v == null) throw Machine.msrRefused(c, "rdmsr", (int) c.r[Cpu.RCX]);
                c.setReg(Cpu.RAX, 4, v);
                c.setReg(Cpu.RDX, 4, v >>> 32);
            }
            case 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F -> {
                long v = c.rm(d, os);
                if (c.cond(op & 15)) c.setRegOp(d, os, v);
                else if (os == 4) c.setRegOp(d, 4, c.regOp(d, 4)); // a 32-bit CMOV clears the high half anyway
            }
            case 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8B, 0x8C, 0x8D, 0x8E, 0x8F -> {
                if (c.cond(op & 15)) {
                    c.jump(c.rip + d.len + d.imm, os);
                    return;
                }
            }
            case 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F ->
                    c.setRm(d, 1, c.cond(op & 15) ? 1 : 0);
            case 0xA0, 0xA8 -> c.push(c.seg[op == 0xA0 ? Cpu.FS : Cpu.GS].selector(), os);
            case 0xA1, 0xA9 -> {
                int sel = (int) c.peek(os, 0) & 0xFFFF;
                Segmentation.load(c, op == 0xA1 ? Cpu.FS : Cpu.GS, sel);
                c.pop(os);
            }
            case 0xA2 -> CpuidModel.cpuid(c);
            case 0xA3, 0xAB, 0xB3, 0xBB ->
                    bitTest(c, d, c.regOp(d, os), op == 0xA3 ? 0 : op == 0xAB ? 1 : op == 0xB3 ? 2 : 3, true);
            case 0xBA -> {
                if (d.regOp < 4) throw CpuFault.ud();
                bitTest(c, d, d.imm & 0xFF, d.regOp - 4, false);
            }
            case 0xA4, 0xA5, 0xAC, 0xAD -> {
                int count = op == 0xA4 || op == 0xAC ? (int) d.imm : (int) c.reg(Cpu.RCX, 1);
                long v = Shifts.doubleShift(c, c.rm(d, os), c.regOp(d, os), count, os, op <= 0xA5);
                c.setRm(d, os, v);
            }
            case 0xAE -> {
                // LFENCE, MFENCE, SFENCE (register forms): the JVM's fences
                if (d.mod == 3 && d.regOp >= 5) java.lang.invoke.VarHandle.fullFence();
                else if (d.mod != 3) Fxsave.group15(c, d);
                else throw Machine.unsupported(c, d);
            }
            case 0x77 -> X87.emms(c, d);
            case 0xC3 -> { // MOVNTI m32/m64, r
                if (d.mod == 3 || d.rep != 0 || d.opPrefix) throw CpuFault.ud();
                c.setRm(d, d.opSize == 8 ? 8 : 4, c.regOp(d, d.opSize == 8 ? 8 : 4));
            }
            case 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E, 0x2F,
                 0xC2, 0xC4, 0xC5, 0xC6 -> Sse.exec(c, d);
            case 0xAF -> c.setRegOp(d, os, Alu.imul(c, c.regOp(d, os), c.rm(d, os), os));
            case 0xB0, 0xB1 -> cmpxchg(c, d, op == 0xB0 ? 1 : os);
            case 0xB2 -> Executor.loadFarPointer(c, d, Cpu.SS);
            case 0xB4 -> Executor.loadFarPointer(c, d, Cpu.FS);
            case 0xB5 -> Executor.loadFarPointer(c, d, Cpu.GS);
            case 0xB6 -> c.setRegOp(d, os, c.rm(d, 1));
            case 0xB7 -> c.setRegOp(d, os, c.rm(d, 2));
            case 0xBE -> c.setRegOp(d, os, Cpu.sx(c.rm(d, 1), 1));
            case 0xBF -> c.setRegOp(d, os, Cpu.sx(c.rm(d, 2), 2));
            case 0xBC, 0xBD -> {
                // F3 (TZCNT/LZCNT) is ignored: CPUID has no BMI1/LZCNT, and such CPUs run these as BSF/BSR,
                // which Linux's "rep; bsf" (__ffs) relies on.
                c.setRegOp(d, os, Shifts.bitScan(c, c.rm(d, os), c.regOp(d, os), os, op == 0xBC));
            }
            case 0xB8 -> throw Machine.unsupported(c, d); // POPCNT is not in the CPUID model
            case 0xC0, 0xC1 -> {
                int size = op == 0xC0 ? 1 : os;
                long src = c.regOp(d, size);
                long old;
                if (d.mod == 3) {
                    old = c.rm(d, size);
                    long sum = Alu.op(c, 0, old, src, size);
                    c.setRegOp(d, size, old);
                    c.setRm(d, size, sum);
                } else {
                    old = Atomics.rmw(c, d, size, v -> Alu.op(c, 0, v, src, size));
                    c.setRegOp(d, size, old);
                }
            }
            case 0xC7 -> {
                if (d.regOp != 1 || d.mod == 3) throw Machine.unsupported(c, d);
                cmpxchg8b(c, d);
            }
            case 0xC8, 0xC9, 0xCA, 0xCB, 0xCC, 0xCD, 0xCE, 0xCF -> {
                int r = (op & 7) | (d.rex & 1) << 3;
                if (os == 8) c.r[r] = Long.reverseBytes(c.r[r]);
                else if (os == 4) c.setReg(r, 4, Integer.reverseBytes((int) c.r[r]) & 0xFFFFFFFFL);
                else c.setReg(r, 2, 0); // BSWAP of a 16-bit register is undefined; hardware gives zero
            }
            default -> {
                if (op >= 0x50 && op < 0x80 && op != 0x77 || op >= 0xD0) Sse.exec(c, d); // SSE/SSE2
                else throw Machine.unsupported(c, d);
            }
        }
        Executor.next(c, d);
    }

    static void rdtsc(Cpu c) {
        long t = c.machine.tsc();
        c.setReg(Cpu.RAX, 4, t);
        c.setReg(Cpu.RDX, 4, t >>> 32);
    }

    /** BT/BTS/BTR/BTC; a register bit offset reaches beyond the addressed operand in memory. */
    private static void bitTest(Cpu c, Insn d, long offset, int which, boolean regOffset) {
        int os = d.opSize;
        int bits = os * 8;
        if (d.mod == 3) {
            int bit = (int) (offset & (bits - 1));
            long v = Shifts.bitOp(c, c.reg(d.rm, os), bit, which);
            if (which != 0) c.setReg(d.rm, os, v);
            return;
        }
        int s = c.segOf(d);
        long a = c.ea(d);
        int bit;
        if (regOffset) {
            long so = Cpu.sx(offset, os);
            a = (a + (so >> (os == 2 ? 4 : os == 4 ? 5 : 6)) * os) & Cpu.mask(d.adSize);
            bit = (int) (so & (bits - 1));
        } else {
            bit = (int) (offset & (bits - 1));
        }
        if (which == 0) {
            Shifts.bitOp(c, c.read(s, a, os), bit, 0);
        } else if (d.lock) {
            int b = bit;
            long old = Atomics.rmw(c, s, a, os, v -> Shifts.bitOp(c, v, b, which));
            Shifts.bitOp(c, old, bit, 0);
        } else {
            c.write(s, a, os, Shifts.bitOp(c, c.read(s, a, os), bit, which));
        }
    }

    private static void cmpxchg(Cpu c, Insn d, int size) {
        long acc = c.reg(Cpu.RAX, size);
        long src = c.regOp(d, size);
        long old;
        if (d.mod == 3) {
            old = c.rm(d, size);
            if (old == acc) c.setRm(d, size, src);
        } else {
            old = Atomics.rmw(c, d, size, v -> v == acc ? src : v);
        }
        Alu.op(c, 7, acc, old, size);
        if (old != acc) c.setReg(Cpu.RAX, size, old);
    }

    /**
     * CMPXCHG16B m128 (16-byte aligned, else #GP(0)): atomic against other CMPXCHG16Bs and the
     * VM-wide bus lock; Java has no 128-bit compare-and-set, so a plain 8-byte store of another vCPU
     * to the same operand is not ordered against it. Always writes (the old value when unequal).
     */
    private static void cmpxchg16b(Cpu c, Insn d) {
        int s = c.segOf(d);
        long a = c.ea(d);
        long lin = c.linear(s, a, 16, true);
        if ((lin & 15) != 0) throw CpuFault.gp(0);
        long a8 = (a + 8) & Cpu.mask(d.adSize);
        boolean equal;
        long lo, hi;
        synchronized (c.mmu.phys) {
            c.mmu.translate(lin, Mmu.WRITE, c.cpl == 3);
            lo = c.read(s, a, 8);
            hi = c.read(s, a8, 8);
            equal = lo == c.r[Cpu.RAX] && hi == c.r[Cpu.RDX];
            c.write(s, a, 8, equal ? c.r[Cpu.RBX] : lo);
            c.write(s, a8, 8, equal ? c.r[Cpu.RCX] : hi);
        }
        c.setFlag(Cpu.ZF, equal);
        if (!equal) {
            c.r[Cpu.RAX] = lo;
            c.r[Cpu.RDX] = hi;
        }
    }

    private static void cmpxchg8b(Cpu c, Insn d) {
        if (d.opSize == 8) {
            cmpxchg16b(c, d);
            return;
        }
        long expect = (c.r[Cpu.RDX] & 0xFFFFFFFFL) << 32 | (c.r[Cpu.RAX] & 0xFFFFFFFFL);
        long repl = (c.r[Cpu.RCX] & 0xFFFFFFFFL) << 32 | (c.r[Cpu.RBX] & 0xFFFFFFFFL);
        long old = Atomics.rmw(c, d, 8, v -> v == expect ? repl : v);
        if (old == expect) {
            c.setFlag(Cpu.ZF, true);
        } else {
            c.setFlag(Cpu.ZF, false);
            c.setReg(Cpu.RAX, 4, old);
            c.setReg(Cpu.RDX, 4, old >>> 32);
        }
    }
}
