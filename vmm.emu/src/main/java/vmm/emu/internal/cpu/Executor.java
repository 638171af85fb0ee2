package vmm.emu.internal.cpu;

/**
 * The semantics of the one-byte opcodes: what each decoded instruction does to
 * the {@link Cpu}. Groups with more to them live beside it ({@link Alu},
 * {@link Shifts}, {@link StringOps}, {@link ControlFlow}, {@link SystemOps},
 * {@link Segmentation}); two-byte opcodes are {@link Executor0F}. RIP is the
 * instruction's own address while it runs, so a fault leaves it there.
 */
final class Executor {
    private Executor() {
    }

    /** Sets RIP past {@code d}, wrapped to the code size. */
    static void next(Cpu c, Insn d) {
        long n = c.rip + d.len;
        c.rip = c.codeBits == 64 ? n : c.codeBits == 32 ? n & 0xFFFFFFFFL : n & 0xFFFF;
    }

    private static boolean lockable(Insn d) {
        if (d.mod == 3) return false;
        int op = d.op;
        if (op < 0x40) return (op & 7) < 2 && (op >>> 3) != 7;
        return switch (op) {
            case 0x80, 0x81, 0x82, 0x83 -> d.regOp != 7;
            case 0x86, 0x87 -> true;
            case 0xF6, 0xF7 -> d.regOp == 2 || d.regOp == 3;
            case 0xFE, 0xFF -> d.regOp < 2;
            case 0x1AB, 0x1B3, 0x1BB, 0x1B0, 0x1B1, 0x1C0, 0x1C1 -> true;
            case 0x1BA -> d.regOp >= 5;
            case 0x1C7 -> d.regOp == 1;
            default -> false;
        };
    }

    /** ALU op {@code which} with an r/m destination. */
    static void aluRm(Cpu c, Insn d, int which, long src, int size) {
        if (d.mod == 3) {
            int r = size == 1 ? d.byteReg(d.rm) : d.rm;
            long v = Alu.op(c, which, c.reg(r, size), src, size);
            if (which != 7) c.setReg(r, size, v);
        } else if (d.lock) {
            Atomics.rmw(c, d, size, v -> Alu.op(c, which, v, src, size));
        } else {
            int s = c.segOf(d);
            long a = c.ea(d);
            long v = Alu.op(c, which, c.read(s, a, size), src, size);
            if (which != 7) c.write(s, a, size, v);
        }
    }

    static void exec(Cpu c, Insn d) {
        if (d.lock && !lockable(d)) throw CpuFault.ud();
        int op = d.op;
        int os = d.opSize;
        boolean m64 = c.codeBits == 64;
        if (op < 0x40 && (op & 7) < 6) {
            int which = op >>> 3;
            switch (op & 7) {
                case 0 -> aluRm(c, d, which, c.regOp(d, 1), 1);
                case 1 -> aluRm(c, d, which, c.regOp(d, os), os);
                case 2 -> {
                    long v = Alu.op(c, which, c.regOp(d, 1), c.rm(d, 1), 1);
                    if (which != 7) c.setRegOp(d, 1, v);
                }
                case 3 -> {
                    long v = Alu.op(c, which, c.regOp(d, os), c.rm(d, os), os);
                    if (which != 7) c.setRegOp(d, os, v);
                }
                case 4 -> {
                    long v = Alu.op(c, which, c.reg(Cpu.RAX, 1), d.imm, 1);
                    if (which != 7) c.setReg(Cpu.RAX, 1, v);
                }
                default -> {
                    long v = Alu.op(c, which, c.reg(Cpu.RAX, os), d.imm, os);
                    if (which != 7) c.setReg(Cpu.RAX, os, v);
                }
            }
            next(c, d);
            return;
        }
        if (op >= 0x100) {
            if (op >= 0x200) throw Machine.unsupported(c, d); // 0F 38 and 0F 3A
            Executor0F.exec(c, d);
            return;
        }
        switch (op) {
            case 0x06, 0x0E, 0x16, 0x1E -> {
                if (m64) throw CpuFault.ud();
                c.push(c.seg[op >>> 3].selector(), os);
            }
            case 0x07, 0x17, 0x1F -> {
                if (m64) throw CpuFault.ud();
                int sel = (int) c.peek(os, 0) & 0xFFFF;
                Segmentation.load(c, op >>> 3, sel);
                c.pop(os);
                if (op == 0x17) c.machine.shadow();
            }
            case 0x27 -> { noLong(c); Alu.daa(c); }
            case 0x2F -> { noLong(c); Alu.das(c); }
            case 0x37 -> { noLong(c); Alu.aaaAas(c, true); }
            case 0x3F -> { noLong(c); Alu.aaaAas(c, false); }
            case 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47 ->
                    c.setReg(op & 7, os, Alu.inc(c, c.reg(op & 7, os), os));
            case 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F ->
                    c.setReg(op & 7, os, Alu.dec(c, c.reg(op & 7, os), os));
            case 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57 -> {
                int r = (op & 7) | (d.rex & 1) << 3;
                c.push(c.reg(r, os), os);
            }
            case 0x58, 0x59, 0x5A, 0x5B, 0x5C, 0x5D, 0x5E, 0x5F -> {
                int r = (op & 7) | (d.rex & 1) << 3;
                long v = c.pop(os);
                c.setReg(r, os, v);
            }
            case 0x60 -> {
                noLong(c);
                long sp = c.reg(Cpu.RSP, os);
                for (int r = 0; r < 8; r++) c.push(r == Cpu.RSP ? sp : c.reg(r, os), os);
            }
            case 0x61 -> {
                noLong(c);
                long[] v = new long[8];
                for (int r = 7; r >= 0; r--) v[r] = c.peek(os, 7 - r);
                for (int r = 0; r < 8; r++) if (r != Cpu.RSP) c.setReg(r, os, v[r]);
                c.setSp(c.sp() + 8L * os);
            }
            case 0x62 -> {
                noLong(c);
                if (d.mod == 3) throw CpuFault.ud();
                long idx = Cpu.sx(c.regOp(d, os), os), a = c.ea(d);
                int s = c.segOf(d);
                long lo = Cpu.sx(c.read(s, a, os), os), hi = Cpu.sx(c.read(s, a + os, os), os);
                if (idx < lo || idx > hi) throw new CpuFault(CpuFault.BR, 0, false);
            }
            case 0x63 -> {
                if (m64) c.setRegOp(d, os, Cpu.sx(c.rm(d, 4), 4));
                else Segmentation.arpl(c, d);
            }
            case 0x68, 0x6A -> c.push(d.imm, os);
            case 0x69, 0x6B -> c.setRegOp(d, os, Alu.imul(c, c.rm(d, os), d.imm, os));
            case 0x6C, 0x6D, 0x6E, 0x6F -> {
                StringOps.io(c, d);
                return;
            }
            case 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x7B, 0x7C, 0x7D, 0x7E, 0x7F -> {
                if (c.cond(op & 15)) {
                    c.jump(c.rip + d.len + d.imm, os);
                    return;
                }
            }
            case 0x80, 0x81, 0x82, 0x83 -> {
                if (op == 0x82 && m64) throw CpuFault.ud();
                int size = (op & 1) == 0 ? 1 : os;
                aluRm(c, d, d.regOp, d.imm, size);
            }
            case 0x84, 0x85 -> {
                int size = op == 0x84 ? 1 : os;
                Alu.logic(c, c.rm(d, size) & c.regOp(d, size), size);
            }
            case 0x86, 0x87 -> {
                int size = op == 0x86 ? 1 : os;
                long r = c.regOp(d, size);
                long old;
                if (d.mod == 3) {
                    old = c.rm(d, size);
                    c.setRm(d, size, r);
                } else {
                    old = Atomics.rmw(c, d, size, v -> r);
                }
                c.setRegOp(d, size, old);
            }
            case 0x88 -> c.setRm(d, 1, c.regOp(d, 1));
            case 0x89 -> c.setRm(d, os, c.regOp(d, os));
            case 0x8A -> c.setRegOp(d, 1, c.rm(d, 1));
            case 0x8B -> c.setRegOp(d, os, c.rm(d, os));
            case 0x8C -> {
                if (d.regOp > 5) throw CpuFault.ud();
                long sel = c.seg[d.regOp].selector();
                if (d.mod == 3) c.setReg(d.rm, os, sel);
                else c.setRm(d, 2, sel);
            }
            case 0x8D -> {
                if (d.mod == 3) throw CpuFault.ud();
                c.setRegOp(d, os, c.ea(d));
            }
            case 0x8E -> {
                if (d.regOp > 5 || d.regOp == Cpu.CS) throw CpuFault.ud();
                Segmentation.load(c, d.regOp, (int) c.rm(d, 2));
                if (d.regOp == Cpu.SS) c.machine.shadow();
            }
            case 0x8F -> {
                if (d.regOp != 0) throw CpuFault.ud();
                long v = c.peek(os, 0);
                long oldSp = c.r[Cpu.RSP];
                c.setSp(c.sp() + os); // the address uses RSP after the pop
                try {
                    c.setRm(d, os, v);
                } catch (CpuFault f) {
                    c.r[Cpu.RSP] = oldSp;
                    throw f;
                }
            }
            case 0x90 -> {
                if ((d.rex & 1) != 0) xchgAx(c, 8, os);
            }
            case 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97 -> xchgAx(c, (op & 7) | (d.rex & 1) << 3, os);
            case 0x98 -> c.setReg(Cpu.RAX, os, Cpu.sx(c.reg(Cpu.RAX, os / 2), os / 2));
            case 0x99 -> c.setReg(Cpu.RDX, os, Cpu.sx(c.reg(Cpu.RAX, os), os) >> 63);
            case 0x9A -> {
                ControlFlow.farCall(c, (int) d.imm2, d.imm, os, c.rip + d.len);
                return;
            }
            case 0x9B -> {
                if ((c.cr0 & (Cpu.CR0_TS | Cpu.CR0_MP)) == (Cpu.CR0_TS | Cpu.CR0_MP))
                    throw new CpuFault(CpuFault.NM, 0, false);
            }
            case 0x9C -> {
                if (c.v86() && (c.flags & Cpu.IOPL) != Cpu.IOPL) throw CpuFault.gp(0);
                c.push(c.rflags() & ~(Cpu.VM | Cpu.RF), os);
            }
            case 0x9D -> {
                if (c.v86() && (c.flags & Cpu.IOPL) != Cpu.IOPL) throw CpuFault.gp(0);
                long v = c.pop(os);
                ControlFlow.popFlags(c, v, os);
            }
            case 0x9E -> {
                long ah = c.reg(16, 1);
                Alu.setArith(c, (c.rflags() & Cpu.OF) | (ah & (Cpu.SF | Cpu.ZF | Cpu.AF | Cpu.PF | Cpu.CF)));
            }
            case 0x9F -> c.setReg(16, 1, c.rflags() & 0xFF);
            case 0xA0, 0xA1 -> {
                int size = op == 0xA0 ? 1 : os;
                c.setReg(Cpu.RAX, size, c.read(d.segOverride >= 0 ? d.segOverride : Cpu.DS, d.disp, size));
            }
            case 0xA2, 0xA3 -> {
                int size = op == 0xA2 ? 1 : os;
                c.write(d.segOverride >= 0 ? d.segOverride : Cpu.DS, d.disp, size, c.reg(Cpu.RAX, size));
            }
            case 0xA4, 0xA5, 0xA6, 0xA7, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF -> {
                StringOps.exec(c, d);
                return;
            }
            case 0xA8 -> Alu.logic(c, c.reg(Cpu.RAX, 1) & d.imm & 0xFF, 1);
            case 0xA9 -> Alu.logic(c, c.reg(Cpu.RAX, os) & d.imm & Cpu.mask(os), os);
            case 0xB0, 0xB1, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7 ->
                    c.setReg(d.byteReg((op & 7) | (d.rex & 1) << 3), 1, d.imm);
            case 0xB8, 0xB9, 0xBA, 0xBB, 0xBC, 0xBD, 0xBE, 0xBF -> c.setReg((op & 7) | (d.rex & 1) << 3, os, d.imm);
            case 0xC0, 0xC1, 0xD0, 0xD1, 0xD2, 0xD3 -> {
                int size = (op & 1) == 0 ? 1 : os;
                int count = op <= 0xC1 ? (int) d.imm : op <= 0xD1 ? 1 : (int) c.reg(Cpu.RCX, 1);
                if (d.mod == 3) {
                    int r = size == 1 ? d.byteReg(d.rm) : d.rm;
                    c.setReg(r, size, Shifts.shift(c, d.regOp, c.reg(r, size), count, size));
                } else {
                    int s = c.segOf(d);
                    long a = c.ea(d);
                    c.write(s, a, size, Shifts.shift(c, d.regOp, c.read(s, a, size), count, size));
                }
            }
            case 0xC2, 0xC3 -> {
                long target = c.pop(os);
                c.setSp(c.sp() + (op == 0xC2 ? d.imm : 0));
                c.jump(target, os);
                return;
            }
            case 0xC4, 0xC5 -> {
                if (m64 || d.mod == 3) throw CpuFault.ud();
                loadFarPointer(c, d, op == 0xC4 ? Cpu.ES : Cpu.DS);
            }
            case 0xC6 -> {
                if (d.regOp != 0) throw CpuFault.ud();
                c.setRm(d, 1, d.imm);
            }
            case 0xC7 -> {
                if (d.regOp != 0) throw CpuFault.ud();
                c.setRm(d, os, d.imm);
            }
            case 0xC8 -> ControlFlow.enter(c, (int) d.imm, (int) d.imm2 & 31, os);
            case 0xC9 -> {
                int ss = c.stackSize();
                c.setReg(Cpu.RSP, ss, c.reg(Cpu.RBP, ss));
                c.setReg(Cpu.RBP, os, c.pop(os));
            }
            case 0xCA, 0xCB -> {
                ControlFlow.farReturn(c, os, op == 0xCA ? (int) d.imm : 0);
                return;
            }
            case 0xCC -> {
                ControlFlow.softwareInterrupt(c, 3, c.rip + d.len);
                return;
            }
            case 0xCD -> {
                ControlFlow.softwareInterrupt(c, (int) d.imm & 0xFF, c.rip + d.len);
                return;
            }
            case 0xCE -> {
                noLong(c);
                if (c.of()) {
                    ControlFlow.softwareInterrupt(c, 4, c.rip + d.len);
                    return;
                }
            }
            case 0xCF -> {
                ControlFlow.iret(c, os);
                return;
            }
            case 0xD4 -> { noLong(c); Alu.aam(c, (int) d.imm & 0xFF); }
            case 0xD5 -> { noLong(c); Alu.aad(c, (int) d.imm & 0xFF); }
            case 0xD6 -> { noLong(c); c.setReg(Cpu.RAX, 1, c.cf() ? 0xFF : 0); }
            case 0xD7 -> {
                long a = (c.reg(Cpu.RBX, d.adSize) + c.reg(Cpu.RAX, 1)) & Cpu.mask(d.adSize);
                c.setReg(Cpu.RAX, 1, c.read(d.segOverride >= 0 ? d.segOverride : Cpu.DS, a, 1));
            }
            case 0xD8, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF -> {
                X87.exec(c, d);
                return;
            }
            case 0xE0, 0xE1, 0xE2, 0xE3 -> {
                int as = d.adSize;
                boolean take;
                if (op == 0xE3) {
                    take = c.reg(Cpu.RCX, as) == 0;
                } else {
                    long cx = (c.reg(Cpu.RCX, as) - 1) & Cpu.mask(as);
                    c.setReg(Cpu.RCX, as, cx);
                    take = cx != 0 && (op == 0xE2 || (op == 0xE1) == c.zf());
                }
                if (take) {
                    c.jump(c.rip + d.len + d.imm, os);
                    return;
                }
            }
            case 0xE4, 0xE5, 0xEC, 0xED -> {
                int size = (op & 1) == 0 ? 1 : Math.min(os, 4);
                int port = op <= 0xE5 ? (int) d.imm & 0xFF : (int) c.reg(Cpu.RDX, 2);
                SystemOps.checkIo(c, port, size);
                c.setReg(Cpu.RAX, size, c.machine.portRead(port, size));
            }
            case 0xE6, 0xE7, 0xEE, 0xEF -> {
                int size = (op & 1) == 0 ? 1 : Math.min(os, 4);
                int port = op <= 0xE7 ? (int) d.imm & 0xFF : (int) c.reg(Cpu.RDX, 2);
                SystemOps.checkIo(c, port, size);
                next(c, d); // the handler may look at the vCPU; RIP past the OUT as after KVM's exit
                c.machine.portWrite(port, size, c.reg(Cpu.RAX, size));
                return;
            }
            case 0xE8 -> {
                long ret = c.rip + d.len;
                long target = ret + d.imm;
                c.push(ret, os);
                c.jump(target, os);
                return;
            }
            case 0xE9, 0xEB -> {
                c.jump(c.rip + d.len + d.imm, os);
                return;
            }
            case 0xEA -> {
                ControlFlow.farJump(c, (int) d.imm2, d.imm, os);
                return;
            }
            case 0xF1 -> {
                ControlFlow.softwareInterrupt(c, 1, c.rip + d.len);
                return;
            }
            case 0xF4 -> {
                if (c.cpl != 0) throw CpuFault.gp(0);
                next(c, d);
                c.machine.halt();
                return;
            }
            case 0xF5 -> c.setFlag(Cpu.CF, !c.cf());
            case 0xF6, 0xF7 -> group3(c, d, op == 0xF6 ? 1 : os);
            case 0xF8 -> c.setFlag(Cpu.CF, false);
            case 0xF9 -> c.setFlag(Cpu.CF, true);
            case 0xFA -> {
                SystemOps.checkIopl(c);
                c.flags &= ~Cpu.IF;
            }
            case 0xFB -> {
                SystemOps.checkIopl(c);
                if ((c.flags & Cpu.IF) == 0) {
                    c.flags |= Cpu.IF;
                    c.machine.shadow();
                    c.machine.attention = true;
                }
            }
            case 0xFC -> c.flags &= ~Cpu.DF;
            case 0xFD -> c.flags |= Cpu.DF;
            case 0xFE -> {
                if (d.regOp > 1) throw CpuFault.ud();
                incDec(c, d, 1);
            }
            case 0xFF -> {
                if (group5(c, d, os)) return;
            }
            default -> throw Machine.unsupported(c, d);
        }
        next(c, d);
    }

    private static void noLong(Cpu c) {
        if (c.codeBits == 64) throw CpuFault.ud();
    }

    private static void xchgAx(Cpu c, int r, int os) {
        long a = c.reg(Cpu.RAX, os);
        c.setReg(Cpu.RAX, os, c.reg(r, os));
        c.setReg(r, os, a);
    }

    /** LES, LDS, LSS, LFS, LGS: offset then selector from memory. */
    static void loadFarPointer(Cpu c, Insn d, int segReg) {
        if (d.mod == 3) throw CpuFault.ud();
        int s = c.segOf(d);
        long a = c.ea(d);
        int os = d.opSize;
        long offset = c.read(s, a, os);
        int sel = (int) c.read(s, (a + os) & Cpu.mask(d.adSize == 2 ? 2 : 8), 2);
        Segmentation.load(c, segReg, sel);
        c.setRegOp(d, os, offset);
    }

    private static void incDec(Cpu c, Insn d, int size) {
        boolean inc = d.regOp == 0;
        if (d.mod == 3) {
            int r = size == 1 ? d.byteReg(d.rm) : d.rm;
            long v = c.reg(r, size);
            c.setReg(r, size, inc ? Alu.inc(c, v, size) : Alu.dec(c, v, size));
        } else if (d.lock) {
            Atomics.rmw(c, d, size, v -> inc ? Alu.inc(c, v, size) : Alu.dec(c, v, size));
        } else {
            int s = c.segOf(d);
            long a = c.ea(d);
            long v = c.read(s, a, size);
            c.write(s, a, size, inc ? Alu.inc(c, v, size) : Alu.dec(c, v, size));
        }
    }

    private static void group3(Cpu c, Insn d, int size) {
        switch (d.regOp) {
            case 0, 1 -> Alu.logic(c, c.rm(d, size) & d.imm & Cpu.mask(size), size);
            case 2 -> {
                if (d.lock) Atomics.rmw(c, d, size, v -> ~v & Cpu.mask(size));
                else c.setRm(d, size, ~c.rm(d, size));
            }
            case 3 -> {
                if (d.lock) Atomics.rmw(c, d, size, v -> Alu.neg(c, v, size));
                else c.setRm(d, size, Alu.neg(c, c.rm(d, size), size));
            }
            case 4 -> Alu.mulAcc(c, c.rm(d, size), size, false);
            case 5 -> Alu.mulAcc(c, c.rm(d, size), size, true);
            case 6 -> Alu.div(c, c.rm(d, size), size, false);
            default -> Alu.div(c, c.rm(d, size), size, true);
        }
    }

    /** Group 5; true when it transferred control (RIP already set). */
    private static boolean group5(Cpu c, Insn d, int os) {
        switch (d.regOp) {
            case 0, 1 -> incDec(c, d, os);
            case 2 -> {
                int size = c.codeBits == 64 ? 8 : os;
                long target = c.rm(d, size);
                c.push(c.rip + d.len, size);
                c.jump(target, size);
                return true;
            }
            case 3, 5 -> {
                if (d.mod == 3) throw CpuFault.ud();
                int s = c.segOf(d);
                long a = c.ea(d);
                long offset = c.read(s, a, os);
                int sel = (int) c.read(s, (a + os) & Cpu.mask(d.adSize), 2);
                if (d.regOp == 3) ControlFlow.farCall(c, sel, offset, os, c.rip + d.len);
                else ControlFlow.farJump(c, sel, offset, os);
                return true;
            }
            case 4 -> {
                int size = c.codeBits == 64 ? 8 : os;
                c.jump(c.rm(d, size), size);
                return true;
            }
            case 6 -> c.push(c.rm(d, c.codeBits == 64 && os == 4 ? 8 : os), c.codeBits == 64 && os == 4 ? 8 : os);
            default -> throw CpuFault.ud();
        }
        return false;
    }
}
