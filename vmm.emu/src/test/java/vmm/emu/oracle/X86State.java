package vmm.emu.oracle;

import java.util.Arrays;
import java.util.HexFormat;

/**
 * The part of an x86 CPU's state a differential case sets and compares: the sixteen general
 * registers (indexed by their encoding, RAX=0 ... R15=15; RSP is never used by a case), RFLAGS
 * and a scratch buffer at a fixed linear address that memory operands point into.
 */
public final class X86State {
    public static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;
    public static final String[] NAMES = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"};
    /** Bytes of scratch memory a case may read and write. */
    public static final int SCRATCH_SIZE = 1024;

    public final long[] gpr = new long[16];
    public long rflags;
    public final byte[] scratch = new byte[SCRATCH_SIZE];

    public X86State copy() {
        X86State c = new X86State();
        System.arraycopy(gpr, 0, c.gpr, 0, 16);
        c.rflags = rflags;
        System.arraycopy(scratch, 0, c.scratch, 0, SCRATCH_SIZE);
        return c;
    }

    /** The registers and flags on one line (scratch left out: see {@link #scratchDiff}). */
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        for (int r = 0; r < 16; r++) {
            if (r == RSP) continue;
            b.append(NAMES[r]).append('=').append(Long.toHexString(gpr[r])).append(' ');
        }
        return b.append("flags=").append(Flags.names(rflags & Flags.COMPARED)).toString();
    }

    /** The first differing scratch bytes of two states, or null when they agree. */
    public static String scratchDiff(X86State a, X86State b) {
        int i = Arrays.mismatch(a.scratch, b.scratch);
        if (i < 0) return null;
        int end = Math.min(SCRATCH_SIZE, i + 8);
        HexFormat hex = HexFormat.ofDelimiter(" ");
        return "scratch+" + i + ": " + hex.formatHex(a.scratch, i, end) + " vs " + hex.formatHex(b.scratch, i, end);
    }
}
