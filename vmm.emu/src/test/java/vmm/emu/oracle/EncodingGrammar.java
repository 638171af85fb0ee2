package vmm.emu.oracle;

import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * Byte sequences for the decoder comparison, from a small grammar of x86 encodings (Intel SDM
 * vol. 2, chapter 2): up to four legacy prefixes from the five groups, in 64-bit mode a REX
 * (usually just before the opcode, sometimes before a legacy prefix, where hardware ignores it),
 * an opcode from the one-byte map or the 0F, 0F38 and 0F3A maps, then a ModRM biased toward the
 * forms with a SIB byte and with a bare disp32 or RIP-relative address, a SIB biased toward the
 * no-base form, and random bytes for displacements and immediates, up to 15 bytes in all. One
 * sequence in eight is purely random bytes. Deterministic for a given random generator.
 */
public final class EncodingGrammar {
    /** The legacy prefixes: operand size, address size, REPNE, REP, the six segments, LOCK. */
    static final int[] LEGACY = {0x66, 0x67, 0xF2, 0xF3, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65, 0xF0};

    private final Mode mode;
    private final RandomGenerator random;

    public EncodingGrammar(Mode mode, RandomGenerator random) {
        this.mode = mode;
        this.random = random;
    }

    /** {@code count} sequences of 1 to 15 bytes. */
    public List<byte[]> sequences(int count) {
        List<byte[]> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) out.add(next());
        return out;
    }

    /** One sequence of 1 to 15 bytes. */
    public byte[] next() {
        if (random.nextInt(8) == 0) {
            byte[] b = new byte[1 + random.nextInt(Objdump.MAX_LENGTH)];
            random.nextBytes(b);
            return b;
        }
        byte[] b = new byte[Objdump.MAX_LENGTH];
        int n = 0;
        int prefixes = random.nextInt(10) < 6 ? 0 : 1 + random.nextInt(random.nextInt(8) == 0 ? 4 : 2);
        boolean rex = mode == Mode.BITS64 && random.nextInt(5) < 2;
        int misplacedRex = rex && prefixes > 0 && random.nextInt(6) == 0 ? random.nextInt(prefixes) : -1;
        for (int i = 0; i < prefixes; i++) {
            if (i == misplacedRex) b[n++] = (byte) (0x40 | random.nextInt(16));
            b[n++] = (byte) LEGACY[random.nextInt(LEGACY.length)];
        }
        if (rex) b[n++] = (byte) (0x40 | random.nextInt(16));
        switch (random.nextInt(10)) {
            case 0, 1, 2 -> {                      // the 0F map, and a few of the three-byte maps
                b[n++] = 0x0F;
                int second = random.nextInt(256);
                if (random.nextInt(8) == 0) second = random.nextBoolean() ? 0x38 : 0x3A;
                b[n++] = (byte) second;
                if (second == 0x38 || second == 0x3A) b[n++] = (byte) random.nextInt(256);
            }
            default -> b[n++] = (byte) oneByteOpcode();
        }
        b[n++] = (byte) modrm();
        int sib = random.nextInt(256);
        if (random.nextInt(4) == 0) sib = (sib & 0xF8) | 0x05;   // no base with mod 00: a disp32
        b[n++] = (byte) sib;
        while (n < b.length) b[n++] = (byte) random.nextInt(256);
        return b;
    }

    /** An opcode of the one-byte map that is not a prefix (nor, in 64-bit mode, a REX). */
    private int oneByteOpcode() {
        while (true) {
            int op = random.nextInt(256);
            if (op == 0x0F) continue;
            if (mode == Mode.BITS64 && (op & 0xF0) == 0x40) continue;
            boolean prefix = false;
            for (int p : LEGACY) prefix |= p == op;
            if (!prefix) return op;
        }
    }

    private int modrm() {
        int m = random.nextInt(256);
        return switch (random.nextInt(8)) {
            case 0 -> (m & 0xF8) | 0x04;                    // a SIB follows (32/64-bit addressing)
            case 1 -> (m & 0x38) | 0x05;                    // mod 00 rm 101: disp32, RIP-relative in 64-bit
            case 2 -> (m & 0x38) | 0x06;                    // mod 00 rm 110: disp16 in 16-bit addressing
            default -> m;
        };
    }
}
