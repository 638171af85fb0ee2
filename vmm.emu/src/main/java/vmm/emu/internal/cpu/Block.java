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
    volatile boolean valid = true;

    Block(long pa, int codeBits, Insn[] insns, MemorySegment host, long hostOffset, byte[] bytes) {
        this.pa = pa;
        this.codeBits = codeBits;
        this.insns = insns;
        this.host = host;
        this.hostOffset = hostOffset;
        this.bytes = MemorySegment.ofArray(bytes);
    }

    /** Whether guest memory still holds the bytes this block was decoded from. */
    boolean unchanged() {
        long n = bytes.byteSize();
        return MemorySegment.mismatch(host, hostOffset, hostOffset + n, bytes, 0, n) < 0;
    }
}
