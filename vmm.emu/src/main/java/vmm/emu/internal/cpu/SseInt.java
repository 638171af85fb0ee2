package vmm.emu.internal.cpu;

/**
 * The SSE2 packed-integer arithmetic (66 0F xx): add and subtract (wrapping and saturating),
 * compares, minimum and maximum, averages, multiplies, sums of absolute differences, unpacks and
 * packs with saturation. Lanes are taken zero-extended and sign-extended where the instruction
 * is signed.
 */
final class SseInt {
    private SseInt() {
    }

    /** A lane operation on two lanes of {@code size} bytes (zero-extended); the result is masked to the lane. */
    interface LaneOp {
        long apply(long a, long b, int size);
    }

    /** A lane-wise operation: its lane size in bytes and what it does to each pair of lanes. */
    record Lanes(int size, LaneOp f) {
        /** The operation on one quadword of each operand. */
        long apply(long a, long b) {
            if (size == 8) return f.apply(a, b, 8);
            int bits = size * 8;
            long out = 0;
            for (int i = 0; i < 8 / size; i++) {
                long v = f.apply(a >>> (bits * i) & Cpu.mask(size), b >>> (bits * i) & Cpu.mask(size), size);
                out |= (v & Cpu.mask(size)) << (bits * i);
            }
            return out;
        }
    }

    /**
     * The lane-wise operation of opcode {@code op} (0F xx; the SSE2 forms take 66, the MMX forms none), or null
     * when {@code op} is not one: add, subtract, compare, minimum, maximum, average, multiply, PSADBW.
     */
    static Lanes lanes(int op) {
        return switch (op) {
            case 0x64, 0x65, 0x66 -> new Lanes(1 << (op - 0x64), (a, b, n) -> Cpu.sx(a, n) > Cpu.sx(b, n) ? -1 : 0);
            case 0x74, 0x75, 0x76 -> new Lanes(1 << (op - 0x74), (a, b, n) -> a == b ? -1 : 0);
            case 0xFC, 0xFD, 0xFE, 0xD4 -> new Lanes(op == 0xD4 ? 8 : 1 << (op - 0xFC), (a, b, n) -> a + b);
            case 0xF8, 0xF9, 0xFA, 0xFB -> new Lanes(1 << (op - 0xF8), (a, b, n) -> a - b);
            case 0xEC, 0xED -> new Lanes(op - 0xEB, (a, b, n) -> sat(Cpu.sx(a, n) + Cpu.sx(b, n), n));
            case 0xE8, 0xE9 -> new Lanes(op - 0xE7, (a, b, n) -> sat(Cpu.sx(a, n) - Cpu.sx(b, n), n));
            case 0xDC, 0xDD -> new Lanes(op - 0xDB, (a, b, n) -> Math.min(a + b, Cpu.mask(n)));
            case 0xD8, 0xD9 -> new Lanes(op - 0xD7, (a, b, n) -> Math.max(a - b, 0));
            case 0xDA -> new Lanes(1, (a, b, n) -> Math.min(a, b));
            case 0xDE -> new Lanes(1, (a, b, n) -> Math.max(a, b));
            case 0xEA -> new Lanes(2, (a, b, n) -> Math.min(Cpu.sx(a, n), Cpu.sx(b, n)));
            case 0xEE -> new Lanes(2, (a, b, n) -> Math.max(Cpu.sx(a, n), Cpu.sx(b, n)));
            case 0xE0, 0xE3 -> new Lanes(op == 0xE0 ? 1 : 2, (a, b, n) -> (a + b + 1) >>> 1);
            case 0xD5 -> new Lanes(2, (a, b, n) -> a * b);
            case 0xE5 -> new Lanes(2, (a, b, n) -> Cpu.sx(a, n) * Cpu.sx(b, n) >> 16);
            case 0xE4 -> new Lanes(2, (a, b, n) -> a * b >>> 16);
            case 0xF4 -> new Lanes(8, (a, b, n) -> (a & 0xFFFFFFFFL) * (b & 0xFFFFFFFFL));
            case 0xF5 -> new Lanes(4,
                    (a, b, n) -> (long) (short) a * (short) b + (long) (short) (a >>> 16) * (short) (b >>> 16));
            case 0xF6 -> new Lanes(8, (a, b, n) -> {
                long sum = 0;
                for (int i = 0; i < 8; i++) sum += Math.abs((a >>> (8 * i) & 0xFF) - (b >>> (8 * i) & 0xFF));
                return sum;
            });
            default -> null;
        };
    }

    /** Runs the opcode if it is one of this group; false when it is not (the caller raises #UD). */
    static boolean exec(Cpu c, Insn d, int p) {
        int op = d.op & 0xFF;
        switch (op) {
            case 0x60, 0x61, 0x62, 0x68, 0x69, 0x6A, 0x6C, 0x6D -> {
                Sse.need66(c, d, p);
                int sz = switch (op) {
                    case 0x60, 0x68 -> 1;
                    case 0x61, 0x69 -> 2;
                    case 0x62, 0x6A -> 4;
                    default -> 8;
                };
                Sse.unpack(c, d.reg, Sse.src(c, d, true), sz, op >= 0x68 && op != 0x6C);
                return true;
            }
            case 0x63, 0x67, 0x6B -> {
                Sse.need66(c, d, p);
                pack(c, d.reg, Sse.src(c, d, true), op == 0x6B ? 4 : 2, op == 0x67);
                return true;
            }
            default -> {
            }
        }
        Lanes l = lanes(op);
        if (l == null) return false;
        Sse.need66(c, d, p);
        long[] s = Sse.src(c, d, true);
        long[] x = c.fpu.xmm;
        int r = d.reg;
        x[2 * r] = l.apply(x[2 * r], s[0]);
        x[2 * r + 1] = l.apply(x[2 * r + 1], s[1]);
        return true;
    }

    /** Signed saturation to a lane of {@code size} bytes. */
    static long sat(long v, int size) {
        long max = (1L << (8 * size - 1)) - 1;
        return Math.max(-max - 1, Math.min(max, v));
    }

    /** PACKSSWB, PACKUSWB (lanes of 2 to 1), PACKSSDW (4 to 2): the destination's lanes, then the source's. */
    private static void pack(Cpu c, int r, long[] s, int from, boolean unsigned) {
        long[] a = {c.fpu.xmm[2 * r], c.fpu.xmm[2 * r + 1]};
        int to = from / 2, n = 16 / from, bits = to * 8;
        long[] out = new long[2];
        for (int i = 0; i < 2 * n; i++) {
            long v = Cpu.sx(Sse.lane(i < n ? a : s, from, i % n), from);
            long w = unsigned ? Math.max(0, Math.min(Cpu.mask(to), v)) : sat(v, to);
            int per = 8 / to;
            out[i / per] |= (w & Cpu.mask(to)) << (bits * (i % per));
        }
        Sse.set(c, r, out);
    }
}
