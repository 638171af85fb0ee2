package vmm.emu.internal.cpu;

/**
 * The x87 instructions glibc and the kernel run without doing arithmetic: FNINIT, FNCLEX, FNSTCW,
 * FLDCW, FNSTSW (AX and m16), FNOP, FILD (exact integer loads, for Linux's FXSAVE-leak workaround
 * on AMD), and EMMS. The model has no x87 arithmetic; every other D8-DF opcode raises #UD and is
 * logged once. CR0.EM or CR0.TS raise #NM first (SDM vol. 3 §2.5: EM means "emulate the FPU").
 */
final class X87 {
    private X87() {
    }

    static void exec(Cpu c, Insn d) {
        if ((c.cr0 & (Cpu.CR0_EM | Cpu.CR0_TS)) != 0) throw new CpuFault(CpuFault.NM, 0, false);
        FpuState f = c.fpu;
        int op = d.op;
        if (d.mod != 3) {
            switch (op << 3 | d.regOp) {
                case 0xD9 << 3 | 7 -> c.setRm(d, 2, f.fcw);                       // FNSTCW m16
                case 0xD9 << 3 | 5 -> f.fcw = (int) c.rm(d, 2) & 0x1F3F | 0x40;   // FLDCW m16 (bit 6 reads as 1)
                case 0xDD << 3 | 7 -> c.setRm(d, 2, status(f));                   // FNSTSW m16
                case 0xDB << 3 | 0 -> fild(c, d, (int) c.rm(d, 4));                // FILD m32int
                case 0xDF << 3 | 0 -> fild(c, d, (short) c.rm(d, 2));              // FILD m16int
                case 0xDF << 3 | 5 -> fild(c, d, c.read(c.segOf(d), c.ea(d), 8)); // FILD m64int
                default -> throw Machine.unsupported(c, d);
            }
        } else {
            int modrm = 0xC0 | d.regOp << 3 | (d.rm & 7);
            switch (op << 8 | modrm) {
                case 0xDBE3 -> f.finit();                                          // FNINIT
                case 0xDBE2 -> f.fsw &= 0x7F00;                                    // FNCLEX: exceptions, ES, B
                case 0xDFE0 -> c.setReg(Cpu.RAX, 2, status(f));                    // FNSTSW AX
                case 0xD9D0 -> {                                                   // FNOP
                }
                default -> throw Machine.unsupported(c, d);
            }
        }
        Executor.next(c, d);
    }

    /**
     * FILD: pushes an integer, exactly, as an 80-bit value (Linux runs one after FNCLEX and EMMS on
     * AMD CPUs to clear the pointers FXSAVE leaks). A full stack is the masked invalid operation:
     * IE, SF and C1 set and the indefinite pushed (no unmasked x87 exceptions: the model has no #MF).
     */
    private static void fild(Cpu c, Insn d, long v) {
        FpuState f = c.fpu;
        int top = (f.fsw >>> 11 & 7) - 1 & 7;
        byte[] st = f.st;
        long mantissa;
        int exp;
        boolean overflow = (f.ftw >>> (2 * top) & 3) != 3;
        if (overflow) {
            f.fsw |= 0x1 | 0x40 | 0x200;
            mantissa = 0xC000000000000000L;
            exp = 0xFFFF;
        } else if (v == 0) {
            mantissa = 0;
            exp = 0;
        } else {
            long m = Math.abs(v);                                  // Long.MIN_VALUE stays 2^63, as unsigned
            int lead = 63 - Long.numberOfLeadingZeros(m);
            mantissa = m << (63 - lead);
            exp = (16383 + lead) | (v < 0 ? 0x8000 : 0);
        }
        for (int k = 0; k < 8; k++) st[16 * top + k] = (byte) (mantissa >>> (8 * k));
        st[16 * top + 8] = (byte) exp;
        st[16 * top + 9] = (byte) (exp >>> 8);
        int tag = overflow ? 2 : v == 0 ? 1 : 0;
        f.ftw = f.ftw & ~(3 << (2 * top)) | tag << (2 * top);
        f.fsw = f.fsw & ~0x3800 | top << 11;
        f.fop = (d.op & 7) << 8 | d.mod << 6 | d.regOp << 3 | (d.rm & 7);
        f.fip = c.rip;
        f.fdp = c.ea(d);
    }

    /** EMMS (0F 77): every x87 register empty. Linux runs it on AMD CPUs whatever CPUID says of MMX. */
    static void emms(Cpu c, Insn d) {
        if ((c.cr0 & Cpu.CR0_EM) != 0) throw CpuFault.ud();
        if ((c.cr0 & Cpu.CR0_TS) != 0) throw new CpuFault(CpuFault.NM, 0, false);
        if (d.rep != 0 || d.opPrefix) throw Machine.unsupported(c, d);
        c.fpu.ftw = 0xFFFF;
    }

    /** The status word: the stored one (TOP included); ES and B follow the unmasked exceptions pending. */
    static int status(FpuState f) {
        int pending = f.fsw & 0x3F & ~f.fcw;
        return pending != 0 ? f.fsw | 0x8080 : f.fsw & ~0x8080;
    }
}
