package device.pci_passthru.internal;

/** Little-endian reads and writes of configuration-space images, as PCI lays registers out. */
public final class ConfigBytes {
    private ConfigBytes() {
    }

    /** The mask of a {@code size}-byte access: all ones in its low {@code size} bytes. */
    public static long ones(int size) {
        return size >= 8 ? -1L : (1L << (8 * size)) - 1;
    }

    public static int u16(byte[] b, int o) {
        return (b[o] & 0xff) | (b[o + 1] & 0xff) << 8;
    }

    public static int i32(byte[] b, int o) {
        return u16(b, o) | u16(b, o + 2) << 16;
    }

    public static int get(byte[] b, int o, int len) {
        int v = 0;
        for (int i = 0; i < len; i++) v |= (b[o + i] & 0xff) << (8 * i);
        return v;
    }

    public static void put16(byte[] b, int o, int v) {
        b[o] = (byte) v;
        b[o + 1] = (byte) (v >>> 8);
    }

    public static void put32(byte[] b, int o, int v) {
        put16(b, o, v);
        put16(b, o + 2, v >>> 16);
    }
}
