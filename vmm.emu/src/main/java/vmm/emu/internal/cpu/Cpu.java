package vmm.emu.internal.cpu;

import vmm.core.hypervisor.Segment;

/**
 * The architectural state of one x86 CPU and the helpers every instruction
 * group uses: registers by size, lazy flags, segment-relative memory access
 * and effective addresses. Owned by one thread at a time (the vCPU's);
 * {@link Machine} runs it.
 */
public final class Cpu {
    /** Segment register numbers as instructions encode them. */
    public static final int ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;
    public static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;

    public static final long CF = 1, PF = 1 << 2, AF = 1 << 4, ZF = 1 << 6, SF = 1 << 7, TF = 1 << 8, IF = 1 << 9,
            DF = 1 << 10, OF = 1 << 11, IOPL = 3 << 12, NT = 1 << 14, RF = 1 << 16, VM = 1 << 17, AC = 1 << 18,
            VIF = 1 << 19, VIP = 1 << 20, ID = 1 << 21;
    static final long ARITH = CF | PF | AF | ZF | SF | OF;
    /** The RFLAGS bits software can change (at CPL 0); bit 1 always reads as one. */
    static final long WRITABLE = ARITH | TF | IF | DF | IOPL | NT | RF | AC | ID;

    public static final long CR0_PE = 1, CR0_MP = 2, CR0_EM = 4, CR0_TS = 8, CR0_ET = 16, CR0_NE = 32,
            CR0_WP = 1L << 16, CR0_AM = 1L << 18, CR0_NW = 1L << 29, CR0_CD = 1L << 30, CR0_PG = 1L << 31;
    public static final long CR4_VME = 1, CR4_PVI = 2, CR4_TSD = 4, CR4_DE = 8, CR4_PSE = 16, CR4_PAE = 32,
            CR4_MCE = 64, CR4_PGE = 128, CR4_PCE = 256, CR4_OSFXSR = 512, CR4_OSXMMEXCPT = 1024;
    public static final long EFER_SCE = 1, EFER_LME = 1 << 8, EFER_LMA = 1 << 10, EFER_NXE = 1 << 11;

    public final long[] r = new long[16];
    public long rip;
    /** RFLAGS without the arithmetic flags while {@link #lazyOp} is not {@link Alu#EAGER}. */
    long flags = 2;

    // Lazy arithmetic flags: the last flag-setting operation and its operands, evaluated on demand.
    int lazyOp = Alu.EAGER;
    int lazySize = 4;
    long lazyDst, lazySrc, lazyRes;
    /** CF as it was before an INC or DEC, which keep it. */
    boolean lazyCarryIn;

    public final Segment[] seg = new Segment[6];
    final long[] segBase = new long[6];
    final long[] segLimit = new long[6];
    /** Per segment: {@link Segmentation#UNUSABLE} and the other access-check bits; 0 for a plain read/write segment. */
    final int[] segKind = new int[6];
    public Segment ldtr = new Segment(0, 0xFFFF, 0, 2, true, 0, false, false, false, false, false, false);
    public Segment tr = new Segment(0, 0xFFFF, 0, 0xB, true, 0, false, false, false, false, false, false);
    public long gdtBase, idtBase;
    public int gdtLimit = 0xFFFF, idtLimit = 0xFFFF;
    public long cr0 = CR0_ET | CR0_CD | CR0_NW, cr2, cr3, cr4, cr8, efer;
    public final long[] dr = {0, 0, 0, 0, 0xFFFF0FF0L, 0x400, 0xFFFF0FF0L, 0x400};
    /** x87 control and status, XMM registers and MXCSR. */
    final FpuState fpu = new FpuState();
    public int cpl;
    /** 16, 32 or 64: how the current code segment decodes. */
    public int codeBits = 16;

    final Mmu mmu;
    final Machine machine;
    /** Set by translated code before it rethrows a fault: the instructions it retired before the faulting one. */
    long jitRetired;

    Cpu(Machine machine, Mmu mmu) {
        this.machine = machine;
        this.mmu = mmu;
        for (int i = 0; i < 6; i++) setSegment(i, Segment.realMode(0, i == CS));
    }

    // ---- modes ----

    public boolean protectedMode() {
        return (cr0 & CR0_PE) != 0;
    }

    public boolean longMode() {
        return (efer & EFER_LMA) != 0;
    }

    public boolean mode64() {
        return codeBits == 64;
    }

    /** Installs a segment cache and recomputes what depends on it. */
    public void setSegment(int n, Segment s) {
        seg[n] = s;
        segBase[n] = s.base();
        segLimit[n] = s.limit() & 0xFFFFFFFFL;
        segKind[n] = Segmentation.kind(s);
        if (n == CS) updateCodeBits();
    }

    void updateCodeBits() {
        Segment cs = seg[CS];
        codeBits = longMode() && cs.l() ? 64 : cs.db() && protectedMode() ? 32 : cs.db() ? 32 : 16;
        if (protectedMode() && !v86()) cpl = seg[CS].dpl();
        else cpl = v86() ? 3 : 0;
    }

    boolean v86() {
        return (flags & VM) != 0 && protectedMode();
    }

    // ---- registers ----

    public long reg(int n, int size) {
        return switch (size) {
            case 1 -> n < 16 ? r[n] & 0xFF : (r[n - 16] >>> 8) & 0xFF;
            case 2 -> r[n] & 0xFFFF;
            case 4 -> r[n] & 0xFFFFFFFFL;
            default -> r[n];
        };
    }

    public void setReg(int n, int size, long v) {
        switch (size) {
            case 1 -> {
                if (n < 16) r[n] = (r[n] & ~0xFFL) | (v & 0xFF);
                else r[n - 16] = (r[n - 16] & ~0xFF00L) | (v & 0xFF) << 8;
            }
            case 2 -> r[n] = (r[n] & ~0xFFFFL) | (v & 0xFFFF);
            case 4 -> r[n] = v & 0xFFFFFFFFL;
            default -> r[n] = v;
        }
    }

    static long mask(int size) {
        return size == 8 ? -1L : (1L << (size * 8)) - 1;
    }

    /** Sign-extends the low {@code size} bytes. */
    static long sx(long v, int size) {
        int s = 64 - size * 8;
        return v << s >> s;
    }

    // ---- flags ----

    /** The whole RFLAGS with the lazy flags evaluated. */
    public long rflags() {
        if (lazyOp == Alu.EAGER) return flags | 2;
        return (flags & ~ARITH) | Alu.evaluate(this) | 2;
    }

    /** Replaces RFLAGS (bit 1 forced on, reserved bits off); the caller has applied privilege rules. */
    public void setRflags(long v) {
        long old = flags;
        flags = (v & (WRITABLE | VM | VIF | VIP)) | 2;
        lazyOp = Alu.EAGER;
        if (((old ^ flags) & VM) != 0) updateCodeBits();
        if ((flags & IF) != 0 && (old & IF) == 0) {
            // A pending interrupt is taken right after this instruction (POPF, IRET): a block that
            // ran on could clear IF again (popf ... cli) before the loop looked.
            machine.attention = true;
            machine.endBlock = true;
        }
    }

    /** Makes the arithmetic flags eager, so single bits can be changed in {@link #flags}. */
    void materialize() {
        if (lazyOp != Alu.EAGER) {
            flags = (flags & ~ARITH) | Alu.evaluate(this);
            lazyOp = Alu.EAGER;
        }
    }

    void setFlag(long bit, boolean on) {
        materialize();
        flags = on ? flags | bit : flags & ~bit;
    }

    public boolean cf() {
        return lazyOp == Alu.EAGER ? (flags & CF) != 0 : Alu.carry(this);
    }

    boolean zf() {
        return lazyOp == Alu.EAGER ? (flags & ZF) != 0 : (lazyRes & mask(lazySize)) == 0;
    }

    boolean sf() {
        return lazyOp == Alu.EAGER ? (flags & SF) != 0 : ((lazyRes >>> (lazySize * 8 - 1)) & 1) != 0;
    }

    boolean of() {
        return lazyOp == Alu.EAGER ? (flags & OF) != 0 : Alu.overflow(this);
    }

    boolean df() {
        return (flags & DF) != 0;
    }

    /** Condition code {@code cc} (the low nibble of Jcc/SETcc/CMOVcc). */
    boolean cond(int cc) {
        boolean v = switch (cc >>> 1) {
            case 0 -> of();
            case 1 -> cf();
            case 2 -> zf();
            case 3 -> cf() || zf();
            case 4 -> sf();
            case 5 -> (rflags() & PF) != 0;
            case 6 -> sf() != of();
            default -> zf() || sf() != of();
        };
        return v ^ ((cc & 1) != 0);
    }

    // ---- memory ----

    /** The offset of a memory operand, wrapped to the address size. */
    long ea(Insn d) {
        long a = d.disp;
        if (d.base >= 0) a += r[d.base];
        if (d.index >= 0) a += r[d.index] << d.scale;
        if (d.ripRelative) a += rip + d.len;
        return d.adSize == 8 ? a : d.adSize == 4 ? a & 0xFFFFFFFFL : a & 0xFFFF;
    }

    int segOf(Insn d) {
        return d.segOverride >= 0 ? d.segOverride : d.defaultSeg;
    }

    /** The linear address of {@code size} bytes at {@code seg:off}; checks the segment outside 64-bit mode. */
    long linear(int s, long off, int size, boolean write) {
        if (codeBits == 64) return (s >= FS ? segBase[s] : 0) + off;
        if (protectedMode()) Segmentation.checkAccess(this, s, off, size, write);
        else if (off + size - 1 > segLimit[s]) throw s == SS ? CpuFault.ss(0) : CpuFault.gp(0);
        return (segBase[s] + off) & 0xFFFFFFFFL;
    }

    public long read(int s, long off, int size) {
        return mmu.read(linear(s, off, size, false), size, cpl == 3);
    }

    public void write(int s, long off, int size, long v) {
        mmu.write(linear(s, off, size, true), size, v, cpl == 3);
    }

    /** The r/m operand of {@code d}: a register, or memory. */
    long rm(Insn d, int size) {
        if (d.mod == 3) return reg(size == 1 ? d.byteReg(d.rm) : d.rm, size);
        return read(segOf(d), ea(d), size);
    }

    void setRm(Insn d, int size, long v) {
        if (d.mod == 3) setReg(size == 1 ? d.byteReg(d.rm) : d.rm, size, v);
        else write(segOf(d), ea(d), size, v);
    }

    /** The ModRM reg operand. */
    long regOp(Insn d, int size) {
        return reg(size == 1 ? d.byteReg(d.reg) : d.reg, size);
    }

    void setRegOp(Insn d, int size, long v) {
        setReg(size == 1 ? d.byteReg(d.reg) : d.reg, size, v);
    }

    // ---- stack ----

    int stackSize() {
        return codeBits == 64 ? 8 : seg[SS].db() ? 4 : 2;
    }

    long sp() {
        int n = stackSize();
        return n == 8 ? r[RSP] : n == 4 ? r[RSP] & 0xFFFFFFFFL : r[RSP] & 0xFFFF;
    }

    void setSp(long v) {
        setReg(RSP, stackSize(), v);
    }

    void push(long v, int size) {
        long nsp = (sp() - size) & mask(stackSize());
        write(SS, nsp, size, v);
        setSp(nsp);
    }

    long pop(int size) {
        long v = read(SS, sp(), size);
        setSp(sp() + size);
        return v;
    }

    /** Reads {@code size} bytes at {@code index} slots above the stack pointer without popping. */
    long peek(int size, int index) {
        return read(SS, (sp() + (long) index * size) & mask(stackSize()), size);
    }

    /** A system-structure access (GDT, IDT, TSS): supervisor, linear. */
    long readSys(long lin, int size) {
        return mmu.read(longMode() ? lin : lin & 0xFFFFFFFFL, size, false);
    }

    void writeSys(long lin, int size, long v) {
        mmu.write(longMode() ? lin : lin & 0xFFFFFFFFL, size, v, false);
    }

    /** Sets RIP to a branch target, wrapped to the operand size. */
    void jump(long target, int opSize) {
        long t = opSize == 8 ? target : opSize == 4 ? target & 0xFFFFFFFFL : target & 0xFFFF;
        if (codeBits != 64 && t > segLimit[CS]) throw CpuFault.gp(0);
        if (codeBits == 64 && t << 16 >> 16 != t) throw CpuFault.gp(0);
        rip = t;
    }
}
