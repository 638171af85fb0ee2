package vmm.emu.internal.cpu;

/**
 * A guest exception raised while executing an instruction: the vector and,
 * for the vectors that push one, the error code. Unwinds the semantics back to
 * the run loop, which delivers it through the IVT or IDT with RIP still at the
 * faulting instruction. Carries no stack trace: guests raise these routinely.
 */
public final class CpuFault extends RuntimeException {
    public static final int DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8, TS = 10, NP = 11,
            SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18;

    public final int vector;
    public final int errorCode;
    public final boolean hasErrorCode;

    public CpuFault(int vector, int errorCode, boolean hasErrorCode) {
        super(null, null, false, false);
        this.vector = vector;
        this.errorCode = errorCode;
        this.hasErrorCode = hasErrorCode;
    }

    public static CpuFault ud() { return new CpuFault(UD, 0, false); }
    public static CpuFault de() { return new CpuFault(DE, 0, false); }
    public static CpuFault gp(int code) { return new CpuFault(GP, code, true); }
    public static CpuFault ss(int code) { return new CpuFault(SS, code, true); }
    public static CpuFault np(int code) { return new CpuFault(NP, code, true); }
    public static CpuFault ts(int code) { return new CpuFault(TS, code, true); }
    public static CpuFault pf(int code) { return new CpuFault(PF, code, true); }

    @Override
    public String getMessage() {
        return hasErrorCode ? String.format("exception %d (error code 0x%x)", vector, errorCode)
                : "exception " + vector;
    }
}
