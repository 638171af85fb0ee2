package vmm.core.virtio;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

import vmm.core.memory.GuestMemory;

/**
 * One descriptor chain popped from a {@link VirtQueue}: the guest buffers of
 * one request, device-readable ones first, then device-writable ones
 * (virtio 1.2 section 2.7.5). Every buffer was checked when the chain was
 * popped: it lies wholly inside one RAM region, and writable buffers are not
 * in read-only memory. The chain flattens indirect tables, so a device sees
 * the same buffers whether or not the driver used them.
 *
 * <p>Copies address the readable (or writable) buffers as one logical byte
 * range, so a device can parse a header that the driver split across
 * buffers without caring where the split is. Copies go through
 * {@link GuestMemory} and may run on any thread; the chain itself is
 * immutable. Hand it back with {@link VirtQueue#addUsed} or
 * {@link VirtQueue#complete} exactly once.
 */
public final class DescriptorChain {
    /**
     * One guest buffer of a chain. A descriptor longer than
     * {@link Integer#MAX_VALUE} bytes appears as consecutive buffers, so a
     * length always fits an {@code int}.
     *
     * @param address guest-physical address of the first byte
     * @param length  bytes, at least 1
     */
    public record Buffer(long address, int length) {}

    final VirtQueue queue;
    private final GuestMemory memory;
    private final int head;
    /** Buffer {@code i} has its address at {@code 2i} and its length at {@code 2i+1}: one array per chain. */
    private final long[] buffers;
    private final int count, readableCount;
    private final long readableLength, writableLength;
    /** Set when the chain is returned to the used ring; guarded by the queue's lock. */
    boolean completed;
    /** The request's Flight Recorder event while a recording enables it, else null; guarded by the queue's lock. */
    vmm.core.events.VirtioRequestEvent event;

    DescriptorChain(VirtQueue queue, GuestMemory memory, int head, long[] buffers, int count, int readableCount,
                    long readableLength, long writableLength) {
        this.queue = queue;
        this.memory = memory;
        this.head = head;
        this.buffers = buffers;
        this.count = count;
        this.readableCount = readableCount;
        this.readableLength = readableLength;
        this.writableLength = writableLength;
    }

    /** The descriptor index of the chain's head, the id the used ring reports back to the driver. */
    public int head() {
        return head;
    }

    /** The device-readable buffers in chain order; an unmodifiable list made on each call. */
    public List<Buffer> readable() {
        return buffers(0, readableCount);
    }

    /** The device-writable buffers in chain order; an unmodifiable list made on each call. */
    public List<Buffer> writable() {
        return buffers(readableCount, count);
    }

    private List<Buffer> buffers(int from, int to) {
        List<Buffer> l = new ArrayList<>(to - from);
        for (int i = from; i < to; i++) l.add(new Buffer(buffers[2 * i], (int) buffers[2 * i + 1]));
        return Collections.unmodifiableList(l);
    }

    /** Total bytes of the device-readable buffers (at most 2^32-1 for the whole chain). */
    public long readableLength() {
        return readableLength;
    }

    /** Total bytes of the device-writable buffers (at most 2^32-1 for the whole chain). */
    public long writableLength() {
        return writableLength;
    }

    /**
     * Copies up to {@code len} bytes from the readable buffers, starting
     * {@code offset} bytes into them, to {@code dst[off..]}. Returns the bytes
     * copied: fewer than {@code len} when the readable bytes run out, 0 when
     * {@code offset} is at or past their end.
     *
     * @throws IndexOutOfBoundsException when {@code off, len} is not a range of {@code dst}
     * @throws IllegalArgumentException  when {@code offset} is negative
     */
    public int read(long offset, byte[] dst, int off, int len) {
        Objects.checkFromIndexSize(off, len, dst.length);
        return (int) walk(0, readableCount, offset, len,
                (address, done, n) -> memory.read(address, dst, off + (int) done, (int) n));
    }

    /**
     * Copies up to {@code len} bytes of {@code src[off..]} into the writable
     * buffers, starting {@code offset} bytes into them. Returns the bytes
     * copied: fewer than {@code len} when the writable space runs out.
     *
     * @throws IndexOutOfBoundsException when {@code off, len} is not a range of {@code src}
     * @throws IllegalArgumentException  when {@code offset} is negative
     */
    public int write(long offset, byte[] src, int off, int len) {
        Objects.checkFromIndexSize(off, len, src.length);
        return (int) walk(readableCount, count, offset, len,
                (address, done, n) -> memory.write(address, src, off + (int) done, (int) n));
    }

    /**
     * Like {@link #read(long, byte[], int, int)} into all of {@code dst}
     * (a heap or native segment, for example a host I/O buffer); returns the
     * bytes copied.
     */
    public long read(long offset, MemorySegment dst) {
        return walk(0, readableCount, offset, dst.byteSize(),
                (address, done, n) -> MemorySegment.copy(memory.slice(address, n), 0, dst, done, n));
    }

    /** Like {@link #write(long, byte[], int, int)} from all of {@code src}; returns the bytes copied. */
    public long write(long offset, MemorySegment src) {
        return walk(readableCount, count, offset, src.byteSize(),
                (address, done, n) -> MemorySegment.copy(src, done, memory.writableSlice(address, n), 0, n));
    }

    /** One piece of a copy: {@code n} bytes at guest {@code address}, {@code done} bytes into the caller's side. */
    @FunctionalInterface
    private interface Piece {
        void copy(long address, long done, long n);
    }

    /**
     * Walks buffers {@code [from, to)} from {@code offset} bytes into them, handing {@code piece} each stretch
     * until {@code len} bytes are done or the buffers end; returns the bytes done.
     */
    private long walk(int from, int to, long offset, long len, Piece piece) {
        checkOffset(offset);
        long done = 0, skip = offset;
        for (int i = from; i < to && done < len; i++) {
            long blen = buffers[2 * i + 1];
            if (skip >= blen) {
                skip -= blen;
                continue;
            }
            long n = Math.min(blen - skip, len - done);
            piece.copy(buffers[2 * i] + skip, done, n);
            done += n;
            skip = 0;
        }
        return done;
    }

    private static void checkOffset(long offset) {
        if (offset < 0) throw new IllegalArgumentException("negative offset into a descriptor chain: " + offset);
    }

    @Override
    public String toString() {
        return "DescriptorChain[queue " + queue.index() + " head " + head + ", " + readableCount + " readable ("
                + readableLength + " bytes), " + (count - readableCount) + " writable (" + writableLength + " bytes)]";
    }
}
