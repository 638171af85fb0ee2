package vmm.emu.internal.cpu;

/**
 * Shifts, rotates (RCL/RCR through the carry), double shifts and the bit
 * instructions. Flags are set eagerly; where the manuals leave a flag
 * undefined the choice is the one current Intel and AMD parts share for the
 * common counts (OF as for a count of 1).
 */
final class Shifts {
    private Shifts() {
    }

    /** Group 2 (C0, C1, D0-D3): ROL ROR RCL RCR SHL SHR SAL SAR by {@code which}. */
    static long shift(Cpu c, int which, long v, int count, int size) {
        int bits = size * 8;
        long m = Cpu.mask(size);
        v &= m;
        count &= size == 8 ? 0x3F : 0x1F;
        if (count == 0) return v;
        // Only the rotates keep flags (and RCL/RCR read CF): the shifts set all of theirs, and materializing the
        // lazy flags for them (Alu.evaluate) was wasted work on every shift.
        long f = which < 4 ? c.rflags() : 0;
        boolean cf = (f & Cpu.CF) != 0;
        long res;
        boolean of;
        switch (which) {
            case 0 -> { // ROL
                int n = count % bits;
                res = n == 0 ? v : ((v << n) | (v >>> (bits - n))) & m;
                cf = (res & 1) != 0;
                of = (((res >>> (bits - 1)) & 1) != 0) != cf;
                return rotFlags(c, f, res, cf, of);
            }
            case 1 -> { // ROR
                int n = count % bits;
                res = n == 0 ? v : ((v >>> n) | (v << (bits - n))) & m;
                cf = ((res >>> (bits - 1)) & 1) != 0;
                of = cf != (((res >>> (bits - 2)) & 1) != 0);
                return rotFlags(c, f, res, cf, of);
            }
            case 2 -> { // RCL
                int n = count % (bits + 1);
                res = v;
                for (int i = 0; i < n; i++) {
                    boolean out = ((res >>> (bits - 1)) & 1) != 0;
                    res = ((res << 1) | (cf ? 1 : 0)) & m;
                    cf = out;
                }
                of = (((res >>> (bits - 1)) & 1) != 0) != cf;
                return rotFlags(c, f, res, cf, of);
            }
            case 3 -> { // RCR
                int n = count % (bits + 1);
                res = v;
                of = (((res >>> (bits - 1)) & 1) != 0) != cf;
                for (int i = 0; i < n; i++) {
                    boolean out = (res & 1) != 0;
                    res = (res >>> 1) | ((cf ? 1L : 0) << (bits - 1));
                    cf = out;
                }
                return rotFlags(c, f, res & m, cf, of);
            }
            case 4, 6 -> { // SHL/SAL
                res = count >= 64 ? 0 : (v << count) & m;
                cf = count <= bits && ((v >>> (bits - count)) & 1) != 0;
                of = (((res >>> (bits - 1)) & 1) != 0) != cf;
            }
            case 5 -> { // SHR
                res = count >= 64 ? 0 : v >>> count;
                cf = ((v >>> (count - 1)) & 1) != 0;
                of = ((v >>> (bits - 1)) & 1) != 0;
            }
            default -> { // SAR
                long s = Cpu.sx(v, size);
                res = (s >> Math.min(count, 63)) & m;
                cf = ((s >> Math.min(count - 1, 63)) & 1) != 0;
                of = false;
            }
        }
        Alu.setArith(c, Alu.szp(res, size) | (cf ? Cpu.CF : 0) | (of ? Cpu.OF : 0));
        return res;
    }

    private static long rotFlags(Cpu c, long f, long res, boolean cf, boolean of) {
        Alu.setArith(c, (f & (Cpu.SF | Cpu.ZF | Cpu.PF | Cpu.AF)) | (cf ? Cpu.CF : 0) | (of ? Cpu.OF : 0));
        return res;
    }

    /** SHLD (left) or SHRD: shifts {@code dst}, filling from {@code src}. */
    static long doubleShift(Cpu c, long dst, long src, int count, int size, boolean left) {
        int bits = size * 8;
        long m = Cpu.mask(size);
        count &= size == 8 ? 0x3F : 0x1F;
        dst &= m;
        src &= m;
        if (count == 0) return dst;
        long res;
        boolean cf;
        if (count > bits) return dst; // undefined result for 16-bit counts above 16: leave the operand
        if (left) {
            res = ((dst << count) | (count == bits ? src : src >>> (bits - count))) & m;
            if (count == bits) res = src;
            cf = ((dst >>> (bits - count)) & 1) != 0;
        } else {
            res = ((dst >>> count) | (count == bits ? src : src << (bits - count))) & m;
            if (count == bits) res = src;
            cf = ((dst >>> (count - 1)) & 1) != 0;
        }
        boolean of = ((res ^ dst) >>> (bits - 1) & 1) != 0;
        Alu.setArith(c, Alu.szp(res, size) | (cf ? Cpu.CF : 0) | (of ? Cpu.OF : 0));
        return res;
    }

    /** BT/BTS/BTR/BTC on a value: CF = the bit; returns the new value ({@code which}: 0 BT, 1 BTS, 2 BTR, 3 BTC). */
    static long bitOp(Cpu c, long v, int bit, int which) {
        boolean set = ((v >>> bit) & 1) != 0;
        c.setFlag(Cpu.CF, set);
        return switch (which) {
            case 1 -> v | (1L << bit);
            case 2 -> v & ~(1L << bit);
            case 3 -> v ^ (1L << bit);
            default -> v;
        };
    }

    /** BSF (forward) or BSR: ZF when the source is zero, and then the destination is left as it was. */
    static long bitScan(Cpu c, long src, long dst, int size, boolean forward) {
        src &= Cpu.mask(size);
        if (src == 0) {
            Alu.setArith(c, Cpu.ZF);
            return dst;
        }
        Alu.setArith(c, 0);
        return forward ? Long.numberOfTrailingZeros(src) : 63 - Long.numberOfLeadingZeros(src);
    }
}
