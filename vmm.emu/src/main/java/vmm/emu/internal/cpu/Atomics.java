package vmm.emu.internal.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.function.LongUnaryOperator;

/**
 * LOCKed read-modify-write on guest RAM, atomic against the other vCPU
 * threads: a compare-and-set loop on the aligned int or long holding the
 * operand. Operands that straddle such a word, or that are not RAM, are done
 * under one VM-wide lock instead (hardware's bus lock).
 */
final class Atomics {
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();
    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();

    private Atomics() {
    }

    /** Applies {@code f} to the {@code size}-byte memory operand of {@code d} atomically; returns the old value. */
    static long rmw(Cpu c, Insn d, int size, LongUnaryOperator f) {
        return rmw(c, c.segOf(d), c.ea(d), size, f);
    }

    static long rmw(Cpu c, int s, long offset, int size, LongUnaryOperator f) {
        long lin = c.linear(s, offset, size, true);
        long[] out = new long[1];
        MemorySegment m = c.mmu.ramForWrite(lin, size, c.cpl == 3, out);
        long off = out[0];
        if (m != null && m.address() % 8 == 0) {
            long m8 = Cpu.mask(size);
            if ((off & 7) + size <= 8 && size == 8 || (off & 3) + size <= 4 && size <= 4 && (off & 7) + size <= 8) {
                if (size == 8) {
                    while (true) {
                        long old = (long) LONG.getVolatile(m, off);
                        long nv = f.applyAsLong(old);
                        if (LONG.compareAndSet(m, off, old, nv)) return old;
                    }
                }
                long word = off & ~3L;
                int shift = (int) (off - word) * 8;
                while (true) {
                    int w = (int) INT.getVolatile(m, word);
                    long old = (Integer.toUnsignedLong(w) >>> shift) & m8;
                    long nv = f.applyAsLong(old) & m8;
                    int nw = (int) ((Integer.toUnsignedLong(w) & ~(m8 << shift)) | nv << shift);
                    if (INT.compareAndSet(m, word, w, nw)) return old;
                }
            }
        }
        synchronized (c.mmu.phys) {
            long old = c.mmu.read(lin, size, c.cpl == 3);
            c.mmu.write(lin, size, f.applyAsLong(old), c.cpl == 3);
            return old;
        }
    }
}
