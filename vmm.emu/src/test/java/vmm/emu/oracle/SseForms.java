package vmm.emu.oracle;

/**
 * The SSE and SSE2 forms of the differential test. The state compared has no XMM registers, so
 * each case is a short program around the instruction: it loads the destination and source XMM
 * registers from the scratch buffer, for floating point loads a random MXCSR (any rounding, FZ,
 * DAZ, some flags already set, every exception masked), runs the instruction, and stores both
 * registers (and MXCSR) back into the scratch buffer; a last LDMXCSR puts back the ABI's 0x1F80.
 * Memory operands are in the buffer (16-byte aligned, or anywhere in 32 bytes for the forms that
 * allow it); general registers are the ordinary random ones.
 *
 * <p>Scratch layout: 0 the destination's input, 16 the source's, 32-63 the memory operand, 64 and
 * 80 the two registers after the instruction, 100 the MXCSR loaded, 104 0x1F80, 108 MXCSR after.
 */
final class SseForms {
    static final int NONE = 0, P66 = 0x66, F2 = 0xF2, F3 = 0xF3;
    /** Operand kinds. */
    static final int XX = 0, STORE = 1, STORE_MEM = 2, LOAD_MEM = 3, G_FROM_X = 4, X_FROM_G = 5, G_FROM_XM = 6,
            SHIFT_IMM = 7, G_TO_MEM = 8, XX_REG = 9;
    /** Lane data. */
    static final int INT = 0, SINGLE = 1, DOUBLE = 2, SHIFT_COUNT = 3;

    private SseForms() {}

    /** One form: its bytes and operands. memSize 0 means a register operand only. */
    record Spec(String name, int prefix, int op, int kind, int memSize, boolean aligned, int imm, int lanes,
            boolean fp, int ext) {}

    static void add(InstructionForms f) {
        for (Spec s : specs()) f.add("sse " + s.name(), null, c -> make(c, s));
        if (f.mode() == Mode.BITS64) f.add("sse cmpxchg16b m128", null, SseForms::cmpxchg16b);
    }

    private static Spec x(String name, int prefix, int op, int memSize, boolean aligned, int lanes) {
        return new Spec(name, prefix, op, XX, memSize, aligned, -1, lanes, lanes == SINGLE || lanes == DOUBLE, 0);
    }

    private static Spec fp(String name, int prefix, int op, int memSize, boolean aligned, int lanes) {
        return new Spec(name, prefix, op, XX, memSize, aligned, -1, lanes, true, 0);
    }

    private static java.util.List<Spec> specs() {
        java.util.List<Spec> l = new java.util.ArrayList<>();
        // moves
        l.add(x("movdqa x, x/m128", P66, 0x6F, 16, true, INT));
        l.add(x("movdqu x, x/m128", F3, 0x6F, 16, false, INT));
        l.add(x("movaps x, x/m128", NONE, 0x28, 16, true, INT));
        l.add(x("movapd x, x/m128", P66, 0x28, 16, true, INT));
        l.add(x("movups x, x/m128", NONE, 0x10, 16, false, INT));
        l.add(x("movupd x, x/m128", P66, 0x10, 16, false, INT));
        l.add(x("movsd x, x/m64", F2, 0x10, 8, false, INT));
        l.add(x("movss x, x/m32", F3, 0x10, 4, false, INT));
        l.add(x("movq x, x/m64 (f3 0f 7e)", F3, 0x7E, 8, false, INT));
        l.add(x("movhlps / movlps load", NONE, 0x12, 8, false, INT));
        l.add(x("movlhps / movhps load", NONE, 0x16, 8, false, INT));
        l.add(new Spec("movlpd x, m64", P66, 0x12, LOAD_MEM, 8, false, -1, INT, false, 0));
        l.add(new Spec("movhpd x, m64", P66, 0x16, LOAD_MEM, 8, false, -1, INT, false, 0));
        for (int[] st : new int[][] {{P66, 0x7F, 16, 1}, {F3, 0x7F, 16, 0}, {NONE, 0x29, 16, 1}, {NONE, 0x11, 16, 0},
            {P66, 0x29, 16, 1}, {P66, 0x11, 16, 0}, {F2, 0x11, 8, 0}, {F3, 0x11, 4, 0}, {P66, 0xD6, 8, 0}}) {
            l.add(new Spec(String.format("store %02x 0f %02x", st[0], st[1]), st[0], st[1], STORE, st[2], st[3] == 1,
                    -1, INT, false, 0));
        }
        for (int[] st : new int[][] {{P66, 0xE7, 16, 1}, {NONE, 0x2B, 16, 1}, {P66, 0x2B, 16, 1}, {NONE, 0x13, 8, 0},
            {NONE, 0x17, 8, 0}, {P66, 0x13, 8, 0}, {P66, 0x17, 8, 0}}) {
            l.add(new Spec(String.format("store to memory %02x 0f %02x", st[0], st[1]), st[0], st[1], STORE_MEM, st[2],
                    st[3] == 1, -1, INT, false, 0));
        }
        l.add(new Spec("movd/movq x, r/m (66 0f 6e)", P66, 0x6E, X_FROM_G, 4, false, -1, INT, false, 0));
        l.add(new Spec("movd/movq r/m, x (66 0f 7e)", P66, 0x7E, G_FROM_X, 4, false, -1, INT, false, 0));
        l.add(new Spec("movnti m, r", NONE, 0xC3, G_TO_MEM, 4, false, -1, INT, false, 0));
        l.add(new Spec("pmovmskb r32, x", P66, 0xD7, G_FROM_X, 0, false, -1, INT, false, 0));
        l.add(new Spec("movmskps r32, x", NONE, 0x50, G_FROM_X, 0, false, -1, INT, false, 0));
        l.add(new Spec("movmskpd r32, x", P66, 0x50, G_FROM_X, 0, false, -1, INT, false, 0));
        l.add(new Spec("pextrw r32, x, imm8", P66, 0xC5, G_FROM_X, 0, false, 0, INT, false, 0));
        l.add(new Spec("pinsrw x, r32/m16, imm8", P66, 0xC4, X_FROM_G, 2, false, 0, INT, false, 0));
        // logic and integer arithmetic (66 0F xx, x/m128 aligned)
        int[] ints = {0xEF, 0xEB, 0xDB, 0xDF, 0x74, 0x75, 0x76, 0x64, 0x65, 0x66, 0xDA, 0xDE, 0xEA, 0xEE, 0xE0, 0xE3,
            0xFC, 0xFD, 0xFE, 0xD4, 0xF8, 0xF9, 0xFA, 0xFB, 0xEC, 0xED, 0xDC, 0xDD, 0xE8, 0xE9, 0xD8, 0xD9, 0xD5, 0xE5,
            0xE4, 0xF4, 0xF5, 0xF6, 0x60, 0x61, 0x62, 0x6C, 0x68, 0x69, 0x6A, 0x6D, 0x63, 0x67, 0x6B};
        for (int op : ints) l.add(x(String.format("66 0f %02x x, x/m128", op), P66, op, 16, true, INT));
        for (int op : new int[] {0xD1, 0xD2, 0xD3, 0xE1, 0xE2, 0xF1, 0xF2, 0xF3}) {
            l.add(x(String.format("shift 66 0f %02x x, x/m128", op), P66, op, 16, true, SHIFT_COUNT));
        }
        for (int op : new int[] {0x54, 0x55, 0x56, 0x57, 0x14, 0x15}) {
            l.add(x(String.format("0f %02x x, x/m128", op), NONE, op, 16, true, INT));
            l.add(x(String.format("66 0f %02x x, x/m128", op), P66, op, 16, true, INT));
        }
        l.add(new Spec("pshufd x, x/m128, imm8", P66, 0x70, XX, 16, true, 0, INT, false, 0));
        l.add(new Spec("pshufhw x, x/m128, imm8", F3, 0x70, XX, 16, true, 0, INT, false, 0));
        l.add(new Spec("pshuflw x, x/m128, imm8", F2, 0x70, XX, 16, true, 0, INT, false, 0));
        l.add(new Spec("shufps x, x/m128, imm8", NONE, 0xC6, XX, 16, true, 0, INT, false, 0));
        l.add(new Spec("shufpd x, x/m128, imm8", P66, 0xC6, XX, 16, true, 0, INT, false, 0));
        for (int[] g : new int[][] {{0x71, 2}, {0x71, 4}, {0x71, 6}, {0x72, 2}, {0x72, 4}, {0x72, 6}, {0x73, 2},
            {0x73, 3}, {0x73, 6}, {0x73, 7}}) {
            l.add(new Spec(String.format("66 0f %02x /%d x, imm8", g[0], g[1]), P66, g[0], SHIFT_IMM, 0, false, 0, INT,
                    false, g[1]));
        }
        l.add(new Spec("maskmovdqu x, x", P66, 0xF7, XX_REG, 0, false, -1, INT, false, 0));
        // floating point
        String[] names = {"add", "mul", "sub", "min", "div", "max", "sqrt"};
        int[] ops = {0x58, 0x59, 0x5C, 0x5D, 0x5E, 0x5F, 0x51};
        for (int i = 0; i < ops.length; i++) {
            l.add(fp(names[i] + "ps", NONE, ops[i], 16, true, SINGLE));
            l.add(fp(names[i] + "pd", P66, ops[i], 16, true, DOUBLE));
            l.add(fp(names[i] + "ss", F3, ops[i], 4, false, SINGLE));
            l.add(fp(names[i] + "sd", F2, ops[i], 8, false, DOUBLE));
        }
        l.add(new Spec("cmpps imm8", NONE, 0xC2, XX, 16, true, 8, SINGLE, true, 0));
        l.add(new Spec("cmppd imm8", P66, 0xC2, XX, 16, true, 8, DOUBLE, true, 0));
        l.add(new Spec("cmpss imm8", F3, 0xC2, XX, 4, false, 8, SINGLE, true, 0));
        l.add(new Spec("cmpsd imm8", F2, 0xC2, XX, 8, false, 8, DOUBLE, true, 0));
        l.add(fp("ucomiss", NONE, 0x2E, 4, false, SINGLE));
        l.add(fp("ucomisd", P66, 0x2E, 8, false, DOUBLE));
        l.add(fp("comiss", NONE, 0x2F, 4, false, SINGLE));
        l.add(fp("comisd", P66, 0x2F, 8, false, DOUBLE));
        l.add(new Spec("cvtsi2sd x, r/m", F2, 0x2A, X_FROM_G, 4, false, -1, DOUBLE, true, 0));
        l.add(new Spec("cvtsi2ss x, r/m", F3, 0x2A, X_FROM_G, 4, false, -1, SINGLE, true, 0));
        l.add(new Spec("cvttsd2si r, x/m64", F2, 0x2C, G_FROM_XM, 8, false, -1, DOUBLE, true, 0));
        l.add(new Spec("cvtsd2si r, x/m64", F2, 0x2D, G_FROM_XM, 8, false, -1, DOUBLE, true, 0));
        l.add(new Spec("cvttss2si r, x/m32", F3, 0x2C, G_FROM_XM, 4, false, -1, SINGLE, true, 0));
        l.add(new Spec("cvtss2si r, x/m32", F3, 0x2D, G_FROM_XM, 4, false, -1, SINGLE, true, 0));
        l.add(fp("cvtss2sd", F3, 0x5A, 4, false, SINGLE));
        l.add(fp("cvtsd2ss", F2, 0x5A, 8, false, DOUBLE));
        l.add(fp("cvtps2pd", NONE, 0x5A, 8, false, SINGLE));
        l.add(fp("cvtpd2ps", P66, 0x5A, 16, true, DOUBLE));
        l.add(fp("cvtdq2ps", NONE, 0x5B, 16, true, INT));
        l.add(fp("cvtps2dq", P66, 0x5B, 16, true, SINGLE));
        l.add(fp("cvttps2dq", F3, 0x5B, 16, true, SINGLE));
        l.add(fp("cvtdq2pd", F3, 0xE6, 8, false, INT));
        l.add(fp("cvttpd2dq", P66, 0xE6, 16, true, DOUBLE));
        l.add(fp("cvtpd2dq", F2, 0xE6, 16, true, DOUBLE));
        return l;
    }

    // ---- one case ----

    private static void make(CaseBuilder c, Spec s) {
        int regs = c.legacy32 ? 8 : 16;
        int a = c.rnd.nextInt(regs), b;
        do b = c.rnd.nextInt(regs); while (b == a);
        long scratch = c.scratch;
        c.in.gpr[X86State.RDI] = scratch;
        fill(c, s.lanes(), 0, 64);
        boolean memory = s.memSize() > 0 && s.kind() != XX_REG && s.kind() != G_FROM_X && s.kind() != SHIFT_IMM
                && (s.kind() == STORE_MEM || s.kind() == LOAD_MEM || s.kind() == G_TO_MEM || c.rnd.nextBoolean());
        int disp = 32 + (memory && !s.aligned() ? c.rnd.nextInt(16) : 0);
        if (s.kind() == G_FROM_X && s.op() == 0x7E && s.memSize() > 0 && c.rnd.nextBoolean()) memory = true;
        if (s.fp()) {
            int mx = 0x1F80 | c.rnd.nextInt(4) << 13 | (c.rnd.nextInt(4) == 0 ? 0x8000 : 0)
                    | (c.rnd.nextInt(4) == 0 ? 0x40 : 0) | (c.rnd.nextInt(4) == 0 ? c.rnd.nextInt(64) : 0);
            put(c, 100, mx, 4);
            put(c, 104, 0x1F80, 4);
        }
        load(c, a, 0);
        load(c, b, 16);
        if (s.fp()) c.b(0x0F, 0xAE, 0x57, 100);                            // ldmxcsr [rdi+100]
        int g;                                                              // a general register operand
        do g = c.rnd.nextInt(regs); while (g == X86State.RSP || g == X86State.RDI);
        boolean wide = !c.legacy32 && c.rnd.nextBoolean();
        switch (s.kind()) {
            case XX, LOAD_MEM, XX_REG -> insn(c, s, a, memory ? -1 : b, disp, false);
            case STORE, STORE_MEM -> insn(c, s, a, memory ? -1 : b, disp, false);
            case G_FROM_X -> {
                if (s.op() == 0x7E) insn(c, s, a, memory ? -1 : g, disp, wide);   // movd r/m, xmm: reg is the xmm
                else insn(c, s, g, b, disp, false);
            }
            case X_FROM_G, G_FROM_XM -> {
                if (s.kind() == X_FROM_G) insn(c, s, a, memory ? -1 : g, disp, wide && s.op() != 0xC4);
                else insn(c, s, g, memory ? -1 : b, disp, wide);
            }
            case G_TO_MEM -> insn(c, s, g, -1, disp, wide);
            case SHIFT_IMM -> insn(c, s, s.ext(), a, disp, false);
            default -> throw new IllegalStateException();
        }
        if (s.fp()) c.b(0x0F, 0xAE, 0x5F, 108);                            // stmxcsr [rdi+108]
        store(c, a, 64);
        store(c, b, 80);
        if (s.fp()) c.b(0x0F, 0xAE, 0x57, 104);                            // ldmxcsr [rdi+104]: 0x1F80 again
    }

    /** The instruction: mandatory prefix, REX, 0F op, ModRM with reg and (rm register, or [rdi+disp]), imm8. */
    private static void insn(CaseBuilder c, Spec s, int reg, int rm, int disp, boolean rexW) {
        if (s.prefix() != NONE) c.b(s.prefix());
        int rex = (rexW ? 8 : 0) | (reg >= 8 ? 4 : 0) | (rm >= 8 ? 1 : 0);
        if (rex != 0) c.b(0x40 | rex);
        c.b(0x0F, s.op());
        if (rm < 0) c.b(0x40 | (reg & 7) << 3 | 7, disp);
        else c.b(0xC0 | (reg & 7) << 3 | (rm & 7));
        if (s.imm() == 8) c.b(c.rnd.nextInt(8));
        else if (s.imm() >= 0) c.b(s.kind() == SHIFT_IMM ? shiftCount(c) : c.rnd.nextInt(256));
    }

    private static int shiftCount(CaseBuilder c) {
        return c.rnd.nextInt(4) == 0 ? c.rnd.nextInt(256) : c.rnd.nextInt(70);
    }

    /** movdqu xmm, [rdi+disp] */
    private static void load(CaseBuilder c, int x, int disp) {
        c.b(0xF3);
        if (x >= 8) c.b(0x44);
        c.b(0x0F, 0x6F, 0x40 | (x & 7) << 3 | 7, disp);
    }

    /** movdqu [rdi+disp], xmm */
    private static void store(CaseBuilder c, int x, int disp) {
        c.b(0xF3);
        if (x >= 8) c.b(0x44);
        c.b(0x0F, 0x7F, 0x40 | (x & 7) << 3 | 7, disp);
    }

    private static void put(CaseBuilder c, int at, long v, int bytes) {
        for (int i = 0; i < bytes; i++) c.in.scratch[at + i] = (byte) (v >>> (8 * i));
    }

    /** Random lanes in scratch[from, to): integers, floats or doubles biased to the special values. */
    private static void fill(CaseBuilder c, int lanes, int from, int to) {
        for (int at = from; at < to; ) {
            switch (lanes) {
                case SINGLE -> { put(c, at, single(c), 4); at += 4; }
                case DOUBLE -> { put(c, at, dbl(c), 8); at += 8; }
                case SHIFT_COUNT -> {
                    put(c, at, (at & 15) == 0 && c.rnd.nextInt(4) != 0 ? c.rnd.nextInt(70) : c.value(64), 8);
                    at += 8;
                }
                default -> { put(c, at, c.value(64), 8); at += 8; }
            }
        }
    }

    private static long dbl(CaseBuilder c) {
        long sign = c.rnd.nextBoolean() ? Long.MIN_VALUE : 0;
        return sign | switch (c.rnd.nextInt(14)) {
            case 0 -> 0;
            case 1 -> 0x3FF0000000000000L;                                  // 1
            case 2 -> 0x7FF0000000000000L;                                  // infinity
            case 3 -> 0x7FF8000000000000L | c.rnd.nextLong() & 0x7FFFFFFFFFFFFL;   // QNaN
            case 4 -> 0x7FF0000000000001L | c.rnd.nextLong() & 0x3FFFFFFFFFFFFL;   // SNaN
            case 5 -> c.rnd.nextLong() & 0xFFFFFFFFFFFFFL;                    // denormal
            case 6 -> 0x7FEFFFFFFFFFFFFFL - c.rnd.nextInt(4);               // near the largest
            case 7 -> 0x0010000000000000L + c.rnd.nextInt(4) - 2;           // near the smallest normal
            case 8 -> Double.doubleToRawLongBits(c.rnd.nextInt(-1000, 1000) / 8.0) & Long.MAX_VALUE;
            case 9 -> Double.doubleToRawLongBits(c.rnd.nextLong() * 1.0) & Long.MAX_VALUE;
            case 10 -> Double.doubleToRawLongBits(Math.scalb(1.0 + c.rnd.nextDouble(), c.rnd.nextInt(-1074, 1024)))
                    & Long.MAX_VALUE;
            default -> c.rnd.nextLong() & Long.MAX_VALUE & 0x4FFFFFFFFFFFFFFFL | 0x3000000000000000L;
        };
    }

    private static long single(CaseBuilder c) {
        long sign = c.rnd.nextBoolean() ? 0x80000000L : 0;
        return sign | switch (c.rnd.nextInt(14)) {
            case 0 -> 0;
            case 1 -> 0x3F800000L;
            case 2 -> 0x7F800000L;
            case 3 -> 0x7FC00000L | c.rnd.nextInt(1 << 22);
            case 4 -> 0x7F800001L | c.rnd.nextInt(1 << 21);
            case 5 -> c.rnd.nextInt(1 << 23);
            case 6 -> 0x7F7FFFFFL - c.rnd.nextInt(4);
            case 7 -> 0x00800000L + c.rnd.nextInt(4) - 2;
            case 8 -> Float.floatToRawIntBits(c.rnd.nextInt(-1000, 1000) / 8.0f) & 0x7FFFFFFFL;
            case 9 -> Float.floatToRawIntBits((float) c.rnd.nextInt()) & 0x7FFFFFFFL;
            case 10 -> Float.floatToRawIntBits(Math.scalb(1.0f + c.rnd.nextFloat(), c.rnd.nextInt(-149, 128)))
                    & 0x7FFFFFFFL;
            default -> c.rnd.nextInt() & 0x4FFFFFFFL | 0x30000000L;
        };
    }

    /** LOCK CMPXCHG16B [rdi+32] with RDX:RAX equal to the memory or not (64-bit code only). */
    private static void cmpxchg16b(CaseBuilder c) {
        c.in.gpr[X86State.RDI] = c.scratch;
        if (c.rnd.nextBoolean()) {
            c.in.gpr[X86State.RAX] = CaseBuilder.readMemory(c.in, 32, 64);
            c.in.gpr[X86State.RDX] = c.rnd.nextInt(4) == 0 ? c.value(64) : CaseBuilder.readMemory(c.in, 40, 64);
        }
        if (c.rnd.nextBoolean()) c.b(0xF0);
        c.b(0x48, 0x0F, 0xC7, 0x4F, 32);
    }
}
