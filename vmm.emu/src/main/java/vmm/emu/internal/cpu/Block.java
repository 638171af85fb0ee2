package vmm.emu.internal.cpu;

import java.lang.foreign.MemorySegment;

/**
 * A run of decoded instructions from one page, ending at the first control
 * transfer, mode change or the page's end. Keeps the bytes it was decoded
 * from, to notice memory changed under it by a writer the CPU does not see.
 */
final class Block {
    final long pa;
    final int codeBits;
    final Insn[] insns;
    final MemorySegment host;
    final long hostOffset;
    final MemorySegment bytes;
    /** The bytes as little-endian longs, the last one padded with zeros, compared against memory on entry. */
    private final long[] words;
    private final int length;

    /** Cleared when a CPU write reaches the page; not volatile: another vCPU's write needs serialization anyway. */
    boolean valid = true;

    Block(long pa, int codeBits, Insn[] insns, MemorySegment host, long hostOffset, byte[] bytes) {
        this.pa = pa;
        this.codeBits = codeBits;
        this.insns = insns;
        this.host = host;
        this.hostOffset = hostOffset;
        this.bytes = MemorySegment.ofArray(bytes);
        this.length = bytes.length;
        this.words = new long[(bytes.length + 7) / 8];
        for (int i = 0; i < bytes.length; i++) words[i / 8] |= (bytes[i] & 0xFFL) << (8 * (i % 8));
    }

    /** Whether guest memory still holds the bytes this block was decoded from. */
    boolean unchanged() {
        int full = length / 8;
        for (int i = 0; i < full; i++)
            if (host.get(PhysicalMemory.LE64, hostOffset + 8L * i) != words[i]) return false;
        int rest = length - full * 8;
        if (rest == 0) return true;
        long at = hostOffset + 8L * full;
        // The tail's bytes: read a whole long when the page has room after it, else byte by byte.
        long v;
        if (at + 8 <= host.byteSize()) {
            v = host.get(PhysicalMemory.LE64, at) & ((1L << (8 * rest)) - 1);
        } else {
            v = 0;
            for (int k = rest - 1; k >= 0; k--)
                v = v << 8 | (host.get(java.lang.foreign.ValueLayout.JAVA_BYTE, at + k) & 0xFF);
        }
        return v == words[full];
    }
}
