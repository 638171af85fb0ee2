package vmm.emu.oracle;

import java.io.ByteArrayOutputStream;
import java.util.random.RandomGenerator;

/**
 * Builds one 64-bit-mode test case: random registers, flags and scratch bytes, then the encoding
 * of one instruction with its ModRM operands chosen so the instruction cannot fault. Memory
 * operands address the scratch buffer (base, optional scaled index, displacement, sometimes a
 * 67 address-size prefix with garbage in the base's upper half); registers never include RSP
 * (nor SPL as an 8-bit register).
 */
final class CaseBuilder {
    /** Bytes either side of a memory operand kept inside the scratch buffer. */
    static final int MARGIN = 64;
    /** Segment prefixes with flat segments behind them (FS and GS have bases: never); CS last. */
    private static final int[] NULL_SEGMENTS = {0x26, 0x36, 0x3E, 0x2E};

    final RandomGenerator rnd;
    final long scratch;
    final X86State in = new X86State();
    long undefinedFlags;
    int undefinedRegs;
    /** For a form of two instructions, the form of the first (see {@link FlagChains}); else null. */
    String first;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    // the r/m operand of the instruction being built
    boolean memory;
    int rm;                  // register number when !memory
    long address;            // linear address when memory
    boolean rex;             // a REX prefix is emitted (decides AH..BH vs SPL..DIL)
    private int base = -1, index = -1, scale, dispSize;
    private long disp;
    private boolean addr32;
    /** Emit a LOCK prefix (the caller sets it only for a lockable form with a memory destination). */
    boolean lock;
    /** A mandatory prefix (F3) to emit after the others, right before any REX; 0 for none. */
    int mandatory;

    /** 32-bit code: no REX, registers 0..7, 32-bit addresses only (a 67 would make them 16-bit). */
    final boolean legacy32;

    CaseBuilder(RandomGenerator rnd, long scratch, boolean legacy32) {
        this.rnd = rnd;
        this.scratch = scratch;
        this.legacy32 = legacy32;
        for (int r = 0; r < 16; r++) in.gpr[r] = r == X86State.RSP ? 0 : value(64);
        in.rflags = rnd.nextLong() & Flags.COMPARED;
        rnd.nextBytes(in.scratch);
    }

    /** A value of {@code bits} bits biased toward the edges: 0, 1, all ones, the sign boundary, small. */
    long value(int bits) {
        long v = switch (rnd.nextInt(12)) {
            case 0 -> 0;
            case 1 -> 1;
            case 2 -> -1;
            case 3 -> 1L << (bits - 1);
            case 4 -> (1L << (bits - 1)) - 1;
            case 5 -> rnd.nextInt(16);
            case 6 -> -rnd.nextInt(16);
            case 7 -> 1L << rnd.nextInt(bits);
            default -> rnd.nextLong();
        };
        return bits == 64 ? v : v & ((1L << bits) - 1);
    }

    /**
     * A general register for a ModRM reg operand of {@code size} bits: never RSP, nor SPL. Without
     * a REX only 0..7 (for 8 bits, 4..7 are AH..BH), so the r/m operand keeps its meaning.
     */
    int register(int size) {
        while (true) {
            int r = rnd.nextInt(rex ? 16 : 8);
            if (r == X86State.RSP && (size != 8 || rex)) continue;
            return r;
        }
    }

    /** True when register {@code r} holds part of the memory operand's address. */
    boolean addresses(int r) {
        return memory && (r == base || r == index);
    }

    /** Gives the address registers of a memory operand random values: for LEA, which reads no memory. */
    void randomAddressRegisters() {
        if (base >= 0) in.gpr[base] = value(64);
        if (index >= 0) in.gpr[index] = value(64);
    }

    /**
     * Chooses the r/m operand before anything is emitted: a register, or (when {@code mayUseMemory}
     * and by chance) a scratch location of {@code bytes} bytes whose base and index registers avoid
     * {@code avoid} (a mask of register numbers the instruction uses implicitly).
     */
    void chooseRm(int size, boolean mayUseMemory, int avoid) {
        chooseRmExactly(size, mayUseMemory && rnd.nextBoolean(), avoid);
    }

    /** As {@link #chooseRm(int, boolean, int)}, with the choice of memory made by the caller. */
    void chooseRmExactly(int size, boolean useMemory, int avoid) {
        memory = useMemory;
        rex = !legacy32 && (rex || size == 64 || rnd.nextBoolean());     // a form may have decided it already
        if (!memory) {
            do rm = register(size); while ((avoid & 1 << physical(rm, size)) != 0);
            return;
        }
        addr32 = !legacy32 && rnd.nextInt(6) == 0;
        int regs = legacy32 ? 8 : 16;
        do base = rnd.nextInt(regs); while (base == X86State.RSP || (avoid & 1 << base) != 0);
        index = -1;
        if (rnd.nextInt(3) == 0) {
            do index = rnd.nextInt(regs); while (index == X86State.RSP || index == base || (avoid & 1 << index) != 0);
            scale = rnd.nextInt(4);
        }
        int kind = rnd.nextInt(3);
        // mod 00 with base 101 (RBP, R13) means disp32 / RIP-relative: give them a displacement
        if (kind == 0 && (base & 7) == 5) kind = 1;
        dispSize = kind == 0 ? 0 : kind == 1 ? 1 : 4;
        disp = dispSize == 0 ? 0 : dispSize == 1 ? (byte) rnd.nextInt() : rnd.nextInt(-100_000, 100_000);
        long offset = rnd.nextLong(MARGIN, X86State.SCRATCH_SIZE - MARGIN);
        address = scratch + offset;
        long indexValue = 0;
        if (index >= 0) {
            indexValue = rnd.nextInt(-64, 64);
            in.gpr[index] = indexValue;
        }
        long baseValue = address - disp - (indexValue << scale);
        if (addr32) {                  // only the low half counts: put garbage in the upper one
            baseValue = (baseValue & 0xFFFF_FFFFL) | (rnd.nextLong() & 0xFFFF_FFFF_0000_0000L);
            if (index >= 0) in.gpr[index] = indexValue & 0xFFFF_FFFFL | rnd.nextLong() << 32;
        }
        in.gpr[base] = baseValue;
        if (base >= 8 || index >= 8) rex = true;      // and so 8-bit registers 4..7 are SPL..DIL
    }

    /** The full register an operand register number names: AH..BH are parts of RAX..RBX. */
    int physical(int r, int size) {
        return size == 8 && !rex && r >= 4 && r < 8 ? r - 4 : r;
    }

    /** The scratch offset of the memory operand. */
    int offset() {
        return (int) (address - scratch);
    }

    /** Emits a byte. */
    CaseBuilder b(int... bytes) {
        for (int x : bytes) out.write(x);
        return this;
    }

    /**
     * Emits the prefixes, REX and opcode and ModRM/SIB/displacement of an instruction with the
     * chosen r/m operand; {@code reg} is the ModRM reg field (a register number or an opcode
     * extension).
     */
    CaseBuilder modrm(int size, int reg, int... opcode) {
        legacy(size);
        rexPrefix(size, reg, memory ? base : rm, memory ? Math.max(index, 0) : 0);
        b(opcode);
        if (!memory) return b(0xC0 | (reg & 7) << 3 | (rm & 7));
        int mod = dispSize == 0 ? 0 : dispSize == 1 ? 1 : 2;
        if (index < 0 && (base & 7) != 4) {
            b(mod << 6 | (reg & 7) << 3 | (base & 7));
        } else {               // a SIB: an index (100 = none), or a base of RSP/R12 needs one
            int idx = index < 0 ? 4 : index & 7;
            b(mod << 6 | (reg & 7) << 3 | 4, (index < 0 ? 0 : scale) << 6 | idx << 3 | (base & 7));
        }
        return imm(dispSize, disp);
    }

    /** Emits the legacy prefixes of an instruction: segment (a no-op one, sometimes), 66, 67, LOCK. */
    CaseBuilder legacy(int size) {
        // in 32-bit code CS is not writable: only ES, SS and DS there
        if (memory && rnd.nextInt(8) == 0) b(NULL_SEGMENTS[rnd.nextInt(legacy32 ? 3 : NULL_SEGMENTS.length)]);
        if (size == 16) b(0x66);
        if (memory && addr32) b(0x67);
        if (lock) b(0xF0);
        if (mandatory != 0) b(mandatory);
        return this;
    }

    /** Emits a REX when needed (64-bit size, registers 8..15, or chosen for an 8-bit form). */
    CaseBuilder rexPrefix(int size, int reg, int rmOrBase, int idx) {
        int bits = (size == 64 ? 8 : 0) | (reg >= 8 ? 4 : 0) | (idx >= 8 ? 2 : 0) | (rmOrBase >= 8 ? 1 : 0);
        if (bits != 0 || rex) b(0x40 | bits);
        return this;
    }

    /** Emits a little-endian immediate of {@code bytes} bytes. */
    CaseBuilder imm(int bytes, long v) {
        for (int i = 0; i < bytes; i++) out.write((int) (v >>> (8 * i)));
        return this;
    }

    /** Reads the chosen r/m operand of {@code size} bits from a state. */
    long readRm(X86State s, int size) {
        if (memory) return readMemory(s, offset(), size);
        return readRegister(s, rm, size, rex);
    }

    /** Writes the chosen r/m operand in the input state. */
    void writeRm(int size, long v) {
        if (memory) {
            for (int i = 0; i < size / 8; i++) in.scratch[offset() + i] = (byte) (v >>> (8 * i));
        } else {
            writeRegister(in, rm, size, rex, v);
        }
    }

    static long readMemory(X86State s, int offset, int size) {
        long v = 0;
        for (int i = 0; i < size / 8; i++) v |= (s.scratch[offset + i] & 0xFFL) << (8 * i);
        return v;
    }

    /** A register operand of {@code size} bits; without REX, 8-bit numbers 4..7 are AH, CH, DH, BH. */
    static long readRegister(X86State s, int r, int size, boolean rex) {
        if (size == 8 && !rex && r >= 4 && r < 8) return s.gpr[r - 4] >>> 8 & 0xFF;
        return size == 64 ? s.gpr[r] : s.gpr[r] & ((1L << size) - 1);
    }

    static void writeRegister(X86State s, int r, int size, boolean rex, long v) {
        if (size == 8 && !rex && r >= 4 && r < 8) {
            s.gpr[r - 4] = s.gpr[r - 4] & ~0xFF00L | (v & 0xFF) << 8;
        } else if (size == 64) {
            s.gpr[r] = v;
        } else {
            long mask = (1L << size) - 1;
            s.gpr[r] = s.gpr[r] & ~mask | v & mask;
        }
    }

    /** The case: the bytes emitted and the input state, with what the SDM leaves undefined. */
    Case build(InstructionForms.Form form) {
        if (legacy32) {                // 32-bit code has eight 32-bit registers
            for (int r = 0; r < 16; r++) in.gpr[r] = r < 8 ? in.gpr[r] & 0xFFFF_FFFFL : 0;
        }
        return new Case(form, out.toByteArray(), in, undefinedFlags, undefinedRegs, first);
    }

    /**
     * One instruction (or two) to run from one state; {@code undefinedFlags} and {@code undefinedRegs}
     * are not compared; {@code first} names the first instruction's form in a form of two, else null.
     */
    record Case(InstructionForms.Form form, byte[] bytes, X86State in, long undefinedFlags, int undefinedRegs,
            String first) {}
}
