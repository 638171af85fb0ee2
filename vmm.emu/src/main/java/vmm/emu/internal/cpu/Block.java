package vmm.emu.internal.cpu;

import java.lang.foreign.MemorySegment;

/**
 * A run of decoded instructions from one page, ending at the first control
 * transfer other than a Jcc, mode change or the page's end: a block goes on
 * past a Jcc into its fall-through path (a superblock; a taken Jcc leaves it
 * there). Keeps the bytes it was decoded from, to notice memory changed under
 * it by a writer the CPU does not see.
 */
public final class Block {
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

    /** Runs of this block so far, until it is handed to the translator (racy across vCPUs; only a heuristic). */
    int runs;
    /** The block as JVM bytecode, set once by the translator; null while it runs interpreted. */
    volatile TranslatedBlock translated;
    /** How many of {@link #insns}, from the first, {@link #translated} covers. */
    volatile int translatedInsns;

    /** The decoded instructions (shared; the caller must not change them). */
    public Insn[] insns() {
        return insns;
    }

    /** The guest-physical address of the first instruction. */
    public long pa() {
        return pa;
    }

    /** 16, 32 or 64: the code size the block was decoded for. */
    public int codeBits() {
        return codeBits;
    }

    /** Installs the translation of the first {@code count} instructions; any thread, once. */
    public void install(TranslatedBlock code, int count) {
        translatedInsns = count;
        translated = code;
    }

    /**
     * A lookup with full access to this package, for the translator to define its hidden classes here (they use
     * the package's semantics helpers). Only the translator may use it.
     */
    public static java.lang.invoke.MethodHandles.Lookup translatorLookup() {
        return java.lang.invoke.MethodHandles.lookup();
    }

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
