package vmm.emu.oracle;

/**
 * The MMX forms of the differential test (0F xx without a prefix on MM0-7, and MOVQ2DQ/MOVDQ2Q). As for
 * {@link SseForms} the compared state has no MMX registers, so each case loads the two registers from the
 * scratch buffer, runs the instruction, stores both back and ends with EMMS (the x87 stack empty again, as
 * the ABI wants it).
 *
 * <p>Scratch layout: 0 the destination's input, 16 the source's, 32-47 the memory operand, 64 and 80 the two
 * registers after the instruction.
 */
final class MmxForms {
    /** Operand kinds. */
    private static final int MM = 0, SHIFT_IMM = 1, G_FROM_MM = 2, MM_FROM_G = 3, STORE = 4, MASKMOVQ = 5,
            XMM_FROM_MM = 6, MM_FROM_XMM = 7;

    private MmxForms() {}

    private record Spec(String name, int op, int kind, int memSize, int imm, int ext, boolean shiftCounts) {}

    static void add(InstructionForms f) {
        for (Spec s : specs()) f.add("mmx " + s.name(), null, c -> make(c, s));
    }

    private static java.util.List<Spec> specs() {
        java.util.List<Spec> l = new java.util.ArrayList<>();
        int[] ints = {0xEF, 0xEB, 0xDB, 0xDF, 0x74, 0x75, 0x76, 0x64, 0x65, 0x66, 0xDA, 0xDE, 0xEA, 0xEE, 0xE0, 0xE3,
            0xFC, 0xFD, 0xFE, 0xD4, 0xF8, 0xF9, 0xFA, 0xFB, 0xEC, 0xED, 0xDC, 0xDD, 0xE8, 0xE9, 0xD8, 0xD9, 0xD5, 0xE5,
            0xE4, 0xF4, 0xF5, 0xF6, 0x68, 0x69, 0x6A, 0x63, 0x67, 0x6B, 0x6F};
        for (int op : ints) l.add(new Spec(String.format("0f %02x mm, mm/m64", op), op, MM, 8, -1, 0, false));
        for (int op : new int[] {0x60, 0x61, 0x62}) {
            l.add(new Spec(String.format("0f %02x mm, mm/m32", op), op, MM, 4, -1, 0, false));
        }
        for (int op : new int[] {0xD1, 0xD2, 0xD3, 0xE1, 0xE2, 0xF1, 0xF2, 0xF3}) {
            l.add(new Spec(String.format("shift 0f %02x mm, mm/m64", op), op, MM, 8, -1, 0, true));
        }
        for (int[] g : new int[][] {{0x71, 2}, {0x71, 4}, {0x71, 6}, {0x72, 2}, {0x72, 4}, {0x72, 6}, {0x73, 2},
            {0x73, 6}}) {
            l.add(new Spec(String.format("0f %02x /%d mm, imm8", g[0], g[1]), g[0], SHIFT_IMM, 0, 0, g[1], false));
        }
        l.add(new Spec("pshufw mm, mm/m64, imm8", 0x70, MM, 8, 0, 0, false));
        l.add(new Spec("movq mm/m64, mm", 0x7F, STORE, 8, -1, 0, false));
        l.add(new Spec("movntq m64, mm", 0xE7, STORE, 8, -1, 0, false));
        l.add(new Spec("movd/movq r/m, mm", 0x7E, G_FROM_MM, 4, -1, 0, false));
        l.add(new Spec("pmovmskb r32, mm", 0xD7, G_FROM_MM, 0, -1, 0, false));
        l.add(new Spec("pextrw r32, mm, imm8", 0xC5, G_FROM_MM, 0, 0, 0, false));
        l.add(new Spec("movd/movq mm, r/m", 0x6E, MM_FROM_G, 4, -1, 0, false));
        l.add(new Spec("pinsrw mm, r32/m16, imm8", 0xC4, MM_FROM_G, 2, 0, 0, false));
        l.add(new Spec("maskmovq mm, mm", 0xF7, MASKMOVQ, 0, -1, 0, false));
        l.add(new Spec("movq2dq xmm, mm", 0xD6, XMM_FROM_MM, 0, -1, 0, false));
        l.add(new Spec("movdq2q mm, xmm", 0xD6, MM_FROM_XMM, 0, -1, 0, false));
        return l;
    }

    private static void make(CaseBuilder c, Spec s) {
        int a = c.rnd.nextInt(8), b;
        do b = c.rnd.nextInt(8); while (b == a);
        c.in.gpr[X86State.RDI] = c.scratch;
        for (int at = 0; at < 48; at += 8) {
            boolean count = s.shiftCounts() && (at == 16 || at == 32) && c.rnd.nextInt(4) != 0;
            long v = count ? c.rnd.nextInt(70) : c.value(64);
            for (int i = 0; i < 8; i++) c.in.scratch[at + i] = (byte) (v >>> (8 * i));
        }
        boolean memory = s.memSize() > 0 && c.rnd.nextBoolean();
        int disp = 32 + (memory ? c.rnd.nextInt(8) : 0);
        mmx(c, 0x6F, a, -1, 0);                                             // movq mmA, [rdi]
        mmx(c, 0x6F, b, -1, 16);                                            // movq mmB, [rdi+16]
        int g;                                                              // a general register operand
        do g = c.rnd.nextInt(c.legacy32 ? 8 : 16); while (g == X86State.RSP || g == X86State.RDI);
        boolean wide = !c.legacy32 && c.rnd.nextBoolean();
        int x = c.rnd.nextInt(c.legacy32 ? 8 : 16);                          // an XMM register
        switch (s.kind()) {
            case MM -> insn(c, s, a, memory ? -1 : b, disp, false, 0);
            case STORE -> insn(c, s, a, memory || s.op() == 0xE7 ? -1 : b, disp, false, 0);
            case SHIFT_IMM -> insn(c, s, s.ext(), a, disp, false, 0);
            case G_FROM_MM -> {
                if (s.op() == 0x7E) insn(c, s, a, memory ? -1 : g, disp, wide, !memory && g >= 8 ? 1 : 0);
                else insn(c, s, g, b, disp, false, g >= 8 ? 4 : 0);
            }
            case MM_FROM_G -> insn(c, s, a, memory ? -1 : g, disp, wide && s.op() == 0x6E,
                    memory || g < 8 ? 0 : 1);
            case MASKMOVQ -> insn(c, s, a, b, disp, false, 0);              // to DS:RDI, the scratch buffer
            case XMM_FROM_MM -> {                                           // movq2dq xmmX, mmB; movdqu [rdi+64], xmmX
                c.b(0xF3);
                if (x >= 8) c.b(0x44);
                c.b(0x0F, 0xD6, 0xC0 | (x & 7) << 3 | b);
                c.b(0xF3);
                if (x >= 8) c.b(0x44);
                c.b(0x0F, 0x7F, 0x47 | (x & 7) << 3, 96);
            }
            case MM_FROM_XMM -> {                                           // movdqu xmmX, [rdi]; movdq2q mmA, xmmX
                c.b(0xF3);
                if (x >= 8) c.b(0x44);
                c.b(0x0F, 0x6F, 0x47 | (x & 7) << 3, 32);
                c.b(0xF2);
                if (x >= 8) c.b(0x41);
                c.b(0x0F, 0xD6, 0xC0 | a << 3 | (x & 7));
            }
            default -> throw new IllegalStateException();
        }
        mmx(c, 0x7F, a, -1, 64);                                            // movq [rdi+64], mmA
        mmx(c, 0x7F, b, -1, 80);                                            // movq [rdi+80], mmB
        c.b(0x0F, 0x77);                                                    // emms
    }

    /** {@code 0F op} with ModRM reg = mm, rm = register or [rdi+disp]. */
    private static void mmx(CaseBuilder c, int op, int reg, int rm, int disp) {
        c.b(0x0F, op);
        if (rm < 0) c.b(0x47 | reg << 3, disp);
        else c.b(0xC0 | reg << 3 | rm);
    }

    /**
     * The instruction: REX (W, and R/B for a general register {@code rexRb} names: 4 = R, 1 = B), 0F op,
     * ModRM with reg and (rm register, or [rdi+disp]), imm8.
     */
    private static void insn(CaseBuilder c, Spec s, int reg, int rm, int disp, boolean rexW, int rexRb) {
        int rex = (rexW ? 8 : 0) | rexRb;
        if (rex != 0) c.b(0x40 | rex);
        c.b(0x0F, s.op());
        if (rm < 0) c.b(0x40 | (reg & 7) << 3 | 7, disp);
        else c.b(0xC0 | (reg & 7) << 3 | (rm & 7));
        if (s.imm() >= 0) c.b(s.kind() == SHIFT_IMM && c.rnd.nextBoolean() ? c.rnd.nextInt(70) : c.rnd.nextInt(256));
    }
}
