package vmm.core.bus;

/**
 * Answers guest accesses to one registered range. Called on vCPU threads,
 * possibly several at once; an implementation guards its own state.
 * {@code offset} is relative to the range's base and {@code offset + size}
 * never passes the range's end; {@code size} is 1, 2, 4 or 8.
 */
public interface IoHandler {
    /** Returns the value read, in the low {@code size} bytes; higher bits are ignored. */
    long read(long offset, int size);

    /** Takes a write of the low {@code size} bytes of {@code value}. */
    void write(long offset, int size, long value);
}
