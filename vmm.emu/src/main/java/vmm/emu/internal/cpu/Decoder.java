package vmm.emu.internal.cpu;

/**
 * The table-driven x86 decoder: legacy prefixes, REX, one- and two-byte
 * opcodes, ModRM/SIB, displacements and immediates, in 16-, 32- and 64-bit
 * code. It checks only what decoding needs (the 15-byte limit raises #GP(0));
 * whether an opcode exists is the semantics layer's question. Stateless and
 * thread-safe.
 */
public final class Decoder {
    /** Where the instruction's bytes come from: {@code at(i)} is byte i of the instruction (may raise a fault). */
    public interface ByteSource {
        int at(int i);
    }

    /** The longest instruction the architecture allows. */
    public static final int MAX_LENGTH = 15;

    // Operand attribute bits per opcode.
    static final int M = 1;          // has a ModRM byte
    static final int IB = 1 << 1;    // imm8
    static final int IW = 1 << 2;    // imm16
    static final int IZ = 1 << 3;    // imm16/32 by operand size (32 for 64-bit operands)
    static final int IV = 1 << 4;    // imm16/32/64 by operand size (MOV r, imm)
    static final int MOFFS = 1 << 5; // an address of the address size
    static final int FAR = 1 << 6;   // a far pointer: offset of the operand size, then a selector
    static final int GRP3 = 1 << 7;  // F6/F7: an immediate only for TEST (reg 0 or 1)
    static final int D64 = 1 << 8;   // operand size 64 by default in 64-bit mode (push, pop, near branches)
    static final int F64 = 1 << 9;   // near jumps and calls: 64 in 64-bit mode (16 with 66, as AMD decodes them)

    private static final int[] ONE = new int[256];
    private static final int[] TWO = new int[256];

    static {
        for (int row = 0; row < 0x40; row += 8) {
            ONE[row] = ONE[row + 1] = ONE[row + 2] = ONE[row + 3] = M;
            ONE[row + 4] = IB;
            ONE[row + 5] = IZ;
        }
        for (int i = 0x50; i < 0x60; i++) ONE[i] = D64;
        ONE[0x62] = M; ONE[0x63] = M;
        ONE[0x68] = IZ | D64; ONE[0x69] = M | IZ; ONE[0x6A] = IB | D64; ONE[0x6B] = M | IB;
        for (int i = 0x70; i < 0x80; i++) ONE[i] = IB | F64;
        ONE[0x80] = M | IB; ONE[0x81] = M | IZ; ONE[0x82] = M | IB; ONE[0x83] = M | IB;
        for (int i = 0x84; i < 0x8F; i++) ONE[i] = M;
        ONE[0x8F] = M | D64;
        ONE[0x9A] = FAR; ONE[0x9C] = D64; ONE[0x9D] = D64;
        for (int i = 0xA0; i < 0xA4; i++) ONE[i] = MOFFS;
        ONE[0xA8] = IB; ONE[0xA9] = IZ;
        for (int i = 0xB0; i < 0xB8; i++) ONE[i] = IB;
        for (int i = 0xB8; i < 0xC0; i++) ONE[i] = IV;
        ONE[0xC0] = M | IB; ONE[0xC1] = M | IB; ONE[0xC2] = IW | F64; ONE[0xC3] = F64;
        ONE[0xC4] = M; ONE[0xC5] = M; ONE[0xC6] = M | IB; ONE[0xC7] = M | IZ;
        ONE[0xC8] = IW | IB | D64; ONE[0xC9] = D64; ONE[0xCA] = IW; ONE[0xCD] = IB;
        for (int i = 0xD0; i < 0xD4; i++) ONE[i] = M;
        ONE[0xD4] = IB; ONE[0xD5] = IB;
        for (int i = 0xD8; i < 0xE0; i++) ONE[i] = M;
        for (int i = 0xE0; i < 0xE4; i++) ONE[i] = IB | F64;
        for (int i = 0xE4; i < 0xE8; i++) ONE[i] = IB;
        ONE[0xE8] = IZ | F64; ONE[0xE9] = IZ | F64; ONE[0xEA] = FAR; ONE[0xEB] = IB | F64;
        ONE[0xF6] = M | GRP3; ONE[0xF7] = M | GRP3;
        ONE[0xFE] = M; ONE[0xFF] = M;

        for (int i : new int[] {0x00, 0x01, 0x02, 0x03, 0x0D, 0x20, 0x21, 0x22, 0x23, 0xA3, 0xA5, 0xAB, 0xAD, 0xAE,
                0xAF, 0xB0, 0xB1, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBB, 0xBC, 0xBD, 0xBE, 0xBF, 0xC0,
                0xC1, 0xC7}) TWO[i] = M;
        for (int i = 0x18; i < 0x20; i++) TWO[i] = M;
        for (int i = 0x40; i < 0x50; i++) TWO[i] = M;
        for (int i = 0x80; i < 0x90; i++) TWO[i] = IZ | F64;
        for (int i = 0x90; i < 0xA0; i++) TWO[i] = M;
        TWO[0xA0] = D64; TWO[0xA1] = D64; TWO[0xA8] = D64; TWO[0xA9] = D64;
        TWO[0xA4] = M | IB; TWO[0xAC] = M | IB; TWO[0xBA] = M | IB;
        // MMX/SSE and other opcodes outside the model: decoded for their length only (they raise #UD).
        for (int i = 0x10; i < 0x18; i++) TWO[i] = M;
        for (int i = 0x28; i < 0x30; i++) TWO[i] = M;
        for (int i = 0x50; i < 0x80; i++) TWO[i] = M;
        for (int i = 0xD0; i < 0x100; i++) TWO[i] = M;
        TWO[0x70] = TWO[0x71] = TWO[0x72] = TWO[0x73] = M | IB;
        TWO[0xC2] = TWO[0xC4] = TWO[0xC5] = TWO[0xC6] = M | IB;
        TWO[0xC3] = M;
        TWO[0x0F] = M | IB; // 3DNow!: the immediate is the real opcode
        TWO[0x24] = TWO[0x26] = M;
        TWO[0x77] = 0; // EMMS
    }

    private Decoder() {
    }

    /**
     * Decodes one instruction.
     *
     * @param codeBits 16, 32 or 64: the code segment's default size (64 in 64-bit mode)
     * @throws CpuFault #GP(0) past 15 bytes, or whatever {@code src} raises
     */
    public static Insn decode(ByteSource src, int codeBits) {
        Insn d = new Insn();
        boolean long64 = codeBits == 64;
        boolean opPrefix = false, adPrefix = false;
        int i = 0, b;
        prefixes:
        while (true) {
            b = fetch(src, i++);
            int rex = 0;
            switch (b) {
                case 0x66 -> opPrefix = true;
                case 0x67 -> adPrefix = true;
                case 0x26 -> d.segOverride = long64 ? d.segOverride : Cpu.ES;
                case 0x2E -> d.segOverride = long64 ? d.segOverride : Cpu.CS;
                case 0x36 -> d.segOverride = long64 ? d.segOverride : Cpu.SS;
                case 0x3E -> d.segOverride = long64 ? d.segOverride : Cpu.DS;
                case 0x64 -> d.segOverride = Cpu.FS;
                case 0x65 -> d.segOverride = Cpu.GS;
                case 0xF0 -> d.lock = true;
                case 0xF2, 0xF3 -> d.rep = b;
                default -> {
                    if (!long64 || (b & 0xF0) != 0x40) break prefixes;
                    rex = b; // a REX counts only right before the opcode; a later prefix or REX replaces it
                }
            }
            d.rex = rex;
        }
        int attrs;
        if (b == 0x0F) {
            b = fetch(src, i++);
            if (b == 0x38 || b == 0x3A) {
                // Three-byte opcodes (SSSE3 and later, none in the model): decoded for their length only.
                int third = fetch(src, i++);
                d.op = (b == 0x38 ? 0x200 : 0x300) | third;
                attrs = b == 0x38 ? M : M | IB;
            } else {
                d.op = 0x100 | b;
                attrs = TWO[b];
            }
        } else {
            d.op = b;
            attrs = ONE[b];
        }
        boolean rexW = (d.rex & 8) != 0;
        d.opPrefix = opPrefix;
        if (long64) {
            d.adSize = adPrefix ? 4 : 8;
            if (rexW) d.opSize = 8;
            // Near branches: AMD (whose CPUID the model gives) honours 66 with a 16-bit operand; Intel ignores it.
            else if ((attrs & (D64 | F64)) != 0) d.opSize = opPrefix ? 2 : 8;
            else d.opSize = opPrefix ? 2 : 4;
        } else {
            boolean big = codeBits == 32;
            d.opSize = big != opPrefix ? 4 : 2;
            d.adSize = big != adPrefix ? 4 : 2;
        }
        if ((attrs & M) != 0) i = modrm(d, src, i, long64);
        if ((attrs & GRP3) != 0 && d.regOp < 2) attrs |= d.op == 0xF6 ? IB : IZ;
        if ((attrs & IW) != 0) {
            d.imm = fetch(src, i) | fetch(src, i + 1) << 8;
            i += 2;
            if ((attrs & IB) != 0) {
                d.imm2 = fetch(src, i++);
                attrs &= ~IB;
            }
        }
        if ((attrs & IB) != 0) d.imm = (byte) fetch(src, i++);
        if ((attrs & IZ) != 0) {
            if (d.opSize == 2) {
                d.imm = (short) (fetch(src, i) | fetch(src, i + 1) << 8);
                i += 2;
            } else {
                d.imm = le(src, i, 4);
                i += 4;
            }
        }
        if ((attrs & IV) != 0) {
            d.imm = d.opSize == 8 ? le(src, i, 8)
                    : d.opSize == 4 ? le(src, i, 4) & 0xFFFFFFFFL : le(src, i, 2) & 0xFFFF;
            i += d.opSize;
        }
        if ((attrs & MOFFS) != 0) {
            d.disp = d.adSize == 8 ? le(src, i, 8)
                    : d.adSize == 4 ? le(src, i, 4) & 0xFFFFFFFFL : le(src, i, 2) & 0xFFFF;
            i += d.adSize;
        }
        if ((attrs & FAR) != 0) {
            if (long64) throw CpuFault.ud();
            int n = d.opSize;
            d.imm = n == 4 ? le(src, i, 4) & 0xFFFFFFFFL : le(src, i, 2) & 0xFFFF;
            d.imm2 = le(src, i + n, 2) & 0xFFFF;
            i += n + 2;
        }
        if (i > MAX_LENGTH) throw CpuFault.gp(0);
        d.len = i;
        d.bytes = new byte[i];
        for (int k = 0; k < i; k++) d.bytes[k] = (byte) src.at(k);
        return d;
    }

    private static int modrm(Insn d, ByteSource src, int i, boolean long64) {
        int m = fetch(src, i++);
        // MOV to and from control, debug and test registers: always the register form, whatever mod says.
        if (d.op >= 0x120 && d.op <= 0x126) m |= 0xC0;
        d.hasModrm = true;
        d.mod = m >>> 6;
        d.regOp = (m >>> 3) & 7;
        d.reg = d.regOp | ((d.rex & 4) << 1);
        int rm = m & 7;
        if (d.mod == 3) {
            d.rm = rm | ((d.rex & 1) << 3);
            return i;
        }
        d.rm = rm;
        if (d.adSize == 2) {
            switch (rm) {
                case 0 -> { d.base = Cpu.RBX; d.index = Cpu.RSI; }
                case 1 -> { d.base = Cpu.RBX; d.index = Cpu.RDI; }
                case 2 -> { d.base = Cpu.RBP; d.index = Cpu.RSI; d.defaultSeg = Cpu.SS; }
                case 3 -> { d.base = Cpu.RBP; d.index = Cpu.RDI; d.defaultSeg = Cpu.SS; }
                case 4 -> d.base = Cpu.RSI;
                case 5 -> d.base = Cpu.RDI;
                case 6 -> { d.base = Cpu.RBP; d.defaultSeg = Cpu.SS; }
                default -> d.base = Cpu.RBX;
            }
            if (d.mod == 0 && rm == 6) {
                d.base = -1;
                d.defaultSeg = Cpu.DS;
                d.disp = le(src, i, 2) & 0xFFFF;
                return i + 2;
            }
            if (d.mod == 1) return i + dispAt(d, src, i, 1);
            if (d.mod == 2) {
                d.disp = (short) le(src, i, 2);
                return i + 2;
            }
            return i;
        }
        int baseNum = rm;
        if (rm == 4) {
            int sib = fetch(src, i++);
            d.scale = sib >>> 6;
            int idx = ((sib >>> 3) & 7) | ((d.rex & 2) << 2);
            d.index = idx == 4 ? -1 : idx; // index 100 without REX.X means none
            baseNum = sib & 7;
            if (baseNum == 5 && d.mod == 0) {
                d.base = -1;
                d.disp = le(src, i, 4);
                return i + 4;
            }
        } else if (rm == 5 && d.mod == 0) {
            d.disp = le(src, i, 4);
            d.ripRelative = long64;
            return i + 4;
        }
        d.base = baseNum | ((d.rex & 1) << 3);
        if (baseNum == 4 || baseNum == 5) d.defaultSeg = Cpu.SS;
        if (d.mod == 1) return i + dispAt(d, src, i, 1);
        if (d.mod == 2) {
            d.disp = le(src, i, 4);
            return i + 4;
        }
        return i;
    }

    private static int dispAt(Insn d, ByteSource src, int i, int n) {
        d.disp = (byte) fetch(src, i);
        return n;
    }

    private static int fetch(ByteSource src, int i) {
        if (i >= MAX_LENGTH) throw CpuFault.gp(0);
        return src.at(i) & 0xFF;
    }

    /** A little-endian signed value of {@code n} bytes (sign-extended from the top byte). */
    private static long le(ByteSource src, int i, int n) {
        long v = 0;
        for (int k = n - 1; k >= 0; k--) v = v << 8 | fetch(src, i + k);
        return n == 8 ? v : v << (64 - 8 * n) >> (64 - 8 * n);
    }
}
