package vmm.emu.internal.cpu;

/**
 * The x87 and SSE state of one CPU, as FXSAVE lays it out (SDM vol. 1 §10.5.1): the x87 control,
 * status and tag words, the last instruction and operand pointers, eight 80-bit registers (kept as
 * raw bytes: the model has no x87 arithmetic, so only FXRSTOR, FNINIT and FXSAVE touch them), the
 * sixteen XMM registers and MXCSR. Owned by the CPU's thread.
 */
final class FpuState {
    /** FNINIT's control word: every exception masked, 64-bit precision, round to nearest. */
    static final int FCW_INIT = 0x037F;
    /** The MXCSR after reset: every exception masked, round to nearest, no flags. */
    static final int MXCSR_INIT = 0x1F80;
    /** The MXCSR bits the model writes (DAZ included), as FXSAVE reports them in MXCSR_MASK. */
    static final int MXCSR_MASK = 0xFFFF;

    // MXCSR fields (SDM vol. 1 §10.2.3).
    static final int IE = 1, DE = 2, ZE = 4, OE = 8, UE = 16, PE = 32, DAZ = 64, FLAGS = 0x3F;
    static final int MASK_SHIFT = 7, RC_SHIFT = 13, FZ = 1 << 15;
    static final int RC_NEAREST = 0, RC_DOWN = 1, RC_UP = 2, RC_ZERO = 3;

    /** Little-endian quadwords of {@link #st} (the MMX registers are the registers' significands). */
    static final java.lang.invoke.VarHandle LONG =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class, java.nio.ByteOrder.LITTLE_ENDIAN);

    int fcw, fsw;
    /** The full tag word (2 bits per register, 11 = empty); FXSAVE stores its abridged form. */
    int ftw;
    int fop;
    long fip, fdp;
    int fcs, fds;
    /** The physical registers R0-R7 (ST(i) is R((TOP + i) mod 8)), 10 bytes each, in 16-byte slots. */
    final byte[] st = new byte[8 * 16];
    /** XMM0-XMM15, low quadword at 2n, high at 2n+1. */
    final long[] xmm = new long[32];
    int mxcsr = MXCSR_INIT;

    FpuState() {
        reset();
    }

    /** The power-on and INIT state (SDM vol. 3 table 9-1): FCW 0x40, tags all empty, XMM and MXCSR cleared. */
    void reset() {
        fcw = 0x0040;
        fsw = 0;
        ftw = 0xFFFF;
        fop = 0;
        fip = fdp = 0;
        fcs = fds = 0;
        java.util.Arrays.fill(st, (byte) 0);
        java.util.Arrays.fill(xmm, 0);
        mxcsr = MXCSR_INIT;
    }

    /** FNINIT: control word, status, tags and pointers; the registers keep their bits. */
    void finit() {
        fcw = FCW_INIT;
        fsw = 0;
        ftw = 0xFFFF;
        fop = 0;
        fip = fdp = 0;
        fcs = fds = 0;
    }

    /** The tag word's abridged form: one bit per register, 1 = not empty. */
    int abridgedTags() {
        int t = 0;
        for (int i = 0; i < 8; i++) if (((ftw >>> (2 * i)) & 3) != 3) t |= 1 << i;
        return t;
    }

    /** Rebuilds the full tag word from an abridged one: a non-empty register is tagged valid (00). */
    void setAbridgedTags(int t) {
        int full = 0;
        for (int i = 0; i < 8; i++) if ((t & 1 << i) == 0) full |= 3 << (2 * i);
        ftw = full;
    }

    int roundingMode() {
        return (mxcsr >>> RC_SHIFT) & 3;
    }
}
