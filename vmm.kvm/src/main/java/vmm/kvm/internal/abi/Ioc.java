package vmm.kvm.internal.abi;

/**
 * Linux's ioctl request encoding ({@code asm-generic/ioctl.h}, used by x86):
 * direction in bits 31..30, argument size in 29..16, type in 15..8, number in 7..0.
 */
public final class Ioc {
    public static final int NONE = 0, WRITE = 1, READ = 2;
    private static final int SIZE_BITS = 14;

    private Ioc() {}

    public static long ioc(int dir, int type, int nr, long size) {
        if (size < 0 || size >= 1 << SIZE_BITS) throw new IllegalArgumentException("ioctl argument size " + size + " does not fit 14 bits");
        return ((long) dir << 30 | size << 16 | (long) type << 8 | nr) & 0xFFFF_FFFFL;
    }

    /** {@code _IO(type, nr)}: no argument struct. */
    public static long io(int type, int nr) {
        return ioc(NONE, type, nr, 0);
    }

    /** {@code _IOR(type, nr, T)}: the kernel writes a T. */
    public static long ior(int type, int nr, long size) {
        return ioc(READ, type, nr, size);
    }

    /** {@code _IOW(type, nr, T)}: the kernel reads a T. */
    public static long iow(int type, int nr, long size) {
        return ioc(WRITE, type, nr, size);
    }

    /** {@code _IOWR(type, nr, T)}: both. */
    public static long iowr(int type, int nr, long size) {
        return ioc(READ | WRITE, type, nr, size);
    }
}
