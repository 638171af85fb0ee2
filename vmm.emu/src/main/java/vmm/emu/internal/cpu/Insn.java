package vmm.emu.internal.cpu;

/**
 * One decoded instruction: what the decoder read (prefixes, opcode, ModRM/SIB
 * fields, displacement, immediates, length), never what it means. The
 * semantics layer ({@link Executor} and the groups it calls) interprets it.
 * Immutable once decoded; shared by every run of its block.
 */
public final class Insn {
    /** Opcode space: one-byte opcodes are 0x000-0x0FF, 0F xx is 0x100-0x1FF, 0F 38 xx 0x2xx, 0F 3A xx 0x3xx. */
    public int op;
    /** Length in bytes (1..15). */
    public int len;
    /** Operand size in bytes for the non-byte forms: 2, 4 or 8. */
    public int opSize;
    /** Address size in bytes: 2, 4 or 8. */
    public int adSize;
    /** Segment override (a {@link Cpu} segment index) or -1. */
    public int segOverride = -1;
    /** 0, or the last of F2/F3 seen. */
    public int rep;
    public boolean lock;
    /** A 66 prefix was seen (SSE's mandatory prefix, even where REX.W makes the operand size 8). */
    public boolean opPrefix;
    /** The REX byte (0x40-0x4F) or 0. */
    public int rex;
    public boolean hasModrm;
    /** ModRM fields; reg and rm are already extended by REX.R / REX.B. */
    public int mod, reg, rm;
    /** The reg field without REX.R (group opcode extensions). */
    public int regOp;
    /** Memory operand: base and index register numbers or -1, scale shift, displacement. */
    public int base = -1, index = -1, scale;
    public long disp;
    /** Memory operand relative to the next instruction (64-bit mode, mod 00 rm 101). */
    public boolean ripRelative;
    /** SS when the base is (E/R)BP or (E/R)SP, else DS. */
    public int defaultSeg = Cpu.DS;
    public long imm, imm2;
    /** The raw bytes, for the log of instructions the model lacks. */
    public byte[] bytes;

    /** Whether the ModRM names a register rather than memory. */
    public boolean isRegForm() {
        return mod == 3;
    }

    /** The register number of an 8-bit operand: 0-15, or 16-19 for AH, CH, DH, BH without REX. */
    public int byteReg(int r) {
        return rex == 0 && r >= 4 && r < 8 ? r + 12 : r;
    }

    public String hex() {
        StringBuilder s = new StringBuilder();
        for (byte b : bytes) s.append(String.format("%02x ", b & 0xFF));
        return s.toString().trim();
    }
}
