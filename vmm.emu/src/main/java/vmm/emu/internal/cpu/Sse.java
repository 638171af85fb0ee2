package vmm.emu.internal.cpu;

/**
 * The SSE and SSE2 instructions of the model that move data or compute on integers: the moves
 * (aligned, unaligned, scalar, half, non-temporal, to and from general registers), the logical
 * operations, the packed integer arithmetic, compares, shifts, shuffles, unpacks and packs, and
 * PMOVMSKB/PINSRW/PEXTRW. Floating point is {@link SseFloat}. The mandatory prefix picks the
 * instruction: none (PS), 66 (PD and the SSE2 integer forms), F3 (SS), F2 (SD); a prefix the
 * model has no instruction for (SSE3 and later) raises #UD, logged once; the forms without a prefix
 * on MMX registers are {@link Mmx}.
 */
final class Sse {
    /** Mandatory prefix classes. */
    static final int NONE = 0, P66 = 1, PF2 = 2, PF3 = 3;

    private Sse() {
    }

    static int prefix(Insn d) {
        return d.rep == 0xF3 ? PF3 : d.rep == 0xF2 ? PF2 : d.opPrefix ? P66 : NONE;
    }

    /** Runs an SSE opcode (0F 10-17, 28-2F, 50-7F, C2-C6, D0-FF); the caller advances RIP. */
    static void exec(Cpu c, Insn d) {
        if (d.lock) throw CpuFault.ud();                                       // no SSE instruction is lockable
        int op = d.op & 0xFF;
        int p = prefix(d);
        if (Mmx.isMmx(op, p)) {                                                // MMX registers: x87's checks
            Mmx.exec(c, d, p);
            return;
        }
        Fxsave.checkSse(c);
        long[] x = c.fpu.xmm;
        int r = d.reg;
        switch (op) {
            case 0x10, 0x11 -> {
                boolean load = op == 0x10;
                switch (p) {
                    case NONE, P66 -> {                                        // MOVUPS, MOVUPD
                        if (load) set(c, r, src(c, d, false));
                        else dst(c, d, x[2 * r], x[2 * r + 1], false);
                    }
                    case PF2 -> {                                              // MOVSD
                        if (load && d.mod != 3) set(c, r, c.read(c.segOf(d), c.ea(d), 8), 0);
                        else if (load) x[2 * r] = x[2 * d.rm];
                        else if (d.mod == 3) x[2 * d.rm] = x[2 * r];
                        else c.write(c.segOf(d), c.ea(d), 8, x[2 * r]);
                    }
                    default -> {                                               // MOVSS
                        if (load && d.mod != 3) set(c, r, c.read(c.segOf(d), c.ea(d), 4), 0);
                        else if (load) x[2 * r] = x[2 * r] & ~0xFFFFFFFFL | x[2 * d.rm] & 0xFFFFFFFFL;
                        else if (d.mod == 3) x[2 * d.rm] = x[2 * d.rm] & ~0xFFFFFFFFL | x[2 * r] & 0xFFFFFFFFL;
                        else c.write(c.segOf(d), c.ea(d), 4, x[2 * r] & 0xFFFFFFFFL);
                    }
                }
            }
            case 0x12, 0x13, 0x16, 0x17 -> {
                if (p > P66) throw Machine.unsupported(c, d);                  // MOVDDUP, MOVSLDUP, MOVSHDUP: SSE3
                int half = op >= 0x16 ? 1 : 0;
                if ((op & 1) == 0) {
                    if (d.mod == 3) {
                        if (p == P66) throw Machine.unsupported(c, d);
                        x[2 * r + half] = x[2 * d.rm + 1 - half];             // MOVHLPS, MOVLHPS
                    } else {
                        x[2 * r + half] = c.read(c.segOf(d), c.ea(d), 8);     // MOVLPS/PD, MOVHPS/PD loads
                    }
                } else {
                    if (d.mod == 3) throw CpuFault.ud();
                    c.write(c.segOf(d), c.ea(d), 8, x[2 * r + half]);         // the stores
                }
            }
            case 0x14, 0x15 -> {                                               // UNPCKL/HPS, UNPCKL/HPD
                if (p > P66) throw Machine.unsupported(c, d);
                long[] s = src(c, d, true);
                if (p == P66) unpack(c, r, s, 8, op == 0x15);
                else unpack(c, r, s, 4, op == 0x15);
            }
            case 0x28, 0x29 -> {                                               // MOVAPS, MOVAPD
                if (p > P66) throw Machine.unsupported(c, d);
                if (op == 0x28) set(c, r, src(c, d, true));
                else dst(c, d, x[2 * r], x[2 * r + 1], true);
            }
            case 0x2B, 0xE7 -> {                                               // MOVNTPS/PD, MOVNTDQ
                if (d.mod == 3 || (op == 0x2B ? p > P66 : p != P66)) throw CpuFault.ud();
                dst(c, d, x[2 * r], x[2 * r + 1], true);
            }
            case 0x50 -> {                                                     // MOVMSKPS, MOVMSKPD
                if (d.mod != 3 || p > P66) throw CpuFault.ud();
                long lo = x[2 * d.rm], hi = x[2 * d.rm + 1];
                long m = p == P66 ? (lo >>> 63) | (hi >>> 63) << 1
                        : (lo >>> 31 & 1) | (lo >>> 63) << 1 | (hi >>> 31 & 1) << 2 | (hi >>> 63) << 3;
                c.setReg(r, 8, m);
            }
            case 0x54, 0x55, 0x56, 0x57 -> {                                   // ANDPS ANDNPS ORPS XORPS (and PD)
                if (p > P66) throw Machine.unsupported(c, d);
                long[] s = src(c, d, true);
                logic(c, r, s, op == 0x54 ? 0 : op == 0x55 ? 1 : op == 0x56 ? 2 : 3);
            }
            case 0xDB, 0xDF, 0xEB, 0xEF -> {                                   // PAND PANDN POR PXOR
                need66(c, d, p);
                logic(c, r, src(c, d, true), op == 0xDB ? 0 : op == 0xDF ? 1 : op == 0xEB ? 2 : 3);
            }
            case 0x6E -> {                                                     // MOVD/MOVQ xmm, r/m
                need66(c, d, p);
                int size = (d.rex & 8) != 0 ? 8 : 4;
                set(c, r, c.rm(d, size), 0);
            }
            case 0x7E -> {
                if (p == PF3) {                                                // MOVQ xmm, xmm/m64
                    set(c, r, d.mod == 3 ? x[2 * d.rm] : c.read(c.segOf(d), c.ea(d), 8), 0);
                } else {                                                       // MOVD/MOVQ r/m, xmm
                    need66(c, d, p);
                    int size = (d.rex & 8) != 0 ? 8 : 4;
                    c.setRm(d, size, size == 8 ? x[2 * r] : x[2 * r] & 0xFFFFFFFFL);
                }
            }
            case 0xD6 -> {                                                     // MOVQ xmm/m64, xmm
                need66(c, d, p);
                if (d.mod == 3) set(c, d.rm, x[2 * r], 0);
                else c.write(c.segOf(d), c.ea(d), 8, x[2 * r]);
            }
            case 0x6F, 0x7F -> {                                               // MOVDQA (66), MOVDQU (F3)
                if (p != P66 && p != PF3) throw Machine.unsupported(c, d);
                boolean aligned = p == P66;
                if (op == 0x6F) set(c, r, src(c, d, aligned));
                else dst(c, d, x[2 * r], x[2 * r + 1], aligned);
            }
            case 0x70 -> {                                                     // PSHUFD, PSHUFHW, PSHUFLW
                if (p == NONE) throw Machine.unsupported(c, d);
                long[] s = src(c, d, true);
                int imm = (int) d.imm & 0xFF;
                if (p == P66) {
                    long lo = 0, hi = 0;
                    for (int i = 0; i < 4; i++) {
                        long v = lane(s, 4, imm >>> (2 * i) & 3);
                        if (i < 2) lo |= v << (32 * i);
                        else hi |= v << (32 * (i - 2));
                    }
                    set(c, r, lo, hi);
                } else {
                    int q = p == PF3 ? 1 : 0;                                  // the quadword shuffled
                    long w = s[q], out = 0;
                    for (int i = 0; i < 4; i++) out |= (w >>> (16 * (imm >>> (2 * i) & 3)) & 0xFFFF) << (16 * i);
                    if (q == 1) set(c, r, s[0], out);
                    else set(c, r, out, s[1]);
                }
            }
            case 0x71, 0x72, 0x73 -> {
                need66(c, d, p);
                if (d.mod != 3) throw CpuFault.ud();
                int count = (int) d.imm & 0xFF;
                int t = d.rm;
                int size = op == 0x71 ? 2 : op == 0x72 ? 4 : 8;
                switch (op << 3 | d.regOp) {
                    case 0x71 << 3 | 2, 0x72 << 3 | 2, 0x73 << 3 | 2 -> shift(c, t, count, size, 0);
                    case 0x71 << 3 | 4, 0x72 << 3 | 4 -> shift(c, t, count, size, 1);
                    case 0x71 << 3 | 6, 0x72 << 3 | 6, 0x73 << 3 | 6 -> shift(c, t, count, size, 2);
                    case 0x73 << 3 | 3 -> byteShift(c, t, count, false);      // PSRLDQ
                    case 0x73 << 3 | 7 -> byteShift(c, t, count, true);       // PSLLDQ
                    default -> throw Machine.unsupported(c, d);
                }
            }
            case 0xD1, 0xD2, 0xD3, 0xE1, 0xE2, 0xF1, 0xF2, 0xF3 -> {
                need66(c, d, p);
                long[] s = src(c, d, true);
                long count = s[0];
                int size = switch (op & 0xF) { case 1 -> 2; case 2 -> 4; default -> 8; };
                int kind = op >= 0xF0 ? 2 : op >= 0xE0 ? 1 : 0;
                shift(c, r, count < 0 || count > 255 ? 255 : (int) count, size, kind);
            }
            case 0xC4 -> {                                                     // PINSRW xmm, r32/m16, imm8
                need66(c, d, p);
                long v = d.mod == 3 ? c.reg(d.rm, 2) : c.read(c.segOf(d), c.ea(d), 2);
                int i = (int) d.imm & 7;
                int q = 2 * r + (i >>> 2), sh = 16 * (i & 3);
                x[q] = x[q] & ~(0xFFFFL << sh) | v << sh;
            }
            case 0xC5 -> {                                                     // PEXTRW r32, xmm, imm8
                need66(c, d, p);
                if (d.mod != 3) throw CpuFault.ud();
                int i = (int) d.imm & 7;
                c.setReg(r, 8, x[2 * d.rm + (i >>> 2)] >>> (16 * (i & 3)) & 0xFFFF);
            }
            case 0xC6 -> {                                                     // SHUFPS, SHUFPD
                if (p > P66) throw Machine.unsupported(c, d);
                long[] s = src(c, d, true);
                int imm = (int) d.imm & 0xFF;
                long[] a = {x[2 * r], x[2 * r + 1]};
                if (p == P66) {
                    set(c, r, a[imm & 1], s[imm >>> 1 & 1]);
                } else {
                    long lo = lane(a, 4, imm & 3) | lane(a, 4, imm >>> 2 & 3) << 32;
                    long hi = lane(s, 4, imm >>> 4 & 3) | lane(s, 4, imm >>> 6 & 3) << 32;
                    set(c, r, lo, hi);
                }
            }
            case 0xD7 -> {                                                     // PMOVMSKB r32, xmm
                need66(c, d, p);
                if (d.mod != 3) throw CpuFault.ud();
                long m = 0;
                for (int i = 0; i < 16; i++) m |= (x[2 * d.rm + (i >>> 3)] >>> (8 * (i & 7) + 7) & 1) << i;
                c.setReg(r, 8, m);
            }
            case 0xF7 -> {                                                     // MASKMOVDQU xmm, xmm: to DS:rDI
                need66(c, d, p);
                if (d.mod != 3) throw CpuFault.ud();
                int s = d.segOverride >= 0 ? d.segOverride : Cpu.DS;
                long at = c.reg(Cpu.RDI, d.adSize);
                for (int i = 0; i < 16; i++) {
                    if ((x[2 * d.rm + (i >>> 3)] >>> (8 * (i & 7) + 7) & 1) != 0)
                        c.write(s, (at + i) & Cpu.mask(d.adSize), 1, x[2 * r + (i >>> 3)] >>> (8 * (i & 7)));
                }
            }
            default -> {
                if (!SseInt.exec(c, d, p) && !SseFloat.exec(c, d, p)) throw Machine.unsupported(c, d);
            }
        }
    }

    static void need66(Cpu c, Insn d, int p) {
        if (p != P66) throw Machine.unsupported(c, d);
    }

    // ---- operands ----

    /** The 128-bit r/m operand; a memory operand must be 16-byte aligned when {@code aligned} (else #GP(0)). */
    static long[] src(Cpu c, Insn d, boolean aligned) {
        long[] x = c.fpu.xmm;
        if (d.mod == 3) return new long[] {x[2 * d.rm], x[2 * d.rm + 1]};
        int s = c.segOf(d);
        long a = c.ea(d);
        long lin = c.linear(s, a, 16, false);
        if (aligned && (lin & 15) != 0) throw CpuFault.gp(0);
        return new long[] {c.read(s, a, 8), c.read(s, (a + 8) & Cpu.mask(d.adSize), 8)};
    }

    /** Writes the 128-bit r/m operand; both pages are checked before either half is written. */
    static void dst(Cpu c, Insn d, long lo, long hi, boolean aligned) {
        if (d.mod == 3) {
            set(c, d.rm, lo, hi);
            return;
        }
        int s = c.segOf(d);
        long a = c.ea(d);
        long lin = c.linear(s, a, 16, true);
        if (aligned && (lin & 15) != 0) throw CpuFault.gp(0);
        if ((lin & 0xFFF) > 0xFF0) c.mmu.translate(lin + 15, Mmu.WRITE, c.cpl == 3);
        c.write(s, a, 8, lo);
        c.write(s, (a + 8) & Cpu.mask(d.adSize), 8, hi);
    }

    static void set(Cpu c, int r, long lo, long hi) {
        c.fpu.xmm[2 * r] = lo;
        c.fpu.xmm[2 * r + 1] = hi;
    }

    static void set(Cpu c, int r, long[] v) {
        set(c, r, v[0], v[1]);
    }

    /** Lane {@code i} of {@code size} bytes, zero-extended. */
    static long lane(long[] v, int size, int i) {
        int per = 8 / size;
        long w = v[i / per];
        return size == 8 ? w : w >>> (8 * size * (i % per)) & Cpu.mask(size);
    }

    private static void logic(Cpu c, int r, long[] s, int kind) {
        long[] x = c.fpu.xmm;
        for (int i = 0; i < 2; i++) {
            long a = x[2 * r + i], b = s[i];
            x[2 * r + i] = switch (kind) { case 0 -> a & b; case 1 -> ~a & b; case 2 -> a | b; default -> a ^ b; };
        }
    }

    /** Interleaves the low (or high) halves of the destination and the source, lanes of {@code size} bytes. */
    static void unpack(Cpu c, int r, long[] s, int size, boolean high) {
        long[] a = {c.fpu.xmm[2 * r], c.fpu.xmm[2 * r + 1]};
        int n = 16 / size, base = high ? n / 2 : 0;
        long[] out = new long[2];
        for (int i = 0; i < n; i++) {
            long v = lane((i & 1) == 0 ? a : s, size, base + i / 2);
            int per = 8 / size;
            out[i / per] |= size == 8 ? v : v << (8 * size * (i % per));
        }
        set(c, r, out);
    }

    /** Shifts each lane of XMM {@code r}: kind 0 logical right, 1 arithmetic right, 2 left. */
    static void shift(Cpu c, int r, int count, int size, int kind) {
        long[] x = c.fpu.xmm;
        for (int q = 0; q < 2; q++) x[2 * r + q] = Mmx.shift(x[2 * r + q], count, size, kind);
    }

    /** PSLLDQ/PSRLDQ: the whole register by {@code count} bytes (16 or more clears it). */
    private static void byteShift(Cpu c, int r, int count, boolean left) {
        long lo = c.fpu.xmm[2 * r], hi = c.fpu.xmm[2 * r + 1];
        int bits = Math.min(count, 16) * 8;
        if (bits == 0) return;
        if (bits >= 128) {
            lo = hi = 0;
        } else if (left) {
            hi = bits >= 64 ? lo << (bits - 64) : hi << bits | lo >>> (64 - bits);
            lo = bits >= 64 ? 0 : lo << bits;
        } else {
            lo = bits >= 64 ? hi >>> (bits - 64) : lo >>> bits | hi << (64 - bits);
            hi = bits >= 64 ? 0 : hi >>> bits;
        }
        set(c, r, lo, hi);
    }
}
