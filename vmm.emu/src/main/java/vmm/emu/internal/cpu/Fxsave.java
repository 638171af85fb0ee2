package vmm.emu.internal.cpu;

/**
 * FXSAVE, FXRSTOR, LDMXCSR and STMXCSR, and the checks every SSE instruction makes first. The
 * 512-byte FXSAVE area (SDM vol. 1 §10.5.1, table 10-2):
 * <table>
 * <caption>FXSAVE area, legacy layout</caption>
 * <tr><th>offset</th><th>field</th></tr>
 * <tr><td>0</td><td>FCW (2), FSW (2), abridged FTW (1), reserved (1), FOP (2)</td></tr>
 * <tr><td>8</td><td>FIP (4), FCS (2), reserved (2); with REX.W, FIP (8)</td></tr>
 * <tr><td>16</td><td>FDP (4), FDS (2), reserved (2); with REX.W, FDP (8)</td></tr>
 * <tr><td>24</td><td>MXCSR (4), MXCSR_MASK (4)</td></tr>
 * <tr><td>32</td><td>ST0-ST7 / MM0-MM7, 16 bytes each (10 used)</td></tr>
 * <tr><td>160</td><td>XMM0-XMM15 (XMM0-XMM7 outside 64-bit mode), 16 bytes each</td></tr>
 * <tr><td>416</td><td>reserved, then 48 bytes available to software: left as they are</td></tr>
 * </table>
 */
final class Fxsave {
    static final int AREA = 512, OFF_MXCSR = 24, OFF_ST = 32, OFF_XMM = 160;

    private Fxsave() {
    }

    /**
     * The checks an SSE instruction makes before anything else (SDM vol. 3 §13.1, table 12-?):
     * #UD when CR0.EM is set or CR4.OSFXSR is clear, then #NM when CR0.TS is set.
     */
    static void checkSse(Cpu c) {
        if ((c.cr0 & Cpu.CR0_EM) != 0 || (c.cr4 & Cpu.CR4_OSFXSR) == 0) throw CpuFault.ud();
        if ((c.cr0 & Cpu.CR0_TS) != 0) throw new CpuFault(CpuFault.NM, 0, false);
    }

    /** 0F AE with a memory operand: /0 FXSAVE, /1 FXRSTOR, /2 LDMXCSR, /3 STMXCSR, /7 CLFLUSH. */
    static void group15(Cpu c, Insn d) {
        int s = c.segOf(d);
        long a = c.ea(d);
        switch (d.regOp) {
            case 0, 1 -> {
                if ((c.cr0 & (Cpu.CR0_EM | Cpu.CR0_TS)) != 0) throw new CpuFault(CpuFault.NM, 0, false);
                if ((c.linear(s, a, 1, false) & 15) != 0) throw CpuFault.gp(0);
                if (d.regOp == 0) save(c, s, a, (d.rex & 8) != 0);
                else restore(c, s, a, (d.rex & 8) != 0);
            }
            case 2 -> {
                checkSse(c);
                int v = (int) c.read(s, a, 4);
                if ((v & ~FpuState.MXCSR_MASK) != 0) throw CpuFault.gp(0);
                c.fpu.mxcsr = v;
            }
            case 3 -> {
                checkSse(c);
                c.write(s, a, 4, c.fpu.mxcsr & 0xFFFFFFFFL);
            }
            case 7 -> { // CLFLUSH: no caches to flush; the address is checked as a read would be (#GP, #SS, #PF)
                if (d.rep != 0 || d.opPrefix) throw Machine.unsupported(c, d); // CLFLUSHOPT, CLWB: not in CPUID
                c.mmu.translate(c.linear(s, a, 1, false), Mmu.READ, c.cpl == 3);
            }
            default -> throw Machine.unsupported(c, d); // XSAVE family: not in the CPUID model
        }
    }

    /** Stores the area; the 64-bit format when {@code wide} (REX.W): 64-bit FIP and FDP, no FCS/FDS. */
    static void save(Cpu c, int s, long a, boolean wide) {
        FpuState f = c.fpu;
        // Check the whole area is writable before changing any of it, so a fault leaves memory as it was.
        long lin = c.linear(s, a, AREA, true);
        c.mmu.translate(lin, Mmu.WRITE, c.cpl == 3);
        c.mmu.translate(lin + AREA - 1, Mmu.WRITE, c.cpl == 3);
        c.write(s, a, 2, f.fcw);
        c.write(s, a + 2, 2, X87.status(f));
        c.write(s, a + 4, 2, f.abridgedTags());
        c.write(s, a + 6, 2, f.fop);
        if (wide) {
            c.write(s, a + 8, 8, f.fip);
            c.write(s, a + 16, 8, f.fdp);
        } else {
            c.write(s, a + 8, 4, f.fip & 0xFFFFFFFFL);
            c.write(s, a + 12, 4, f.fcs);
            c.write(s, a + 16, 4, f.fdp & 0xFFFFFFFFL);
            c.write(s, a + 20, 4, f.fds);
        }
        c.write(s, a + OFF_MXCSR, 4, f.mxcsr & 0xFFFFFFFFL);
        c.write(s, a + OFF_MXCSR + 4, 4, FpuState.MXCSR_MASK);
        int top = f.fsw >>> 11 & 7;
        for (int i = 0; i < 8; i++) {                                   // in stack order: ST(i) at 32 + 16 i
            int p = (top + i) & 7;
            long lo = 0, hi = 0;
            for (int k = 0; k < 8; k++) lo |= (f.st[16 * p + k] & 0xFFL) << (8 * k);
            for (int k = 0; k < 2; k++) hi |= (f.st[16 * p + 8 + k] & 0xFFL) << (8 * k);
            c.write(s, a + OFF_ST + 16L * i, 8, lo);
            c.write(s, a + OFF_ST + 16L * i + 8, 8, hi);
        }
        int regs = c.mode64() ? 16 : 8;
        for (int i = 0; i < regs; i++) {
            c.write(s, a + OFF_XMM + 16L * i, 8, f.xmm[2 * i]);
            c.write(s, a + OFF_XMM + 16L * i + 8, 8, f.xmm[2 * i + 1]);
        }
    }

    /** Loads the area; #GP(0) (and nothing loaded) when the MXCSR image sets a reserved bit. */
    static void restore(Cpu c, int s, long a, boolean wide) {
        FpuState f = c.fpu;
        c.linear(s, a, AREA, false);
        int mx = (int) c.read(s, a + OFF_MXCSR, 4);
        if ((mx & ~FpuState.MXCSR_MASK) != 0) throw CpuFault.gp(0);
        int regs = c.mode64() ? 16 : 8;
        long[] xmm = new long[2 * regs];
        for (int i = 0; i < 2 * regs; i++) xmm[i] = c.read(s, a + OFF_XMM + 8L * i, 8);
        int fcw = (int) c.read(s, a, 2), fsw = (int) c.read(s, a + 2, 2), tags = (int) c.read(s, a + 4, 1);
        byte[] st = new byte[f.st.length];
        int top = fsw >>> 11 & 7;
        for (int i = 0; i < 8; i++) {
            int p = (top + i) & 7;
            long lo = c.read(s, a + OFF_ST + 16L * i, 8);
            long hi = c.read(s, a + OFF_ST + 16L * i + 8, 2);
            for (int k = 0; k < 8; k++) st[16 * p + k] = (byte) (lo >>> (8 * k));
            for (int k = 0; k < 2; k++) st[16 * p + 8 + k] = (byte) (hi >>> (8 * k));
        }
        int fop = (int) c.read(s, a + 6, 2) & 0x7FF;
        long fip, fdp;
        int fcs = 0, fds = 0;
        if (wide) {
            fip = c.read(s, a + 8, 8);
            fdp = c.read(s, a + 16, 8);
        } else {
            fip = c.read(s, a + 8, 4);
            fcs = (int) c.read(s, a + 12, 2);
            fdp = c.read(s, a + 16, 4);
            fds = (int) c.read(s, a + 20, 2);
        }
        f.fcw = fcw & 0x1F3F | 0x40;
        f.fsw = fsw;
        f.setAbridgedTags(tags);
        f.fop = fop;
        f.fip = fip;
        f.fdp = fdp;
        f.fcs = fcs;
        f.fds = fds;
        f.mxcsr = mx;
        System.arraycopy(st, 0, f.st, 0, st.length);
        System.arraycopy(xmm, 0, f.xmm, 0, xmm.length);
    }
}
