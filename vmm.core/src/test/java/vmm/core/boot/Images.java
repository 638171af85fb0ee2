package vmm.core.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Small synthetic kernels with the layouts the boot protocols define, built byte by byte for the tests. */
final class Images {
    static final long ELF_PADDR = 0x10_0000, ELF_ENTRY = 0x10_0004;
    static final int ELF_FILESZ = 16, ELF_MEMSZ = 0x1000;
    static final byte[] ELF_CODE = "PVH-KERNEL-CODE!".getBytes(StandardCharsets.US_ASCII);

    private Images() {}

    /** An ELF64 x86-64 file: one PT_LOAD (16 bytes of file, a page in memory) and a PT_NOTE with Xen's PHYS32_ENTRY when {@code pvhNote}. */
    static byte[] elf(boolean pvhNote) {
        ByteBuffer b = ByteBuffer.allocate(0x200).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1});
        b.putShort(16, (short) 2).putShort(18, (short) 62).putInt(20, 1).putLong(24, 0xffffffff81000000L);
        b.putLong(32, 64).putShort(52, (short) 64).putShort(54, (short) 56).putShort(56, (short) 2);
        // phdr 0: PT_LOAD
        b.putInt(64, 1).putInt(68, 5).putLong(72, 0x100).putLong(80, 0xffffffff81000000L).putLong(88, ELF_PADDR)
                .putLong(96, ELF_FILESZ).putLong(104, ELF_MEMSZ).putLong(112, 0x1000);
        // phdr 1: PT_NOTE at 0x180: an unrelated note first, then Xen's
        b.putInt(120, 4).putInt(124, 4).putLong(128, 0x180).putLong(152, 48).putLong(160, 48);
        b.put(0x100, ELF_CODE);
        b.putInt(0x180, 4).putInt(0x184, 4).putInt(0x188, 1).put(0x18c, "GNU\0".getBytes(StandardCharsets.US_ASCII)).putInt(0x190, 0x1234);
        b.putInt(0x194, 4).putInt(0x198, 8).putInt(0x19c, pvhNote ? 18 : 17).put(0x1a0, "Xen\0".getBytes(StandardCharsets.US_ASCII))
                .putLong(0x1a4, ELF_ENTRY);
        return b.array();
    }

    static final int SETUP_SECTS = 3, KERNEL_OFFSET = (SETUP_SECTS + 1) * 512;
    static final long PREF_ADDRESS = 0x100_0000, INIT_SIZE = 0x80_0000;
    static final byte[] BZ_KERNEL = "BZIMAGE-PROTECTED-MODE-KERNEL...".getBytes(StandardCharsets.US_ASCII);

    /** A bzImage: the setup header (boot.rst) with {@code version} and {@code xloadflags}, then a 32-byte "kernel". */
    static byte[] bzImage(int version, int xloadflags, long initrdAddrMax, int cmdlineSize) {
        ByteBuffer b = ByteBuffer.allocate(KERNEL_OFFSET + BZ_KERNEL.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0x1f1, (byte) SETUP_SECTS);
        b.putShort(0x1fe, (short) 0xaa55);
        b.put(0x200, (byte) 0xeb).put(0x201, (byte) (0x26c - 0x202)); // jmp over the header, which ends at 0x26c
        b.put(0x202, "HdrS".getBytes(StandardCharsets.US_ASCII)).putShort(0x206, (short) version);
        b.put(0x211, (byte) 0x01); // LOADED_HIGH
        b.putInt(0x214, 0x100000).putInt(0x22c, (int) initrdAddrMax).putInt(0x230, 0x200000).put(0x234, (byte) 1);
        b.putShort(0x236, (short) xloadflags).putInt(0x238, cmdlineSize);
        b.putLong(0x258, PREF_ADDRESS).putInt(0x260, (int) INIT_SIZE);
        b.put(KERNEL_OFFSET, BZ_KERNEL);
        return b.array();
    }

    static byte[] bzImage() {
        return bzImage(0x020f, 0x3, 0x7fffffff, 2047);
    }
}
