package vmm.emu.internal.cpu;

/**
 * The MMX instructions (0F xx without a mandatory prefix) and the MMX-register forms SSE and SSE2
 * added: moves (MOVD, MOVQ, MOVNTQ, MOVQ2DQ, MOVDQ2Q), the packed integer arithmetic, compares,
 * logic, shifts, unpacks and packs on 64 bits, PSHUFW, PINSRW, PEXTRW, PMOVMSKB and MASKMOVQ.
 * MMn is the low 64 bits (the significand) of x87 physical register Rn (SDM vol. 1 §9.5): an MMX
 * instruction sets TOP to 0 and tags every register valid, and a write to MMn sets Rn's sign and
 * exponent to all ones; EMMS ({@link X87#emms}) empties them again. CR0.EM gives #UD and CR0.TS
 * #NM, CR4.OSFXSR does not matter. The model has no #MF, so a pending x87 exception is not raised
 * here. Not here: the conversions between MMX and XMM registers (CVTPI2PS, CVTPS2PI and the PD
 * forms), which raise #UD.
 */
final class Mmx {
    private Mmx() {
    }

    /** Whether opcode {@code op} with mandatory prefix {@code p} ({@link Sse#prefix}) is one of this class's. */
    static boolean isMmx(int op, int p) {
        if (op == 0xD6) return p == Sse.PF2 || p == Sse.PF3;                // MOVDQ2Q, MOVQ2DQ
        if (p != Sse.NONE) return false;
        return op >= 0x60 && op <= 0x7F && op != 0x6C && op != 0x6D && (op < 0x77 || op > 0x7D)
                || op == 0xC4 || op == 0xC5 || op >= 0xD1 && op <= 0xFE && op != 0xD6 && op != 0xE6 && op != 0xF0;
    }

    /** Runs an opcode {@link #isMmx} accepted; the caller advances RIP. */
    static void exec(Cpu c, Insn d, int p) {
        if ((c.cr0 & Cpu.CR0_EM) != 0) throw CpuFault.ud();
        if ((c.cr0 & Cpu.CR0_TS) != 0) throw new CpuFault(CpuFault.NM, 0, false);
        int op = d.op & 0xFF;
        int r = d.regOp;                                                    // REX.R and REX.B do not reach MMn
        int rm = d.rm & 7;
        switch (op) {
            case 0xD6 -> {
                if (d.mod != 3) throw CpuFault.ud();
                if (p == Sse.PF3) Sse.set(c, d.reg, get(c, rm), 0);           // MOVQ2DQ xmm, mm
                else set(c, r, c.fpu.xmm[2 * d.rm]);                       // MOVDQ2Q mm, xmm
            }
            case 0x6E -> set(c, r, c.rm(d, (d.rex & 8) != 0 ? 8 : 4));       // MOVD/MOVQ mm, r/m
            case 0x7E -> {                                                  // MOVD/MOVQ r/m, mm
                int size = (d.rex & 8) != 0 ? 8 : 4;
                c.setRm(d, size, get(c, r) & Cpu.mask(size));
            }
            case 0x6F -> set(c, r, src(c, d, 8));                           // MOVQ mm, mm/m64
            case 0x7F -> store(c, d, get(c, r));                            // MOVQ mm/m64, mm
            case 0xE7 -> {                                                  // MOVNTQ m64, mm
                if (d.mod == 3) throw CpuFault.ud();
                store(c, d, get(c, r));
            }
            case 0xDB -> set(c, r, get(c, r) & src(c, d, 8));               // PAND
            case 0xDF -> set(c, r, ~get(c, r) & src(c, d, 8));              // PANDN
            case 0xEB -> set(c, r, get(c, r) | src(c, d, 8));               // POR
            case 0xEF -> set(c, r, get(c, r) ^ src(c, d, 8));               // PXOR
            case 0x60, 0x61, 0x62 -> set(c, r, unpack(get(c, r), src(c, d, 4), 1 << (op - 0x60), false));
            case 0x68, 0x69, 0x6A -> set(c, r, unpack(get(c, r), src(c, d, 8), 1 << (op - 0x68), true));
            case 0x63, 0x67, 0x6B -> set(c, r, pack(get(c, r), src(c, d, 8), op == 0x6B ? 4 : 2, op == 0x67));
            case 0x70 -> {                                                  // PSHUFW mm, mm/m64, imm8
                long s = src(c, d, 8), out = 0;
                int imm = (int) d.imm & 0xFF;
                for (int i = 0; i < 4; i++) out |= (s >>> (16 * (imm >>> (2 * i) & 3)) & 0xFFFF) << (16 * i);
                set(c, r, out);
            }
            case 0x71, 0x72, 0x73 -> {                                      // shifts by imm8
                if (d.mod != 3) throw CpuFault.ud();
                int size = op == 0x71 ? 2 : op == 0x72 ? 4 : 8;
                int kind = switch (d.regOp) {
                    case 2 -> 0;
                    case 4 -> op == 0x73 ? -1 : 1;
                    case 6 -> 2;
                    default -> -1;
                };
                if (kind < 0) throw Machine.unsupported(c, d);
                set(c, rm, shift(get(c, rm), (int) d.imm & 0xFF, size, kind));
            }
            case 0xD1, 0xD2, 0xD3, 0xE1, 0xE2, 0xF1, 0xF2, 0xF3 -> {          // shifts by mm/m64
                long count = src(c, d, 8);
                int size = switch (op & 0xF) { case 1 -> 2; case 2 -> 4; default -> 8; };
                int kind = op >= 0xF0 ? 2 : op >= 0xE0 ? 1 : 0;
                set(c, r, shift(get(c, r), count < 0 || count > 255 ? 255 : (int) count, size, kind));
            }
            case 0xC4 -> {                                                  // PINSRW mm, r32/m16, imm8
                long v = d.mod == 3 ? c.reg(d.rm, 2) : c.read(c.segOf(d), c.ea(d), 2);
                int sh = 16 * ((int) d.imm & 3);
                set(c, r, get(c, r) & ~(0xFFFFL << sh) | v << sh);
            }
            case 0xC5 -> {                                                  // PEXTRW r32, mm, imm8
                if (d.mod != 3) throw CpuFault.ud();
                c.setReg(d.reg, 8, get(c, rm) >>> (16 * ((int) d.imm & 3)) & 0xFFFF);
            }
            case 0xD7 -> {                                                  // PMOVMSKB r32, mm
                if (d.mod != 3) throw CpuFault.ud();
                long v = get(c, rm), m = 0;
                for (int i = 0; i < 8; i++) m |= (v >>> (8 * i + 7) & 1) << i;
                c.setReg(d.reg, 8, m);
            }
            case 0xF7 -> {                                                  // MASKMOVQ mm, mm: to DS:rDI
                if (d.mod != 3) throw CpuFault.ud();
                int s = d.segOverride >= 0 ? d.segOverride : Cpu.DS;
                long at = c.reg(Cpu.RDI, d.adSize), v = get(c, r), mask = get(c, rm);
                for (int i = 0; i < 8; i++) {
                    if ((mask >>> (8 * i + 7) & 1) != 0) c.write(s, (at + i) & Cpu.mask(d.adSize), 1, v >>> (8 * i));
                }
            }
            default -> {
                SseInt.Lanes l = SseInt.lanes(op);
                if (l == null) throw Machine.unsupported(c, d);
                set(c, r, l.apply(get(c, r), src(c, d, 8)));
            }
        }
        // Every MMX instruction (also one that only reads MMn) makes the x87 stack all-valid with TOP 0.
        c.fpu.ftw = 0;
        c.fpu.fsw &= ~0x3800;
    }

    /** MMn: the significand of physical register Rn. */
    static long get(Cpu c, int n) {
        return (long) FpuState.LONG.get(c.fpu.st, 16 * n);
    }

    /** Writes MMn and sets Rn's sign and exponent (bits 64-79) to all ones. */
    static void set(Cpu c, int n, long v) {
        FpuState.LONG.set(c.fpu.st, 16 * n, v);
        c.fpu.st[16 * n + 8] = (byte) 0xFF;
        c.fpu.st[16 * n + 9] = (byte) 0xFF;
    }

    /** The mm/m operand: MMn for a register form, else {@code size} bytes (4 or 8) of memory, zero-extended. */
    private static long src(Cpu c, Insn d, int size) {
        return d.mod == 3 ? get(c, d.rm & 7) : c.read(c.segOf(d), c.ea(d), size);
    }

    private static void store(Cpu c, Insn d, long v) {
        if (d.mod == 3) set(c, d.rm & 7, v);
        else c.write(c.segOf(d), c.ea(d), 8, v);
    }

    /** PUNPCKL/H: the low (or high) halves of {@code a} and {@code b} interleaved, lanes of {@code size} bytes. */
    private static long unpack(long a, long b, int size, boolean high) {
        int bits = 8 * size, n = 8 / size, base = high ? n / 2 : 0;
        long out = 0;
        for (int i = 0; i < n; i++) {
            long v = ((i & 1) == 0 ? a : b) >>> (bits * (base + i / 2)) & Cpu.mask(size);
            out |= v << (bits * i);
        }
        return out;
    }

    /** PACKSSWB, PACKUSWB (2 bytes to 1), PACKSSDW (4 to 2): {@code a}'s lanes, then {@code b}'s. */
    private static long pack(long a, long b, int from, boolean unsigned) {
        int to = from / 2, n = 8 / from, bits = to * 8;
        long out = 0;
        for (int i = 0; i < 2 * n; i++) {
            long v = Cpu.sx(((i < n ? a : b) >>> (8 * from * (i % n))) & Cpu.mask(from), from);
            long w = unsigned ? Math.max(0, Math.min(Cpu.mask(to), v)) : SseInt.sat(v, to);
            out |= (w & Cpu.mask(to)) << (bits * i);
        }
        return out;
    }

    /** Each lane of {@code w} shifted: kind 0 logical right, 1 arithmetic right, 2 left (also each half of an XMM). */
    static long shift(long w, int count, int size, int kind) {
        int bits = size * 8;
        long out = 0;
        for (int i = 0; i < 8 / size; i++) {
            long v = size == 8 ? w : w >>> (bits * i) & Cpu.mask(size);
            long res;
            if (kind == 1) res = Cpu.sx(v, size) >> Math.min(count, bits - 1);
            else if (count >= bits) res = 0;
            else res = kind == 0 ? v >>> count : v << count;
            out |= size == 8 ? res : (res & Cpu.mask(size)) << (bits * i);
        }
        return out;
    }
}
