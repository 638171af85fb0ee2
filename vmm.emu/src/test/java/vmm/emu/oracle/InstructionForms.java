package vmm.emu.oracle;

import static vmm.emu.oracle.Flags.AF;
import static vmm.emu.oracle.Flags.CF;
import static vmm.emu.oracle.Flags.OF;
import static vmm.emu.oracle.Flags.PF;
import static vmm.emu.oracle.Flags.SF;
import static vmm.emu.oracle.Flags.STATUS;
import static vmm.emu.oracle.Flags.ZF;
import static vmm.emu.oracle.X86State.RAX;
import static vmm.emu.oracle.X86State.RBX;
import static vmm.emu.oracle.X86State.RCX;
import static vmm.emu.oracle.X86State.RDI;
import static vmm.emu.oracle.X86State.RDX;
import static vmm.emu.oracle.X86State.RSI;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;
import vmm.emu.oracle.CaseBuilder.Case;

/**
 * The instruction forms the differential tests run in 64-bit and 32-bit code, each a generator of
 * random cases that cannot fault in user mode. A form is one opcode encoding (e.g. "add r/m, imm8 (83
 * /0)"); each case picks the operand size among those the encoding has, register or memory
 * operands, prefixes (66, 67, REX, no-op segments, LOCK where legal), operands and input flags.
 *
 * <p>What the Intel SDM (vol. 2, each instruction's "Flags Affected") leaves undefined is set on
 * the case, per instruction or from its operands, and not compared:
 * <table>
 * <caption>Undefined results (Intel SDM vol. 2)</caption>
 * <tr><th>instruction</th><th>undefined</th></tr>
 * <tr><td>AND, OR, XOR, TEST</td><td>AF</td></tr>
 * <tr><td>MUL, IMUL</td><td>SF, ZF, AF, PF</td></tr>
 * <tr><td>DIV, IDIV</td><td>CF, OF, SF, ZF, AF, PF</td></tr>
 * <tr><td>SHL, SHR, SAR (count &ne; 0)</td><td>AF; OF unless the count is 1; CF of SHL/SHR when the count
 *     is at least the operand size</td></tr>
 * <tr><td>ROL, ROR, RCL, RCR (count &ne; 0)</td><td>OF unless the count is 1</td></tr>
 * <tr><td>SHLD, SHRD (count &ne; 0)</td><td>AF; OF unless the count is 1 (counts above the size are not
 *     generated: result and flags undefined)</td></tr>
 * <tr><td>BT, BTS, BTR, BTC</td><td>OF, SF, AF, PF</td></tr>
 * <tr><td>BSF, BSR</td><td>CF, OF, SF, AF, PF; the destination when the source is 0</td></tr>
 * <tr><td>REP BSF (TZCNT with BMI1, BSF without)</td><td>all six: the two disagree on them</td></tr>
 * <tr><td>REP string ops, 32-bit addresses, ECX = 0</td><td>RCX, RSI, RDI: Intel CPUs clear their upper
 *     halves though nothing is repeated (not in the SDM)</td></tr>
 * </table>
 * Counts are the masked counts (5 bits, 6 with a 64-bit operand); a zero count leaves every flag.
 */
public final class InstructionForms {
    static final String[] ALU = {"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"};
    static final String[] SHIFT = {"rol", "ror", "rcl", "rcr", "shl", "shr", null, "sar"};
    /** Condition codes in encoding order (SDM vol. 1, appendix B), as objdump spells them. */
    static final String[] CC = {"o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"};

    /** Makes one case of a form: registers, operands and bytes, on a fresh builder. */
    interface Maker {
        void make(CaseBuilder c);
    }

    /**
     * An instruction form: a name for reports, objdump's mnemonic for it (a regular expression; null
     * for a form of two instructions) and the generator of its cases.
     */
    public record Form(String name, String mnemonic, Mode mode, Maker maker) {
        /** A random case of this form whose memory operands lie in the scratch buffer at {@code scratch}. */
        public Case make(RandomGenerator rnd, long scratch) {
            CaseBuilder c = new CaseBuilder(rnd, scratch, mode == Mode.BITS32);
            maker.make(c);
            return c.build(this);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    private final List<Form> forms = new ArrayList<>();
    private final Mode mode;

    private InstructionForms(Mode mode) {
        this.mode = mode;
    }

    /**
     * Every form, in a fixed order: the 64-bit forms, then the same in 32-bit code (less MOVSXD,
     * which is ARPL there) with the BCD/ASCII adjusts and the one-byte INC/DEC added.
     */
    public static List<Form> all() {
        List<Form> all = new ArrayList<>(of(Mode.BITS64));
        all.addAll(of(Mode.BITS32));
        return List.copyOf(all);
    }

    /** The forms of one mode: {@link Mode#BITS64} or {@link Mode#BITS32}. */
    public static List<Form> of(Mode mode) {
        InstructionForms f = new InstructionForms(mode);
        if (mode == Mode.BITS32) Forms32.add(f);
        f.alu();
        f.unary();
        f.multiplyDivide();
        f.shifts();
        f.bits();
        f.conditional();
        f.moves();
        f.exchanges();
        f.strings();
        f.flagOps();
        List<Form> single = List.copyOf(f.forms);
        Branches.add(f);
        FlagChains.add(f, single);
        SseForms.add(f);
        MmxForms.add(f);
        return List.copyOf(f.forms);
    }

    Mode mode() {
        return mode;
    }

    void add(String name, String mnemonic, Maker maker) {
        if (mode == Mode.BITS32 && name.startsWith("movsxd")) return;
        forms.add(new Form(mode == Mode.BITS32 ? name + " [32-bit]" : name, mnemonic, mode, maker));
    }

    /** An operand size of a form with 16/32/64-bit forms: 64 only in 64-bit code. */
    static int wide(CaseBuilder c) {
        if (c.legacy32) return c.rnd.nextBoolean() ? 16 : 32;
        return switch (c.rnd.nextInt(3)) { case 0 -> 16; case 1 -> 32; default -> 64; };
    }

    /** 32 or 64 in 64-bit code, 32 in 32-bit code. */
    private static int dwordOrQword(CaseBuilder c) {
        return c.legacy32 || c.rnd.nextBoolean() ? 32 : 64;
    }

    /** The immediate size of an "iz" operand: 2 bytes for 16-bit, else 4 (sign-extended for 64). */
    private static int iz(int size) {
        return size == 16 ? 2 : 4;
    }

    private static void lockIfMemory(CaseBuilder c, boolean lockable) {
        c.lock = lockable && c.memory && c.rnd.nextInt(3) == 0;
    }

    // ---- ADD OR ADC SBB AND SUB XOR CMP, TEST ----

    private void alu() {
        for (int op = 0; op < 8; op++) {
            final int o = op;
            String m = ALU[op];
            long undefined = (op == 1 || op == 4 || op == 6) ? AF : 0;   // OR AND XOR: AF undefined
            boolean lockable = op != 7;
            add(m + " r/m8, r8 (" + hex(8 * o) + " /r)", m, c -> {
                c.chooseRm(8, true, 0);
                lockIfMemory(c, lockable);
                c.modrm(8, c.register(8), 8 * o);
                c.undefinedFlags = undefined;
            });
            add(m + " r/m, r (" + hex(8 * o + 1) + " /r)", m, c -> {
                int size = wide(c);
                c.chooseRm(size, true, 0);
                lockIfMemory(c, lockable);
                c.modrm(size, c.register(size), 8 * o + 1);
                c.undefinedFlags = undefined;
            });
            add(m + " r8, r/m8 (" + hex(8 * o + 2) + " /r)", m, c -> {
                c.chooseRm(8, true, 0);
                c.modrm(8, c.register(8), 8 * o + 2);
                c.undefinedFlags = undefined;
            });
            add(m + " r, r/m (" + hex(8 * o + 3) + " /r)", m, c -> {
                int size = wide(c);
                c.chooseRm(size, true, 0);
                c.modrm(size, c.register(size), 8 * o + 3);
                c.undefinedFlags = undefined;
            });
            add(m + " al, imm8 (" + hex(8 * o + 4) + " ib)", m, c -> {
                c.b(8 * o + 4).imm(1, c.value(8));
                c.undefinedFlags = undefined;
            });
            add(m + " eax, imm (" + hex(8 * o + 5) + " iz)", m, c -> {
                int size = wide(c);
                c.rex = size == 64;
                c.legacy(size).rexPrefix(size, 0, 0, 0).b(8 * o + 5).imm(iz(size), c.value(32));
                c.undefinedFlags = undefined;
            });
            add(m + " r/m8, imm8 (80 /" + o + " ib)", m, c -> {
                c.chooseRm(8, true, 0);
                lockIfMemory(c, lockable);
                c.modrm(8, o, 0x80).imm(1, c.value(8));
                c.undefinedFlags = undefined;
            });
            add(m + " r/m, imm (81 /" + o + " iz)", m, c -> {
                int size = wide(c);
                c.chooseRm(size, true, 0);
                lockIfMemory(c, lockable);
                c.modrm(size, o, 0x81).imm(iz(size), c.value(32));
                c.undefinedFlags = undefined;
            });
            add(m + " r/m, imm8 (83 /" + o + " ib)", m, c -> {
                int size = wide(c);
                c.chooseRm(size, true, 0);
                lockIfMemory(c, lockable);
                c.modrm(size, o, 0x83).imm(1, c.value(8));
                c.undefinedFlags = undefined;
            });
        }
        add("test r/m8, r8 (84 /r)", "test", c -> {
            c.chooseRm(8, true, 0);
            c.modrm(8, c.register(8), 0x84);
            c.undefinedFlags = AF;
        });
        add("test r/m, r (85 /r)", "test", c -> {
            int size = wide(c);
            c.chooseRm(size, true, 0);
            c.modrm(size, c.register(size), 0x85);
            c.undefinedFlags = AF;
        });
        add("test al, imm8 (a8 ib)", "test", c -> {
            c.b(0xA8).imm(1, c.value(8));
            c.undefinedFlags = AF;
        });
        add("test eax, imm (a9 iz)", "test", c -> {
            int size = wide(c);
            c.rex = size == 64;
            c.legacy(size).rexPrefix(size, 0, 0, 0).b(0xA9).imm(iz(size), c.value(32));
            c.undefinedFlags = AF;
        });
        add("test r/m8, imm8 (f6 /0 ib)", "test", c -> {
            c.chooseRm(8, true, 0);
            c.modrm(8, 0, 0xF6).imm(1, c.value(8));
            c.undefinedFlags = AF;
        });
        add("test r/m, imm (f7 /0 iz)", "test", c -> {
            int size = wide(c);
            c.chooseRm(size, true, 0);
            c.modrm(size, 0, 0xF7).imm(iz(size), c.value(32));
            c.undefinedFlags = AF;
        });
    }

    // ---- INC DEC NOT NEG ----

    private void unary() {
        String[][] ops = {{"inc", "fe", "ff", "0"}, {"dec", "fe", "ff", "1"}, {"not", "f6", "f7", "2"},
            {"neg", "f6", "f7", "3"}};
        for (String[] op : ops) {
            int digit = Integer.parseInt(op[3]);
            int op8 = Integer.parseInt(op[1], 16), opWide = Integer.parseInt(op[2], 16);
            add(op[0] + " r/m8 (" + op[1] + " /" + digit + ")", op[0], c -> {
                c.chooseRm(8, true, 0);
                lockIfMemory(c, true);
                c.modrm(8, digit, op8);
            });
            add(op[0] + " r/m (" + op[2] + " /" + digit + ")", op[0], c -> {
                int size = wide(c);
                c.chooseRm(size, true, 0);
                lockIfMemory(c, true);
                c.modrm(size, digit, opWide);
            });
        }
    }

    // ---- MUL IMUL DIV IDIV ----

    private void multiplyDivide() {
        for (int digit = 4; digit <= 5; digit++) {
            final int d = digit;
            String m = d == 4 ? "mul" : "imul";
            add(m + " r/m8 (f6 /" + d + ")", m, c -> {
                c.chooseRm(8, true, 0);
                c.modrm(8, d, 0xF6);
                c.undefinedFlags = SF | ZF | AF | PF;
            });
            add(m + " r/m (f7 /" + d + ")", m, c -> {
                int size = wide(c);
                c.chooseRm(size, true, 0);
                c.modrm(size, d, 0xF7);
                c.undefinedFlags = SF | ZF | AF | PF;
            });
        }
        add("imul r, r/m (0f af /r)", "imul", c -> {
            int size = wide(c);
            c.chooseRm(size, true, 0);
            c.modrm(size, c.register(size), 0x0F, 0xAF);
            c.undefinedFlags = SF | ZF | AF | PF;
        });
        add("imul r, r/m, imm8 (6b /r ib)", "imul", c -> {
            int size = wide(c);
            c.chooseRm(size, true, 0);
            c.modrm(size, c.register(size), 0x6B).imm(1, c.value(8));
            c.undefinedFlags = SF | ZF | AF | PF;
        });
        add("imul r, r/m, imm (69 /r iz)", "imul", c -> {
            int size = wide(c);
            c.chooseRm(size, true, 0);
            c.modrm(size, c.register(size), 0x69).imm(iz(size), c.value(32));
            c.undefinedFlags = SF | ZF | AF | PF;
        });
        for (int digit = 6; digit <= 7; digit++) {
            final boolean signed = digit == 7;
            final int d = digit;
            String m = signed ? "idiv" : "div";
            add(m + " r/m8 (f6 /" + d + ")", m, c -> divide(c, 8, signed, d));
            add(m + " r/m (f7 /" + d + ")", m, c -> divide(c, wide(c), signed, d));
        }
    }

    /**
     * A division that cannot raise #DE: a nonzero divisor (never RAX or RDX, which hold the
     * dividend) and a dividend whose quotient fits, checked exactly and drawn again until it does.
     */
    private static void divide(CaseBuilder c, int size, boolean signed, int digit) {
        c.chooseRm(size, true, 1 << RAX | 1 << RDX);
        c.modrm(size, digit, size == 8 ? 0xF6 : 0xF7);
        c.undefinedFlags = STATUS;
        for (int attempt = 0; ; attempt++) {
            long divisor = c.value(size);
            if (divisor == 0) continue;
            c.writeRm(size, divisor);
            long low = c.value(size);
            long high = switch (c.rnd.nextInt(3)) {
                case 0 -> signed ? (signExtend(low, size) < 0 ? -1 : 0) : 0;
                case 1 -> c.rnd.nextLong();
                default -> c.rnd.nextInt(4) - 2;
            };
            if (size == 8) {
                c.in.gpr[RAX] = c.in.gpr[RAX] & ~0xFFFFL | (high & 0xFF) << 8 | low & 0xFF;
            } else {
                CaseBuilder.writeRegister(c.in, RAX, size, true, low);
                CaseBuilder.writeRegister(c.in, RDX, size, true, high);
            }
            if (quotientFits(c.in, size, signed, c.readRm(c.in, size))) return;
            if (attempt > 10_000) throw new IllegalStateException("no division without #DE");
        }
    }

    private static boolean quotientFits(X86State s, int size, boolean signed, long divisorBits) {
        long lowBits = size == 8 ? s.gpr[RAX] & 0xFF : CaseBuilder.readRegister(s, RAX, size, true);
        long highBits = size == 8 ? s.gpr[RAX] >>> 8 & 0xFF : CaseBuilder.readRegister(s, RDX, size, true);
        BigInteger dividend = BigInteger.valueOf(highBits).and(mask(size)).shiftLeft(size)
                .or(BigInteger.valueOf(lowBits).and(mask(size)));
        BigInteger divisor = BigInteger.valueOf(divisorBits).and(mask(size));
        if (divisor.signum() == 0) return false;
        if (signed) {
            if (dividend.testBit(2 * size - 1)) dividend = dividend.subtract(BigInteger.ONE.shiftLeft(2 * size));
            if (divisor.testBit(size - 1)) divisor = divisor.subtract(BigInteger.ONE.shiftLeft(size));
            BigInteger q = dividend.divide(divisor);      // truncates toward zero, as IDIV does
            return q.bitLength() < size;                  // fits in a signed size-bit register
        }
        return dividend.divide(divisor).bitLength() <= size;
    }

    private static BigInteger mask(int size) {
        return BigInteger.ONE.shiftLeft(size).subtract(BigInteger.ONE);
    }

    static long signExtend(long v, int size) {
        return size == 64 ? v : v << (64 - size) >> (64 - size);
    }

    // ---- shifts and rotates, SHLD SHRD ----

    private void shifts() {
        String[] kinds = {"1", "cl", "imm8"};
        for (int op = 0; op < 8; op++) {
            if (SHIFT[op] == null) continue;
            final int o = op;
            for (int k = 0; k < 3; k++) {
                final int kind = k;
                int op8 = new int[] {0xD0, 0xD2, 0xC0}[k];
                add(SHIFT[o] + " r/m, " + kinds[k] + " (" + hex(op8) + "/" + hex(op8 + 1) + " /" + o + ")",
                        SHIFT[o] + (o == 4 ? "|sal" : ""), c -> {
                    int size = c.rnd.nextInt(4) == 0 ? 8 : wide(c);
                    c.chooseRm(size, true, kind == 1 ? 1 << RCX : 0);
                    int count = kind == 0 ? 1 : c.rnd.nextInt(3) == 0 ? c.rnd.nextInt(256) : c.rnd.nextInt(size + 3);
                    if (kind == 1) c.in.gpr[RCX] = c.in.gpr[RCX] & ~0xFFL | count;   // CL; never the operand
                    c.modrm(size, o, size == 8 ? op8 : op8 + 1);
                    if (kind == 2) c.imm(1, count);
                    c.undefinedFlags = shiftUndefined(o, size, count);
                });
            }
        }
        for (int i = 0; i < 4; i++) {
            final boolean right = i >= 2, byCl = (i & 1) == 1;
            String m = right ? "shrd" : "shld";
            int opcode = (right ? 0xAC : 0xA4) + (byCl ? 1 : 0);
            add(m + " r/m, r, " + (byCl ? "cl" : "imm8") + " (0f " + hex(opcode) + ")", m, c -> {
                int size = wide(c);
                c.chooseRm(size, true, byCl ? 1 << RCX : 0);
                int src;
                do src = c.register(size); while (byCl && src == RCX);
                int count;
                do count = c.rnd.nextInt(2) == 0 ? c.rnd.nextInt(256) : c.rnd.nextInt(size + 2);
                while (size == 16 && (count & 31) > 16);  // above the size: result and flags undefined
                if (byCl) c.in.gpr[RCX] = c.in.gpr[RCX] & ~0xFFL | count;
                c.modrm(size, src, 0x0F, opcode);
                if (!byCl) c.imm(1, count);
                int masked = count & (size == 64 ? 63 : 31);
                c.undefinedFlags = masked == 0 ? 0 : AF | (masked == 1 ? 0 : OF);
            });
        }
    }

    /** The SDM's undefined flags of a shift or rotate by {@code count}. */
    static long shiftUndefined(int op, int size, int count) {
        int masked = count & (size == 64 ? 63 : 31);
        if (masked == 0) return 0;
        long undefined = masked == 1 ? 0 : OF;
        if (op >= 4) {
            undefined |= AF;
            if ((op == 4 || op == 5) && masked >= size) undefined |= CF;
        }
        return undefined;
    }

    // ---- BT BTS BTR BTC, BSF BSR, SETcc, CMOVcc ----

    private void bits() {
        String[] bt = {"bt", "bts", "btr", "btc"};
        for (int i = 0; i < 4; i++) {
            final int n = i;
            int opcode = new int[] {0xA3, 0xAB, 0xB3, 0xBB}[i];
            add(bt[i] + " r/m, r (0f " + hex(opcode) + ")", bt[i], c -> {
                int size = wide(c);
                c.chooseRm(size, true, 0);
                lockIfMemory(c, n != 0);
                int r;
                do r = c.register(size); while (c.addresses(r));
                // a memory bit string reaches offset/8 bytes away: stay within the margin
                long bitOffset = c.memory ? c.rnd.nextInt(-8 * (CaseBuilder.MARGIN - 8), 8 * (CaseBuilder.MARGIN - 8))
                        : c.value(64);
                CaseBuilder.writeRegister(c.in, r, size, true, bitOffset);
                c.modrm(size, r, 0x0F, opcode);
                c.undefinedFlags = OF | SF | AF | PF;
            });
            add(bt[i] + " r/m, imm8 (0f ba /" + (4 + i) + ")", bt[i], c -> {
                int size = wide(c);
                c.chooseRm(size, true, 0);
                lockIfMemory(c, n != 0);
                c.modrm(size, 4 + n, 0x0F, 0xBA).imm(1, c.rnd.nextInt(256));
                c.undefinedFlags = OF | SF | AF | PF;
            });
        }
        for (int i = 0; i < 2; i++) {
            String m = i == 0 ? "bsf" : "bsr";
            int opcode = 0xBC + i;
            add(m + " r, r/m (0f " + hex(opcode) + ")", m, c -> {
                int size = wide(c);
                c.chooseRm(size, true, 0);
                int r = c.register(size);
                c.modrm(size, r, 0x0F, opcode);
                c.undefinedFlags = CF | OF | SF | AF | PF;
                if (c.readRm(c.in, size) == 0) c.undefinedRegs = 1 << r;
            });
        }
        // TZCNT where BMI1 is; BSF (the prefix ignored) where it is not, as in the model: for a source
        // other than 0 both give the index of the lowest set bit; their flags differ
        add("rep bsf r, r/m, source not 0 (f3 0f bc)", "tzcnt", c -> {
            int size = wide(c);
            c.chooseRm(size, true, 0);
            c.mandatory = 0xF3;
            c.modrm(size, c.register(size), 0x0F, 0xBC);
            if ((c.readRm(c.in, size) & (size == 64 ? -1L : (1L << size) - 1)) == 0) {
                c.writeRm(size, 1L << c.rnd.nextInt(size));
            }
            c.undefinedFlags = STATUS;
        });
    }

    private void conditional() {
        for (int cc = 0; cc < 16; cc++) {
            final int k = cc;
            add("set" + CC[cc] + " r/m8 (0f " + hex(0x90 + cc) + ")", "set" + CC[cc], c -> {
                c.chooseRm(8, true, 0);
                c.modrm(8, 0, 0x0F, 0x90 + k);
            });
        }
        for (int cc = 0; cc < 16; cc++) {
            final int k = cc;
            add("cmov" + CC[cc] + " r, r/m (0f " + hex(0x40 + cc) + ")", "cmov" + CC[cc], c -> {
                int size = wide(c);
                c.chooseRm(size, true, 0);
                c.modrm(size, c.register(size), 0x0F, 0x40 + k);
            });
        }
    }

    // ---- MOV MOVZX MOVSX MOVSXD LEA CBW CWD BSWAP ----

    private void moves() {
        add("mov r/m8, r8 (88 /r)", "mov", c -> {
            c.chooseRm(8, true, 0);
            c.modrm(8, c.register(8), 0x88);
        });
        add("mov r/m, r (89 /r)", "mov", c -> {
            int size = wide(c);
            c.chooseRm(size, true, 0);
            c.modrm(size, c.register(size), 0x89);
        });
        add("mov r8, r/m8 (8a /r)", "mov", c -> {
            c.chooseRm(8, true, 0);
            c.modrm(8, c.register(8), 0x8A);
        });
        add("mov r, r/m (8b /r)", "mov", c -> {
            int size = wide(c);
            c.chooseRm(size, true, 0);
            c.modrm(size, c.register(size), 0x8B);
        });
        add("mov r/m8, imm8 (c6 /0 ib)", "mov", c -> {
            c.chooseRm(8, true, 0);
            c.modrm(8, 0, 0xC6).imm(1, c.value(8));
        });
        add("mov r/m, imm (c7 /0 iz)", "mov", c -> {
            int size = wide(c);
            c.chooseRm(size, true, 0);
            c.modrm(size, 0, 0xC7).imm(iz(size), c.value(32));
        });
        add("mov r8, imm8 (b0+r ib)", "mov", c -> {
            c.chooseRmExactly(8, false, 0);
            c.rexPrefix(8, 0, c.rm, 0).b(0xB0 + (c.rm & 7)).imm(1, c.value(8));
        });
        add("mov r, imm (b8+r iw/id/io)", "movabs|mov", c -> {
            int size = wide(c);
            c.chooseRmExactly(size, false, 0);
            c.legacy(size).rexPrefix(size, 0, c.rm, 0).b(0xB8 + (c.rm & 7)).imm(size / 8, c.value(size));
        });
        for (int op = 0xA0; op <= 0xA3; op++) {
            final int opcode = op;
            boolean store = op >= 0xA2, bytes8 = (op & 1) == 0;
            add("mov " + (store ? "moffs, " + (bytes8 ? "al" : "eax") : (bytes8 ? "al" : "eax") + ", moffs") + " ("
                    + hex(op) + ")", "mov|movabs", c -> {
                // the address is the instruction's own: 8 bytes in 64-bit code (4 with a 67), 4 in 32-bit code
                int size = bytes8 ? 8 : wide(c);
                boolean addr32 = c.legacy32 || c.rnd.nextInt(4) == 0;
                long address = c.scratch
                        + c.rnd.nextInt(CaseBuilder.MARGIN, X86State.SCRATCH_SIZE - CaseBuilder.MARGIN);
                if (size == 16) c.b(0x66);
                if (addr32 && !c.legacy32) c.b(0x67);
                if (size == 64) c.b(0x48);
                c.b(opcode).imm(addr32 ? 4 : 8, address);
            });
        }
        String[][] ext = {{"movzx", "b6", "8"}, {"movzx", "b7", "16"}, {"movsx", "be", "8"}, {"movsx", "bf", "16"}};
        for (String[] e : ext) {
            int opcode = Integer.parseInt(e[1], 16), from = Integer.parseInt(e[2]);
            add(e[0] + " r, r/m" + from + " (0f " + e[1] + ")", e[0], c -> {
                int size = from == 8 ? wide(c) : dwordOrQword(c);
                c.rex = size == 64;     // REX.W also turns the AH..BH sources into SPL..DIL: decide first
                c.chooseRm(from, true, 0);
                c.modrm(size, c.register(size), 0x0F, opcode);
            });
        }
        add("movsxd r64, r/m32 (rex.w 63 /r)", "movsxd", c -> {
            c.chooseRm(32, true, 0);
            c.modrm(64, c.register(64), 0x63);
        });
        add("lea r, m (8d /r)", "lea", c -> {
            int size = wide(c);
            c.chooseRmExactly(size, true, 0);
            c.randomAddressRegisters();
            c.modrm(size, c.register(size), 0x8D);
        });
        add("cbw/cwde/cdqe (98)", "cbw|cwde|cdqe", c -> {
            int size = wide(c);
            c.rex = size == 64;
            c.legacy(size).rexPrefix(size, 0, 0, 0).b(0x98);
        });
        add("cwd/cdq/cqo (99)", "cwd|cdq|cqo", c -> {
            int size = wide(c);
            c.rex = size == 64;
            c.legacy(size).rexPrefix(size, 0, 0, 0).b(0x99);
        });
        add("bswap r (0f c8+r)", "bswap", c -> {
            int size = dwordOrQword(c);
            c.chooseRmExactly(size, false, 0);
            c.rexPrefix(size, 0, c.rm, 0).b(0x0F, 0xC8 + (c.rm & 7));
        });
    }

    // ---- XCHG XADD CMPXCHG ----

    private void exchanges() {
        add("cmpxchg8b m64 (0f c7 /1)", "cmpxchg8b", c -> {
            c.chooseRmExactly(32, true, 1 << RAX | 1 << RCX | 1 << RDX | 1 << RBX);
            lockIfMemory(c, true);
            c.modrm(32, 1, 0x0F, 0xC7);
            if (c.rnd.nextBoolean()) {           // the equal case, which stores ECX:EBX
                long m = CaseBuilder.readMemory(c.in, c.offset(), 64);
                c.in.gpr[RAX] = c.rnd.nextLong() << 32 | m & 0xFFFF_FFFFL;
                c.in.gpr[RDX] = c.rnd.nextLong() << 32 | m >>> 32;
            }
        });
        add("xlat (d7)", "xlat", c -> {
            boolean addr32 = !c.legacy32 && c.rnd.nextInt(4) == 0;
            c.in.gpr[RBX] = c.scratch + c.rnd.nextInt(X86State.SCRATCH_SIZE - 256);
            if (addr32) c.in.gpr[RBX] |= c.rnd.nextLong() << 32;     // EBX only
            if (addr32) c.b(0x67);
            if (!c.legacy32 && c.rnd.nextBoolean()) c.b(0x48);         // REX.W changes nothing
            c.b(0xD7);
        });
        add("xchg r/m8, r8 (86 /r)", "xchg", c -> {
            c.chooseRm(8, true, 0);
            c.modrm(8, c.register(8), 0x86);
        });
        add("xchg r/m, r (87 /r)", "xchg", c -> {
            int size = wide(c);
            c.chooseRm(size, true, 0);
            c.modrm(size, c.register(size), 0x87);
        });
        add("xchg eax, r (90+r)", "xchg", c -> {
            int size = wide(c);
            do c.chooseRmExactly(size, false, 0); while (c.rm == RAX);   // 90 itself is NOP
            c.legacy(size).rexPrefix(size, 0, c.rm, 0).b(0x90 + (c.rm & 7));
        });
        for (int wide = 0; wide < 2; wide++) {
            final boolean w = wide == 1;
            add("xadd r/m" + (w ? "" : "8") + ", r (0f " + (w ? "c1" : "c0") + ")", "xadd", c -> {
                int size = w ? wide(c) : 8;
                c.chooseRm(size, true, 0);
                lockIfMemory(c, true);
                c.modrm(size, c.register(size), 0x0F, w ? 0xC1 : 0xC0);
            });
            add("cmpxchg r/m" + (w ? "" : "8") + ", r (0f " + (w ? "b1" : "b0") + ")", "cmpxchg", c -> {
                int size = w ? wide(c) : 8;
                c.chooseRm(size, true, 1 << RAX);
                lockIfMemory(c, true);
                c.modrm(size, c.register(size), 0x0F, w ? 0xB1 : 0xB0);
                if (c.rnd.nextBoolean()) {        // the equal case, which stores
                    CaseBuilder.writeRegister(c.in, RAX, size, true, c.readRm(c.in, size));
                }
            });
        }
    }

    // ---- MOVS STOS LODS CMPS SCAS, with REP / REPE / REPNE ----

    private void strings() {
        String[] names = {"movs", "cmps", "stos", "lods", "scas"};
        int[] opcodes = {0xA4, 0xA6, 0xAA, 0xAC, 0xAE};
        for (int i = 0; i < names.length; i++) {
            final int opcode = opcodes[i];
            boolean compares = opcode == 0xA6 || opcode == 0xAE;
            int[] reps = compares ? new int[] {0, 0xF3, 0xF2} : new int[] {0, 0xF3};
            for (int rep : reps) {
                String prefix = rep == 0 ? "" : rep == 0xF2 ? "repne " : compares ? "repe " : "rep ";
                add(prefix + names[i] + " (" + (rep == 0 ? "" : hex(rep) + " ") + hex(opcode) + "/" + hex(opcode + 1)
                        + ")", names[i], c -> {
                    int size = c.rnd.nextInt(4) == 0 ? 8 : wide(c);
                    boolean addr32 = !c.legacy32 && c.rnd.nextInt(4) == 0;     // 67 in 32-bit code: 16-bit SI/DI
                    c.in.gpr[RSI] = c.scratch + c.rnd.nextInt(X86State.SCRATCH_SIZE / 4, 3 * X86State.SCRATCH_SIZE / 4);
                    c.in.gpr[RDI] = c.scratch + c.rnd.nextInt(X86State.SCRATCH_SIZE / 4, 3 * X86State.SCRATCH_SIZE / 4);
                    if (rep != 0) c.in.gpr[RCX] = c.rnd.nextInt(13);
                    if (addr32) {                 // ESI, EDI, ECX only: garbage above them
                        c.in.gpr[RSI] |= c.rnd.nextLong() << 32;
                        c.in.gpr[RDI] |= c.rnd.nextLong() << 32;
                        if (rep != 0) c.in.gpr[RCX] |= c.rnd.nextLong() << 32;
                        // Intel's quirk (not in the SDM; KVM's emulator copies it as string_registers_quirk):
                        // a REP with ECX = 0 still clears the upper halves of RCX and of the pointers
                        if (rep != 0 && (int) c.in.gpr[RCX] == 0) c.undefinedRegs = 1 << RCX | 1 << RSI | 1 << RDI;
                    }
                    if (c.rnd.nextInt(4) == 0) c.b(0x26 + 8 * c.rnd.nextInt(4));    // ES CS SS DS: no-ops
                    if (size == 16) c.b(0x66);
                    if (addr32) c.b(0x67);
                    if (rep != 0) c.b(rep);
                    if (size == 64) c.b(0x48);
                    c.b(size == 8 ? opcode : opcode + 1);
                });
            }
        }
    }

    // ---- CLC STC CMC CLD STD LAHF SAHF ----

    private void flagOps() {
        String[] names = {"clc", "stc", "cmc", "cld", "std", "lahf", "sahf"};
        int[] opcodes = {0xF8, 0xF9, 0xF5, 0xFC, 0xFD, 0x9F, 0x9E};
        for (int i = 0; i < names.length; i++) {
            final int opcode = opcodes[i];
            add(names[i] + " (" + hex(opcode) + ")", names[i], c -> c.b(opcode));
        }
    }

    private static String hex(int v) {
        return String.format("%02x", v);
    }
}
