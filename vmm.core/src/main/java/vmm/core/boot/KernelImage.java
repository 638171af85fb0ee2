package vmm.core.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A kernel file, recognized and checked: an ELF {@code vmlinux} with a PVH
 * entry note, or a bzImage speaking the 64-bit boot protocol. Parsing only
 * reads the bytes; nothing is loaded.
 */
sealed interface KernelImage permits KernelImage.PvhElf, KernelImage.BzImage {

    /** The file's name, for messages. */
    String name();

    /** The first byte past what the kernel occupies in guest memory once loaded (and, for a bzImage, decompressed). */
    long end();

    /**
     * Recognizes {@code bytes}.
     *
     * @throws IllegalArgumentException naming {@code name} and what is wrong, for anything but a usable
     *                                  bzImage or PVH ELF
     */
    static KernelImage parse(String name, byte[] bytes) {
        if (bytes.length >= 4 && bytes[0] == 0x7f && bytes[1] == 'E' && bytes[2] == 'L' && bytes[3] == 'F')
            return PvhElf.parse(name, bytes);
        if (bytes.length >= BzImage.HDRS_OFFSET + 4
                && le(bytes).getInt(BzImage.HDRS_OFFSET) == BzImage.HDRS_MAGIC)
            return BzImage.parse(name, bytes);
        throw new IllegalArgumentException(name + ": not a Linux kernel: neither an ELF vmlinux with a PVH entry nor a bzImage"
                + " (no ELF magic, no \"HdrS\" at 0x202; " + bytes.length + " bytes)");
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** One PT_LOAD segment: file bytes at a physical address, zero-filled up to {@code memSize}. */
    record LoadSegment(long physAddr, long fileOffset, long fileSize, long memSize) {}

    /**
     * An ELF64 x86-64 {@code vmlinux} entered through PVH.
     *
     * @param entry the 32-bit physical entry point from {@code XEN_ELFNOTE_PHYS32_ENTRY}
     */
    record PvhElf(String name, byte[] bytes, long entry, List<LoadSegment> segments) implements KernelImage {
        static final int ELFCLASS64 = 2, ELFDATA2LSB = 1, EM_X86_64 = 62, PT_LOAD = 1, PT_NOTE = 4;
        static final int EHDR_SIZE = 64, PHDR_SIZE = 56;
        /** Xen's ELF note type for the 32-bit physical entry point (xen/include/public/elfnote.h). */
        static final int XEN_ELFNOTE_PHYS32_ENTRY = 18;
        static final String XEN_NOTE_NAME = "Xen";

        static PvhElf parse(String name, byte[] b) {
            if (b.length < EHDR_SIZE) throw new IllegalArgumentException(name + ": truncated ELF header (" + b.length + " bytes)");
            ByteBuffer h = le(b);
            if (b[4] != ELFCLASS64 || b[5] != ELFDATA2LSB || h.getShort(18) != EM_X86_64)
                throw new IllegalArgumentException(name + ": not a 64-bit little-endian x86-64 ELF file");
            long phoff = h.getLong(32);
            int phentsize = Short.toUnsignedInt(h.getShort(54)), phnum = Short.toUnsignedInt(h.getShort(56));
            // Compared as "what is left after phoff": phoff + the table's size may overflow a long.
            if (phentsize < PHDR_SIZE || phoff < 0 || phoff > b.length || (long) phentsize * phnum > b.length - phoff)
                throw new IllegalArgumentException(name + ": truncated ELF file: program headers past the end of the file");
            List<LoadSegment> loads = new ArrayList<>();
            long entry = -1;
            for (int i = 0; i < phnum; i++) {
                int p = (int) (phoff + (long) i * phentsize);
                int type = h.getInt(p);
                long off = h.getLong(p + 8), paddr = h.getLong(p + 24), filesz = h.getLong(p + 32), memsz = h.getLong(p + 40);
                if ((type == PT_LOAD || type == PT_NOTE)
                        && (off < 0 || filesz < 0 || off > b.length || filesz > b.length - off))
                    throw new IllegalArgumentException(name + ": truncated ELF file: segment " + i + " (offset " + off + ", "
                            + filesz + " bytes) ends past the file's " + b.length + " bytes");
                if (type == PT_LOAD && memsz > 0) {
                    if (memsz < filesz || paddr < 0 || paddr > (1L << 32) || memsz > (1L << 32) - paddr)
                        throw new IllegalArgumentException(name + ": ELF segment " + i + " is not loadable below 4 GiB (paddr 0x"
                                + Long.toHexString(paddr) + ", " + memsz + " bytes)");
                    loads.add(new LoadSegment(paddr, off, filesz, memsz));
                } else if (type == PT_NOTE && entry < 0) {
                    entry = pvhEntry(h, (int) off, (int) filesz);
                }
            }
            if (entry < 0)
                throw new IllegalArgumentException(name + ": ELF file without a PVH entry (no XEN_ELFNOTE_PHYS32_ENTRY note;"
                        + " a kernel built without CONFIG_PVH)");
            if (loads.isEmpty()) throw new IllegalArgumentException(name + ": ELF file without a loadable segment");
            return new PvhElf(name, b, entry, List.copyOf(loads));
        }

        /** The PHYS32_ENTRY note's value in the notes at {@code off}, or -1. */
        private static long pvhEntry(ByteBuffer h, int off, int len) {
            int p = off, end = off + len;
            while (p + 12 <= end) {
                int namesz = h.getInt(p), descsz = h.getInt(p + 4), type = h.getInt(p + 8);
                if (namesz < 0 || descsz < 0 || namesz > end - p || descsz > end - p) return -1; // also keeps align4 from overflowing
                int nameAt = p + 12, descAt = nameAt + align4(namesz);
                if (descAt + descsz > end) return -1;
                String noteName = new String(h.array(), nameAt, Math.max(0, namesz - 1), StandardCharsets.US_ASCII);
                if (type == XEN_ELFNOTE_PHYS32_ENTRY && noteName.equals(XEN_NOTE_NAME) && (descsz == 4 || descsz == 8))
                    return descsz == 4 ? Integer.toUnsignedLong(h.getInt(descAt)) : h.getLong(descAt) & 0xffff_ffffL;
                p = descAt + align4(descsz);
            }
            return -1;
        }

        private static int align4(int n) {
            return (n + 3) & ~3;
        }

        @Override
        public long end() {
            long e = 0;
            for (LoadSegment s : segments) e = Math.max(e, s.physAddr() + s.memSize());
            return e;
        }
    }

    /**
     * A bzImage: the real-mode setup, then the protected-mode kernel at
     * {@code (setup_sects + 1) * 512}. Fields are the setup header's (boot.rst).
     *
     * @param header       the setup header, bytes 0x1f1 up to its end as the jump at 0x200 says
     * @param loadAddress  where the protected-mode kernel goes: pref_address
     * @param initSize     init_size: the memory the kernel needs from its load address to decompress
     */
    record BzImage(String name, byte[] bytes, int version, byte[] header, int kernelOffset, long loadAddress,
                   long initSize, long initrdAddrMax, int cmdlineSize) implements KernelImage {
        static final int SETUP_SECTS = 0x1f1, BOOT_FLAG = 0x1fe, JUMP = 0x200, HDRS_OFFSET = 0x202, VERSION = 0x206;
        static final int LOADFLAGS = 0x211, INITRD_ADDR_MAX = 0x22c, RELOCATABLE_KERNEL = 0x234, XLOADFLAGS = 0x236;
        static final int CMDLINE_SIZE = 0x238, PREF_ADDRESS = 0x258, INIT_SIZE = 0x260;
        static final int HDRS_MAGIC = 0x5372_6448; // "HdrS"
        /** The oldest protocol with xloadflags and the 64-bit entry. */
        static final int MIN_VERSION = 0x020c;
        static final int XLF_KERNEL_64 = 1, LOADED_HIGH = 1;
        static final long ONE_MIB = 0x10_0000;

        static BzImage parse(String name, byte[] b) {
            ByteBuffer h = le(b);
            if (b.length < VERSION + 2) throw new IllegalArgumentException(name + ": truncated bzImage setup header");
            int version = Short.toUnsignedInt(h.getShort(VERSION));
            if (version < MIN_VERSION)
                throw new IllegalArgumentException(String.format("%s: bzImage boot protocol %d.%02d is too old; 2.12 or later"
                        + " (the 64-bit entry) is needed", name, version >> 8, version & 0xff));
            int headerEnd = JUMP + 2 + b[JUMP + 1]; // the jump at 0x200 skips exactly the header
            if (b.length < Math.max(headerEnd, PREF_ADDRESS + 12) || headerEnd < INIT_SIZE + 4)
                throw new IllegalArgumentException(name + ": truncated bzImage setup header");
            int setupSects = Byte.toUnsignedInt(b[SETUP_SECTS]);
            if (setupSects == 0) setupSects = 4; // boot.rst: 0 means 4
            int kernelOffset = (setupSects + 1) * 512;
            if (Short.toUnsignedInt(h.getShort(BOOT_FLAG)) != 0xaa55)
                throw new IllegalArgumentException(name + ": not a bzImage: boot_flag at 0x1fe is not 0xAA55");
            if ((h.getShort(XLOADFLAGS) & XLF_KERNEL_64) == 0)
                throw new IllegalArgumentException(name + ": bzImage without a 64-bit entry (XLF_KERNEL_64 not set)");
            if ((b[LOADFLAGS] & LOADED_HIGH) == 0)
                throw new IllegalArgumentException(name + ": zImage (not loaded high) is not supported");
            if (kernelOffset >= b.length)
                throw new IllegalArgumentException(name + ": truncated bzImage: " + b.length + " bytes, the kernel starts at " + kernelOffset);
            long pref = h.getLong(PREF_ADDRESS);
            long load = pref >= ONE_MIB && pref < (1L << 32) ? pref : ONE_MIB;
            long initSize = Integer.toUnsignedLong(h.getInt(INIT_SIZE));
            byte[] header = java.util.Arrays.copyOfRange(b, SETUP_SECTS, headerEnd);
            return new BzImage(name, b, version, header, kernelOffset, load, initSize,
                    Integer.toUnsignedLong(h.getInt(INITRD_ADDR_MAX)), h.getInt(CMDLINE_SIZE));
        }

        /** The protected-mode kernel's length in the file. */
        long kernelLength() {
            return bytes.length - kernelOffset;
        }

        @Override
        public long end() {
            return loadAddress + Math.max(initSize, kernelLength());
        }
    }
}
