package vmm.emu.internal.cpu;

/**
 * The x87 instructions glibc and the kernel run without doing arithmetic: FNINIT, FNCLEX, FNSTCW,
 * FLDCW, FNSTSW (AX and m16), FNOP, FNSTENV/FLDENV's neighbours excluded. The model has no x87
 * arithmetic; every other D8-DF opcode raises #UD and is logged once. CR0.EM or CR0.TS raise #NM
 * first (SDM vol. 3 §2.5, table 12-?: EM means "emulate the FPU").
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

    /** The status word: the stored one (TOP included); ES and B follow the unmasked exceptions pending. */
    static int status(FpuState f) {
        int pending = f.fsw & 0x3F & ~f.fcw;
        return pending != 0 ? f.fsw | 0x8080 : f.fsw & ~0x8080;
    }
}
