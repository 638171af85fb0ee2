package vmm.emu.internal.cpu;

import java.math.BigDecimal;

/**
 * SSE and SSE2 floating point: ADD SUB MUL DIV SQRT MIN MAX and CMP in their PS, PD, SS and SD
 * forms, COMIS/UCOMIS, and the conversions between integers, singles and doubles; with MXCSR's
 * rounding control, DAZ and FZ, and its six exception flags. Masked exceptions give IEEE 754's
 * default results (x86's "indefinite" QNaN and integer); an unmasked one leaves the destination as
 * it was and raises #XM (or #UD when CR4.OSXMMEXCPT is clear), SDM vol. 1 §11.5.
 *
 * <p>Each result is computed as Java's round-to-nearest double plus the sign of its error (exact
 * for add, subtract, multiply, divide and square root: TwoSum and FMA, or BigDecimal where those
 * would underflow), then rounded to the destination format in MXCSR's mode. The float grid lies on
 * the double grid and the error's sign says which side of a midpoint the exact value is, so the
 * second rounding is exact too. Tininess is detected after rounding (SDM vol. 1 §11.5.2.5).
 */
final class SseFloat {
    static final int ADD = 0, SUB = 1, MUL = 2, DIV = 3, MIN = 4, MAX = 5, SQRT = 6;
    static final int XM = 19;
    private static final long QNAN_D = 0xFFF8000000000000L, QNAN_S = 0xFFC00000L;

    private final int mxcsr;
    int flags;

    SseFloat(int mxcsr) {
        this.mxcsr = mxcsr;
    }

    // ---- the instructions ----

    /** Runs the opcode if it is one of this group; false when it is not (the caller raises #UD). */
    static boolean exec(Cpu c, Insn d, int p) {
        int op = d.op & 0xFF;
        FpuState f = c.fpu;
        long[] x = f.xmm;
        int r = d.reg;
        SseFloat fp = new SseFloat(f.mxcsr);
        switch (op) {
            case 0x51, 0x58, 0x59, 0x5C, 0x5D, 0x5E, 0x5F -> {
                int kind = switch (op) {
                    case 0x51 -> SQRT; case 0x58 -> ADD; case 0x59 -> MUL; case 0x5C -> SUB; case 0x5D -> MIN;
                    case 0x5E -> DIV; default -> MAX;
                };
                boolean dbl = p == Sse.P66 || p == Sse.PF2;
                if (p >= Sse.PF2) {                                            // SD, SS: the low lane
                    long b = scalar(c, d, dbl);
                    long a = x[2 * r];
                    long v = fp.binop(kind, dbl ? a : a & 0xFFFFFFFFL, b, dbl);
                    fp.commit(c);
                    x[2 * r] = dbl ? v : a & ~0xFFFFFFFFL | v & 0xFFFFFFFFL;
                } else {
                    long[] s = Sse.src(c, d, true);
                    long[] out = new long[2];
                    for (int q = 0; q < 2; q++) {
                        if (dbl) {
                            out[q] = fp.binop(kind, x[2 * r + q], s[q], true);
                        } else {
                            long a = x[2 * r + q], b = s[q];
                            long lo = fp.binop(kind, a & 0xFFFFFFFFL, b & 0xFFFFFFFFL, false);
                            long hi = fp.binop(kind, a >>> 32, b >>> 32, false);
                            out[q] = lo & 0xFFFFFFFFL | hi << 32;
                        }
                    }
                    fp.commit(c);
                    Sse.set(c, r, out);
                }
            }
            case 0xC2 -> {                                                     // CMPPS/PD/SS/SD imm8
                int pred = (int) d.imm & 0xFF;
                if (pred > 7) throw CpuFault.ud();                             // AVX's predicates
                boolean dbl = p == Sse.P66 || p == Sse.PF2;
                if (p >= Sse.PF2) {
                    long b = scalar(c, d, dbl);
                    long a = x[2 * r];
                    boolean t = fp.compare(pred, dbl ? a : a & 0xFFFFFFFFL, b, dbl);
                    fp.commit(c);
                    x[2 * r] = dbl ? (t ? -1 : 0) : a & ~0xFFFFFFFFL | (t ? 0xFFFFFFFFL : 0);
                } else {
                    long[] s = Sse.src(c, d, true);
                    long[] out = new long[2];
                    for (int q = 0; q < 2; q++) {
                        long a = x[2 * r + q], b = s[q];
                        if (dbl) {
                            out[q] = fp.compare(pred, a, b, true) ? -1 : 0;
                        } else {
                            long lo = fp.compare(pred, a & 0xFFFFFFFFL, b & 0xFFFFFFFFL, false) ? 0xFFFFFFFFL : 0;
                            long hi = fp.compare(pred, a >>> 32, b >>> 32, false) ? 0xFFFFFFFFL : 0;
                            out[q] = lo | hi << 32;
                        }
                    }
                    fp.commit(c);
                    Sse.set(c, r, out);
                }
            }
            case 0x2E, 0x2F -> {                                               // UCOMISS/SD, COMISS/SD
                if (p > Sse.P66) throw Machine.unsupported(c, d);
                boolean dbl = p == Sse.P66;
                long b = scalar(c, d, dbl);
                long a = dbl ? x[2 * r] : x[2 * r] & 0xFFFFFFFFL;
                int rel = fp.relation(a, b, dbl, op == 0x2F);
                fp.commit(c);
                c.materialize();
                long fl = c.flags & ~Cpu.ARITH;
                fl |= switch (rel) {
                    case 0 -> Cpu.ZF;
                    case -1 -> Cpu.CF;
                    case 1 -> 0;
                    default -> Cpu.ZF | Cpu.PF | Cpu.CF;                       // unordered
                };
                c.flags = fl;
            }
            case 0x2A -> {                                                     // CVTSI2SS, CVTSI2SD
                if (p < Sse.PF2) throw Machine.unsupported(c, d);             // CVTPI2PS/PD: MMX
                boolean dbl = p == Sse.PF2;
                long v = (d.rex & 8) != 0 ? c.rm(d, 8) : (int) c.rm(d, 4);
                long bits = fp.fromLong(v, dbl);
                fp.commit(c);
                x[2 * r] = dbl ? bits : x[2 * r] & ~0xFFFFFFFFL | bits & 0xFFFFFFFFL;
            }
            case 0x2C, 0x2D -> {                                               // CVT(T)SS2SI, CVT(T)SD2SI
                if (p < Sse.PF2) throw Machine.unsupported(c, d);
                boolean dbl = p == Sse.PF2;
                int size = (d.rex & 8) != 0 ? 8 : 4;
                long v = fp.toInt(scalar(c, d, dbl), dbl, size, op == 0x2C);
                fp.commit(c);
                c.setReg(r, 8, size == 8 ? v : v & 0xFFFFFFFFL);
            }
            case 0x5A -> {
                switch (p) {
                    case Sse.PF3 -> {                                          // CVTSS2SD
                        long v = fp.widen(scalar(c, d, false));
                        fp.commit(c);
                        x[2 * r] = v;
                    }
                    case Sse.PF2 -> {                                          // CVTSD2SS
                        long v = fp.narrow(scalar(c, d, true));
                        fp.commit(c);
                        x[2 * r] = x[2 * r] & ~0xFFFFFFFFL | v & 0xFFFFFFFFL;
                    }
                    case Sse.NONE -> {                                         // CVTPS2PD
                        long s = d.mod == 3 ? x[2 * d.rm] : c.read(c.segOf(d), c.ea(d), 8);
                        long lo = fp.widen(s & 0xFFFFFFFFL), hi = fp.widen(s >>> 32);
                        fp.commit(c);
                        Sse.set(c, r, lo, hi);
                    }
                    default -> {                                               // CVTPD2PS
                        long[] s = Sse.src(c, d, true);
                        long lo = fp.narrow(s[0]), hi = fp.narrow(s[1]);
                        fp.commit(c);
                        Sse.set(c, r, lo & 0xFFFFFFFFL | hi << 32, 0);
                    }
                }
            }
            case 0x5B -> {
                long[] s = Sse.src(c, d, true);
                long[] out = new long[2];
                if (p == Sse.NONE) {                                           // CVTDQ2PS
                    for (int i = 0; i < 4; i++) {
                        long v = fp.fromLong((int) Sse.lane(s, 4, i), false);
                        out[i / 2] |= (v & 0xFFFFFFFFL) << (32 * (i % 2));
                    }
                } else if (p == Sse.P66 || p == Sse.PF3) {                    // CVTPS2DQ, CVTTPS2DQ
                    for (int i = 0; i < 4; i++) {
                        long v = fp.toInt(Sse.lane(s, 4, i), false, 4, p == Sse.PF3);
                        out[i / 2] |= (v & 0xFFFFFFFFL) << (32 * (i % 2));
                    }
                } else {
                    throw Machine.unsupported(c, d);
                }
                fp.commit(c);
                Sse.set(c, r, out);
            }
            case 0xE6 -> {
                long lo, hi;
                if (p == Sse.PF3) {                                            // CVTDQ2PD
                    long s = d.mod == 3 ? x[2 * d.rm] : c.read(c.segOf(d), c.ea(d), 8);
                    lo = fp.fromLong((int) s, true);
                    hi = fp.fromLong((int) (s >>> 32), true);
                } else if (p == Sse.P66 || p == Sse.PF2) {                    // CVTTPD2DQ, CVTPD2DQ
                    long[] s = Sse.src(c, d, true);
                    lo = fp.toInt(s[0], true, 4, p == Sse.P66) & 0xFFFFFFFFL
                            | fp.toInt(s[1], true, 4, p == Sse.P66) << 32;
                    hi = 0;
                } else {
                    throw Machine.unsupported(c, d);
                }
                fp.commit(c);
                Sse.set(c, r, lo, hi);
            }
            default -> {
                return false;
            }
        }
        return true;
    }

    /** A scalar source: the low lane of an XMM register, or 4 or 8 bytes of memory (no alignment rule). */
    private static long scalar(Cpu c, Insn d, boolean dbl) {
        if (d.mod == 3) return dbl ? c.fpu.xmm[2 * d.rm] : c.fpu.xmm[2 * d.rm] & 0xFFFFFFFFL;
        return c.read(c.segOf(d), c.ea(d), dbl ? 8 : 4);
    }

    /** Sets the flags raised in MXCSR; an unmasked one raises #XM (#UD without CR4.OSXMMEXCPT). */
    void commit(Cpu c) {
        c.fpu.mxcsr |= flags;
        int unmasked = flags & ~(mxcsr >>> FpuState.MASK_SHIFT) & FpuState.FLAGS;
        if (unmasked != 0) {
            if ((c.cr4 & Cpu.CR4_OSXMMEXCPT) == 0) throw CpuFault.ud();
            throw new CpuFault(XM, 0, false);
        }
    }

    // ---- formats ----

    private static boolean isNaN(long v, boolean dbl) {
        return dbl ? (v & 0x7FFFFFFFFFFFFFFFL) > 0x7FF0000000000000L : (v & 0x7FFFFFFFL) > 0x7F800000L;
    }

    private static boolean isSNaN(long v, boolean dbl) {
        return isNaN(v, dbl) && (v & (dbl ? 1L << 51 : 1L << 22)) == 0;
    }

    private static long quiet(long v, boolean dbl) {
        return v | (dbl ? 1L << 51 : 1L << 22);
    }

    private static boolean isDenormal(long v, boolean dbl) {
        return dbl ? (v & 0x7FF0000000000000L) == 0 && (v & 0xFFFFFFFFFFFFFL) != 0
                : (v & 0x7F800000L) == 0 && (v & 0x7FFFFFL) != 0;
    }

    private static double value(long v, boolean dbl) {
        return dbl ? Double.longBitsToDouble(v) : Float.intBitsToFloat((int) v);
    }

    /** DAZ: a denormal operand counts as a zero of its sign. */
    private long daz(long v, boolean dbl) {
        return isDenormal(v, dbl) && (mxcsr & FpuState.DAZ) != 0 ? v & (dbl ? Long.MIN_VALUE : 0x80000000L) : v;
    }

    /** DAZ: a denormal operand counts as a zero of its sign; without DAZ it raises DE. */
    private long operand(long v, boolean dbl) {
        if (!isDenormal(v, dbl)) return v;
        if ((mxcsr & FpuState.DAZ) != 0) return v & (dbl ? Long.MIN_VALUE : 0x80000000L);
        flags |= FpuState.DE;
        return v;
    }

    private static long bits(double v, boolean dbl) {
        return dbl ? Double.doubleToRawLongBits(v) : Float.floatToRawIntBits((float) v) & 0xFFFFFFFFL;
    }

    // ---- arithmetic ----

    /** {@code a op b} ({@code b} alone for SQRT), each an encoded float or double; the encoded result. */
    long binop(int op, long a, long b, boolean dbl) {
        boolean unary = op == SQRT;
        if (op == MIN || op == MAX) {
            if (isNaN(a, dbl) || isNaN(b, dbl)) {
                flags |= FpuState.IE;
                return daz(b, dbl);
            }
            a = operand(a, dbl);
            b = operand(b, dbl);
            double x = value(a, dbl), y = value(b, dbl);
            return (op == MIN ? x < y : x > y) ? a : b;
        }
        if (isNaN(b, dbl) || !unary && isNaN(a, dbl)) {
            if (isSNaN(b, dbl) || !unary && isSNaN(a, dbl)) flags |= FpuState.IE;
            return quiet(!unary && isNaN(a, dbl) ? a : b, dbl);
        }
        long qnan = dbl ? QNAN_D : QNAN_S;
        // DAZ first; DE only for an operation that neither is invalid nor divides by zero (as the hardware does).
        b = daz(b, dbl);
        if (!unary) a = daz(a, dbl);
        double x = unary ? 0 : value(a, dbl), y = value(b, dbl);
        boolean invalid = switch (op) {
            case ADD -> Double.isInfinite(x) && Double.isInfinite(y) && x != y;
            case SUB -> Double.isInfinite(x) && Double.isInfinite(y) && x == y;
            case MUL -> x == 0 && Double.isInfinite(y) || y == 0 && Double.isInfinite(x);
            case DIV -> x == 0 && y == 0 || Double.isInfinite(x) && Double.isInfinite(y);
            default -> y < 0;                                                  // SQRT of a negative non-zero
        };
        if (invalid) {
            flags |= FpuState.IE;
            return qnan;
        }
        if (op == DIV && y == 0 && !Double.isInfinite(x)) {
            flags |= FpuState.ZE;
            return bits(Math.copySign(Double.POSITIVE_INFINITY, x) * Math.signum(1 / y), dbl);
        }
        if (isDenormal(b, dbl) || !unary && isDenormal(a, dbl)) flags |= FpuState.DE;
        double res = switch (op) {
            case ADD -> x + y;
            case SUB -> x - y;
            case MUL -> x * y;
            case DIV -> x / y;
            default -> Math.sqrt(y);
        };
        boolean infinite = unary ? Double.isInfinite(y) : Double.isInfinite(x) || Double.isInfinite(y);
        if (infinite) return bits(res, dbl);                                   // exact
        if (res == 0 && (op == ADD || op == SUB)) {
            // An exact zero sum of operands of opposite signs is -0 when rounding down, +0 otherwise.
            double y2 = op == SUB ? -y : y;
            boolean opposite = Math.copySign(1, x) != Math.copySign(1, y2);
            if (opposite && errorSign(op, x, y, res) == 0) {
                return bits(rounding() == FpuState.RC_DOWN ? -0.0 : 0.0, dbl);
            }
        }
        return round(res, errorSign(op, x, y, res), dbl);
    }

    private int rounding() {
        return (mxcsr >>> FpuState.RC_SHIFT) & 3;
    }

    /** The sign of (exact result - r), where r is the round-to-nearest double of {@code x op y}. */
    static int errorSign(int op, double x, double y, double r) {
        if (Double.isInfinite(r)) return 0;
        final double tiny = 0x1p-900;
        switch (op) {
            case ADD, SUB -> {
                double b = op == SUB ? -y : y;
                double bb = r - x;
                double err = (x - (r - bb)) + (b - bb);
                return (int) Math.signum(err);
            }
            case MUL -> {
                if (Math.abs(r) >= tiny || r == 0 && (x == 0 || y == 0)) return (int) Math.signum(Math.fma(x, y, -r));
                return exact(x).multiply(exact(y)).compareTo(exact(r));
            }
            case DIV -> {
                int sy = y < 0 ? -1 : 1;
                if (Math.abs(x) >= tiny && Math.abs(r) >= tiny || x == 0) {
                    return (int) Math.signum(Math.fma(-r, y, x)) * sy;
                }
                return exact(x).compareTo(exact(r).multiply(exact(y))) * sy;
            }
            default -> {
                if (Math.abs(y) >= tiny || y == 0) return (int) Math.signum(Math.fma(-r, r, y));
                return exact(y).compareTo(exact(r).multiply(exact(r)));
            }
        }
    }

    private static BigDecimal exact(double v) {
        return new BigDecimal(v);
    }

    /**
     * Rounds the exact value (r, and the sign of its error) to the destination format in MXCSR's
     * mode, with overflow, underflow (FZ included) and inexact. {@code r} is finite or an infinity
     * from an overflow of finite operands.
     */
    long round(double r, int cmp, boolean dbl) {
        boolean neg = Math.copySign(1, r) < 0;
        double m = Math.abs(r);
        int cm = neg ? -cmp : cmp;
        int rc = rounding();
        // By magnitude: 0 nearest, 1 toward zero, 2 away from zero.
        int mode = rc == FpuState.RC_NEAREST ? 0 : rc == FpuState.RC_ZERO ? 1 : (rc == FpuState.RC_DOWN) == neg ? 2 : 1;
        int p = dbl ? 53 : 24, emin = dbl ? -1022 : -126;
        double max = dbl ? Double.MAX_VALUE : Float.MAX_VALUE, minNormal = dbl ? Double.MIN_NORMAL : 0x1p-126;
        double res;
        boolean inexact;
        if (Double.isInfinite(m)) {
            res = m;
            inexact = true;
        } else {
            // Just below a power of two the grid is twice as fine: take the exponent of the exact value.
            int ue = Math.max(Math.getExponent(cm < 0 ? Math.nextDown(m) : m), emin) - (p - 1);
            double q = Math.scalb(m, -ue);
            double fl = Math.floor(q), frac = q - fl;
            if (frac == 0 && cm < 0) {
                fl -= 1;
                frac = 1;                                                      // just below fl + 1
            }
            inexact = frac != 0 || cm != 0;
            double chosen;
            if (!inexact || mode == 1) chosen = fl;
            else if (mode == 2) chosen = fl + 1;
            else if (frac > 0.5 || frac == 0.5 && cm > 0) chosen = fl + 1;
            else if (frac < 0.5 || frac == 0.5 && cm < 0) chosen = fl;
            else chosen = fl % 2 == 0 ? fl : fl + 1;
            res = Math.scalb(chosen, ue);
        }
        if (inexact) flags |= FpuState.PE;
        if (res > max) {
            flags |= FpuState.OE | FpuState.PE;
            res = mode == 1 ? max : Double.POSITIVE_INFINITY;
        } else if (res < minNormal && (m != 0 || cm != 0)) {
            boolean um = (mxcsr & FpuState.UE << FpuState.MASK_SHIFT) != 0;
            if (um && (mxcsr & FpuState.FZ) != 0) {
                flags |= FpuState.UE | FpuState.PE;
                res = 0;
            } else if (inexact || !um) {
                flags |= FpuState.UE;
            }
        }
        return bits(neg ? -res : res, dbl);
    }

    // ---- compares ----

    /** CMPPS/PD/SS/SD's predicates 0-7: EQ LT LE UNORD NEQ NLT NLE ORD. */
    boolean compare(int pred, long a, long b, boolean dbl) {
        boolean nan = isNaN(a, dbl) || isNaN(b, dbl);
        boolean signaling = (pred & 3) == 1 || (pred & 3) == 2;               // LT LE NLT NLE signal on QNaN
        if (nan) {
            if (signaling || isSNaN(a, dbl) || isSNaN(b, dbl)) flags |= FpuState.IE;
            return pred >= 3 && pred <= 6;                                     // UNORD NEQ NLT NLE: true
        }
        double x = value(operand(a, dbl), dbl), y = value(operand(b, dbl), dbl);
        return switch (pred) {
            case 0 -> x == y; case 1 -> x < y; case 2 -> x <= y; case 4 -> x != y; case 5 -> !(x < y);
            case 6 -> !(x <= y); case 3 -> false; default -> true;             // UNORD, ORD
        };
    }

    /** COMIS/UCOMIS: 0 equal, -1 less, 1 greater, 2 unordered; COMIS signals on any NaN, UCOMIS on SNaN. */
    int relation(long a, long b, boolean dbl, boolean signalQuiet) {
        if (isNaN(a, dbl) || isNaN(b, dbl)) {
            if (signalQuiet || isSNaN(a, dbl) || isSNaN(b, dbl)) flags |= FpuState.IE;
            return 2;
        }
        double x = value(operand(a, dbl), dbl), y = value(operand(b, dbl), dbl);
        return x == y ? 0 : x < y ? -1 : 1;
    }

    // ---- conversions ----

    /** A signed integer to a float or double, rounded in MXCSR's mode. */
    long fromLong(long v, boolean dbl) {
        double r = v;
        int cmp = Math.abs(v) < 1L << 53 && v != Long.MIN_VALUE ? 0
                : new BigDecimal(v).compareTo(new BigDecimal(r));
        return round(r, cmp, dbl);
    }

    /** A float or double to a signed integer of {@code size} bytes; NaN and out of range give the indefinite. */
    long toInt(long v, boolean dbl, int size, boolean truncate) {
        long indefinite = size == 8 ? Long.MIN_VALUE : Integer.MIN_VALUE;
        if (isNaN(v, dbl)) {
            flags |= FpuState.IE;
            return indefinite;
        }
        if ((mxcsr & FpuState.DAZ) != 0 && isDenormal(v, dbl)) v &= dbl ? Long.MIN_VALUE : 0x80000000L;
        double x = value(v, dbl);
        double i = truncate ? (x < 0 ? Math.ceil(x) : Math.floor(x)) : switch (rounding()) {
            case FpuState.RC_NEAREST -> Math.rint(x);
            case FpuState.RC_DOWN -> Math.floor(x);
            case FpuState.RC_UP -> Math.ceil(x);
            default -> x < 0 ? Math.ceil(x) : Math.floor(x);
        };
        double lim = size == 8 ? 0x1p63 : 0x1p31;
        if (!(i >= -lim && i < lim)) {
            flags |= FpuState.IE;
            return indefinite;
        }
        if (i != x) flags |= FpuState.PE;
        return (long) i;
    }

    /** CVTSS2SD: exact; a NaN keeps its payload, quieted. */
    long widen(long v) {
        if (isNaN(v, false)) {
            if (isSNaN(v, false)) flags |= FpuState.IE;
            long q = quiet(v, false);
            return (q & 0x80000000L) << 32 | 0x7FF0000000000000L | (q & 0x7FFFFFL) << 29;
        }
        return bits(value(operand(v, false), false), true);
    }

    /** CVTSD2SS: rounded in MXCSR's mode; a NaN keeps the top of its payload, quieted. */
    long narrow(long v) {
        if (isNaN(v, true)) {
            if (isSNaN(v, true)) flags |= FpuState.IE;
            long q = quiet(v, true);
            return (q >>> 32 & 0x80000000L) | 0x7F800000L | (q >>> 29 & 0x7FFFFFL);
        }
        double x = value(operand(v, true), true);
        if (Double.isInfinite(x) || x == 0) return bits(x, false);
        return round(x, 0, false);
    }
}
