package vmm.emu.internal.cpu;

/**
 * Integer arithmetic and the lazy flags: an arithmetic instruction records its
 * operation and operands, and the six status flags are computed only when
 * something reads them. Shifts, multiplies and the BCD adjusts set the flags
 * eagerly.
 */
final class Alu {
    static final int EAGER = 0, ADD = 1, ADC = 2, SUB = 3, SBB = 4, LOGIC = 5, INC = 6, DEC = 7;

    private static final boolean[] PARITY = new boolean[256];

    static {
        for (int i = 0; i < 256; i++) PARITY[i] = Integer.bitCount(i) % 2 == 0;
    }

    private Alu() {
    }

    static long parity(long v) {
        return PARITY[(int) v & 0xFF] ? Cpu.PF : 0;
    }

    private static void lazy(Cpu c, int op, int size, long dst, long src, long res) {
        c.lazyOp = op;
        c.lazySize = size;
        c.lazyDst = dst;
        c.lazySrc = src;
        c.lazyRes = res;
    }

    /** The carry flag of the recorded operation. */
    static boolean carry(Cpu c) {
        long m = Cpu.mask(c.lazySize);
        long d = c.lazyDst & m, s = c.lazySrc & m, r = c.lazyRes & m;
        return switch (c.lazyOp) {
            case ADD -> Long.compareUnsigned(r, d) < 0;
            case ADC -> Long.compareUnsigned(r, d) < 0 || (r == d && s != 0);
            case SUB -> Long.compareUnsigned(d, s) < 0;
            case SBB -> Long.compareUnsigned(d, s) < 0 || (d == s && r != 0);
            case INC, DEC -> c.lazyCarryIn;
            default -> false;
        };
    }

    /** The overflow flag of the recorded operation, without the other five (signed conditions ask for it often). */
    static boolean overflow(Cpu c) {
        int top = c.lazySize * 8 - 1;
        long d = c.lazyDst, s = c.lazySrc, r = c.lazyRes;
        return switch (c.lazyOp) {
            case ADD, ADC, INC -> (((d ^ r) & (s ^ r)) >>> top & 1) != 0;
            case SUB, SBB, DEC -> (((d ^ s) & (d ^ r)) >>> top & 1) != 0;
            default -> false;
        };
    }

    /** The six status flags of the recorded operation. */
    static long evaluate(Cpu c) {
        int bits = c.lazySize * 8;
        long m = Cpu.mask(c.lazySize);
        long d = c.lazyDst, s = c.lazySrc, r = c.lazyRes & m;
        long f = parity(r);
        if (r == 0) f |= Cpu.ZF;
        if (((r >>> (bits - 1)) & 1) != 0) f |= Cpu.SF;
        if (carry(c)) f |= Cpu.CF;
        switch (c.lazyOp) {
            case ADD, ADC, INC -> {
                if ((((d ^ r) & (s ^ r)) >>> (bits - 1) & 1) != 0) f |= Cpu.OF;
                f |= (d ^ s ^ r) & Cpu.AF;
            }
            case SUB, SBB, DEC -> {
                if ((((d ^ s) & (d ^ r)) >>> (bits - 1) & 1) != 0) f |= Cpu.OF;
                f |= (d ^ s ^ r) & Cpu.AF;
            }
            default -> {
            }
        }
        return f;
    }

    /** The eight classic ALU operations (ADD OR ADC SBB AND SUB XOR CMP), result masked; CMP returns dst. */
    static long op(Cpu c, int which, long dst, long src, int size) {
        long m = Cpu.mask(size);
        dst &= m;
        src &= m;
        long res;
        switch (which) {
            case 0 -> { res = dst + src; lazy(c, ADD, size, dst, src, res); }
            case 1 -> { res = dst | src; lazy(c, LOGIC, size, dst, src, res); }
            case 2 -> {
                long cin = c.cf() ? 1 : 0;
                res = dst + src + cin;
                lazy(c, cin != 0 ? ADC : ADD, size, dst, src, res);
            }
            case 3 -> {
                long cin = c.cf() ? 1 : 0;
                res = dst - src - cin;
                lazy(c, cin != 0 ? SBB : SUB, size, dst, src, res);
            }
            case 4 -> { res = dst & src; lazy(c, LOGIC, size, dst, src, res); }
            case 5, 7 -> { res = dst - src; lazy(c, SUB, size, dst, src, res); }
            default -> { res = dst ^ src; lazy(c, LOGIC, size, dst, src, res); }
        }
        return which == 7 ? dst : res & m;
    }

    static long inc(Cpu c, long v, int size) {
        boolean cf = c.cf();
        long res = (v + 1) & Cpu.mask(size);
        lazy(c, INC, size, v, 1, res);
        c.lazyCarryIn = cf;
        return res;
    }

    static long dec(Cpu c, long v, int size) {
        boolean cf = c.cf();
        long res = (v - 1) & Cpu.mask(size);
        lazy(c, DEC, size, v, 1, res);
        c.lazyCarryIn = cf;
        return res;
    }

    static long neg(Cpu c, long v, int size) {
        long res = -v & Cpu.mask(size);
        lazy(c, SUB, size, 0, v, res);
        return res;
    }

    static void logic(Cpu c, long res, int size) {
        lazy(c, LOGIC, size, 0, 0, res);
    }

    /** Sets the arithmetic flags to exactly {@code f} (and only those). */
    static void setArith(Cpu c, long f) {
        // All six status flags are replaced, and the others are always eager in c.flags: the recorded operation
        // needs no evaluation first (materialize would compute the six only to drop them).
        c.flags = (c.flags & ~Cpu.ARITH) | (f & Cpu.ARITH);
        c.lazyOp = EAGER;
    }

    /** SF, ZF and PF of a result, for eager operations. */
    static long szp(long r, int size) {
        long m = Cpu.mask(size);
        r &= m;
        long f = parity(r);
        if (r == 0) f |= Cpu.ZF;
        if (((r >>> (size * 8 - 1)) & 1) != 0) f |= Cpu.SF;
        return f;
    }

    // ---- multiply and divide (F6/F7 /4../7, 0F AF, 69, 6B) ----

    /** MUL or IMUL of the accumulator (one-operand form); CF=OF=1 when the high half is significant. */
    static void mulAcc(Cpu c, long src, int size, boolean signed) {
        long a = c.reg(Cpu.RAX, size);
        long lo, hi;
        if (size == 8) {
            lo = a * src;
            hi = signed ? Math.multiplyHigh(a, src) : Math.unsignedMultiplyHigh(a, src);
        } else {
            long p = signed ? Cpu.sx(a, size) * Cpu.sx(src, size) : a * (src & Cpu.mask(size));
            lo = p & Cpu.mask(size);
            hi = (p >> (size * 8)) & Cpu.mask(size);
        }
        boolean significant = signed ? hi != (Cpu.sx(lo, size) >> 63 & Cpu.mask(size)) : (hi & Cpu.mask(size)) != 0;
        if (size == 1) {
            c.setReg(Cpu.RAX, 2, (hi & 0xFF) << 8 | (lo & 0xFF));
        } else {
            c.setReg(Cpu.RAX, size, lo);
            c.setReg(Cpu.RDX, size, hi);
        }
        setArith(c, szp(lo, size) | (significant ? Cpu.CF | Cpu.OF : 0));
    }

    /** IMUL with a truncated result (two- and three-operand forms). */
    static long imul(Cpu c, long a, long b, int size) {
        long sa = Cpu.sx(a, size), sb = Cpu.sx(b, size);
        long lo = sa * sb;
        boolean overflow = size == 8 ? Math.multiplyHigh(sa, sb) != (lo >> 63) : Cpu.sx(lo, size) != lo;
        setArith(c, szp(lo, size) | (overflow ? Cpu.CF | Cpu.OF : 0));
        return lo & Cpu.mask(size);
    }

    /** DIV or IDIV of (E/R)DX:(E/R)AX (AX for bytes); #DE on a zero divisor or a quotient that does not fit. */
    static void div(Cpu c, long divisor, int size, boolean signed) {
        long m = Cpu.mask(size);
        divisor &= m;
        if (divisor == 0) throw CpuFault.de();
        long q, rem;
        if (size == 8 && !signed && c.r[Cpu.RDX] == 0) {
            // A dividend that fits in RAX (most 64-bit divisions; the kernel's div64 helpers among them): no
            // 128-bit arithmetic, and the quotient always fits.
            long lo = c.r[Cpu.RAX];
            q = Long.divideUnsigned(lo, divisor);
            rem = Long.remainderUnsigned(lo, divisor);
        } else if (size == 8 && signed && c.r[Cpu.RDX] == c.r[Cpu.RAX] >> 63) {
            // RDX:RAX is RAX sign-extended (CQO): Java's division truncates as IDIV does; only MIN / -1 overflows.
            long lo = c.r[Cpu.RAX];
            if (lo == Long.MIN_VALUE && divisor == -1) throw CpuFault.de();
            q = lo / divisor;
            rem = lo % divisor;
        } else if (size == 8) {
            long hi = c.r[Cpu.RDX], lo = c.r[Cpu.RAX];
            java.math.BigInteger n = java.math.BigInteger.valueOf(hi).shiftLeft(64)
                    .or(new java.math.BigInteger(Long.toUnsignedString(lo)));
            java.math.BigInteger dv;
            if (signed) {
                dv = java.math.BigInteger.valueOf(divisor);
            } else {
                if (n.signum() < 0) n = n.add(java.math.BigInteger.ONE.shiftLeft(128));
                dv = new java.math.BigInteger(Long.toUnsignedString(divisor));
            }
            java.math.BigInteger[] qr = n.divideAndRemainder(dv);
            java.math.BigInteger qq = qr[0];
            boolean fits = signed ? qq.bitLength() <= 63 : qq.signum() >= 0 && qq.bitLength() <= 64;
            if (!fits) throw CpuFault.de();
            q = qq.longValue();
            rem = qr[1].longValue();
        } else {
            int bits = size * 8;
            long n = size == 1 ? c.reg(Cpu.RAX, 2) : c.reg(Cpu.RDX, size) << bits | c.reg(Cpu.RAX, size);
            if (signed) {
                long sn = size == 4 ? n : Cpu.sx(n, size * 2);
                long sd = Cpu.sx(divisor, size);
                if (size == 4 && sn == Long.MIN_VALUE && sd == -1) throw CpuFault.de();
                q = sn / sd;
                rem = sn % sd;
                if (q != Cpu.sx(q, size)) throw CpuFault.de();
            } else {
                q = Long.divideUnsigned(n, divisor);
                rem = Long.remainderUnsigned(n, divisor);
                if (Long.compareUnsigned(q, m) > 0) throw CpuFault.de();
            }
        }
        if (size == 1) {
            c.setReg(Cpu.RAX, 2, (rem & 0xFF) << 8 | (q & 0xFF));
        } else {
            c.setReg(Cpu.RAX, size, q);
            c.setReg(Cpu.RDX, size, rem);
        }
    }

    // ---- BCD and ASCII adjust ----

    static void daa(Cpu c) {
        long f = c.rflags();
        int al = (int) c.reg(Cpu.RAX, 1), old = al;
        boolean cf = (f & Cpu.CF) != 0, af = false;
        if ((al & 0xF) > 9 || (f & Cpu.AF) != 0) {
            al += 6;
            af = true;
        }
        boolean ncf = false;
        if (old > 0x99 || cf) {
            al += 0x60;
            ncf = true;
        }
        al &= 0xFF;
        c.setReg(Cpu.RAX, 1, al);
        setArith(c, szp(al, 1) | (ncf ? Cpu.CF : 0) | (af ? Cpu.AF : 0));
    }

    static void das(Cpu c) {
        long f = c.rflags();
        int al = (int) c.reg(Cpu.RAX, 1), old = al;
        boolean cf = (f & Cpu.CF) != 0, af = false, ncf = false;
        if ((al & 0xF) > 9 || (f & Cpu.AF) != 0) {
            ncf = cf || al < 6; // SDM: CF <- old CF or the borrow of AL - 6
            al -= 6;
            af = true;
        }
        if (old > 0x99 || cf) {
            al -= 0x60;
            ncf = true;
        }
        al &= 0xFF;
        c.setReg(Cpu.RAX, 1, al);
        setArith(c, szp(al, 1) | (ncf ? Cpu.CF : 0) | (af ? Cpu.AF : 0));
    }

    /** AAA (add) or AAS (subtract). */
    static void aaaAas(Cpu c, boolean add) {
        long f = c.rflags();
        int ax = (int) c.reg(Cpu.RAX, 2);
        boolean adjust = (ax & 0xF) > 9 || (f & Cpu.AF) != 0;
        if (adjust) {
            ax = add ? ax + 0x106 : ax - 0x106;
        }
        ax = (ax & 0xFF0F);
        c.setReg(Cpu.RAX, 2, ax);
        setArith(c, (adjust ? Cpu.CF | Cpu.AF : 0) | (f & (Cpu.SF | Cpu.ZF | Cpu.PF)));
    }

    static void aam(Cpu c, int base) {
        if (base == 0) throw CpuFault.de();
        int al = (int) c.reg(Cpu.RAX, 1);
        int ax = (al / base) << 8 | (al % base);
        c.setReg(Cpu.RAX, 2, ax);
        setArith(c, szp(ax & 0xFF, 1));
    }

    static void aad(Cpu c, int base) {
        int ax = (int) c.reg(Cpu.RAX, 2);
        int al = ((ax & 0xFF) + (ax >>> 8) * base) & 0xFF;
        c.setReg(Cpu.RAX, 2, al);
        setArith(c, szp(al, 1));
    }
}
