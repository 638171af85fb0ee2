package vmm.core.snapshot;

import static vmm.core.snapshot.SnapshotFormat.CHUNK;
import static vmm.core.snapshot.SnapshotFormat.MAX_RUN;
import static vmm.core.snapshot.SnapshotFormat.PAGE_SHIFT;
import static vmm.core.snapshot.SnapshotFormat.PAGE_SIZE;
import static vmm.core.snapshot.SnapshotFormat.ZERO_CHUNK;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.HashSet;
import java.util.Objects;
import java.util.Set;
import java.util.zip.CRC32C;

import vmm.core.device.DeviceState;

/**
 * Writes a snapshot file to a channel, front to back, never seeking: the
 * header when created, then one section per call, then the end marker in
 * {@link #finish()}. A file whose writing stopped before {@code finish} has no
 * end marker, and {@link SnapshotReader} refuses it as truncated.
 *
 * <p>Memory is streamed: a region is scanned once for its zero pages (one bit
 * per page on the heap), then its other pages go from the region's memory to
 * the channel in chunks of at most 1 MiB, so the heap a snapshot needs does not
 * grow with the guest. The memory must not change while its section is written
 * (the caller pauses the VM); a page changed between the scan and the copy is
 * written as it is then (the checksum follows the payload and covers what was
 * written), or left out if it was zero at the scan.
 *
 * <p>Not thread-safe: one thread writes a snapshot.
 */
public final class SnapshotWriter {
    /** The file format version this build writes (and the newest it reads). */
    public static final int FORMAT_VERSION = 1;

    private final WritableByteChannel out;
    private final CRC32C table = new CRC32C();
    private final Set<String> written = new HashSet<>();
    private long position;
    private int sections;
    private boolean finished;

    private SnapshotWriter(WritableByteChannel out) {
        this.out = out;
    }

    /**
     * Writes the file header and returns a writer for the sections.
     *
     * @param out       where the file goes (an {@code OutputStream} through
     *                  {@link java.nio.channels.Channels#newChannel(java.io.OutputStream)}); the caller closes it
     *                  after {@link #finish()}
     * @param writtenBy the VMM's name and version, 1 to 255 UTF-8 bytes on one line
     * @param created   the snapshot's time (kept to the millisecond)
     * @throws IllegalArgumentException for a {@code writtenBy} that is empty, too long or not one line
     */
    public static SnapshotWriter create(WritableByteChannel out, String writtenBy, Instant created) throws IOException {
        SnapshotFormat.checkText("writer", writtenBy, false);
        byte[] w = writtenBy.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(SnapshotFormat.HEADER_FIXED + w.length + SnapshotFormat.CRC_LENGTH);
        b.putLong(SnapshotFormat.MAGIC).putInt(FORMAT_VERSION).putLong(created.toEpochMilli())
                .putShort((short) w.length).put(w);
        b.putInt(crc(b.array(), 0, b.position()));
        SnapshotWriter writer = new SnapshotWriter(Objects.requireNonNull(out));
        writer.write(b.flip());
        return writer;
    }

    /**
     * Writes one guest RAM region as a memory section: its all-zero pages as
     * counts, the others in full.
     *
     * @param name      the region's name, unique among memory sections
     * @param guestBase its guest-physical base, 4 KiB aligned
     * @param ram       its memory, a non-zero multiple of 4 KiB; not changed while this runs
     * @throws IllegalArgumentException for a bad name, alignment or size, or a name already written
     */
    public void memory(String name, long guestBase, MemorySegment ram) throws IOException {
        long size = ram.byteSize();
        if ((guestBase & (PAGE_SIZE - 1)) != 0 || guestBase < 0)
            throw new IllegalArgumentException(
                    "region " + name + " base 0x" + Long.toHexString(guestBase) + " is not 4 KiB aligned");
        if (size == 0 || (size & (PAGE_SIZE - 1)) != 0)
            throw new IllegalArgumentException(
                    "region " + name + " size " + size + " is not a non-zero multiple of 4 KiB");
        if (guestBase + size < guestBase)
            throw new IllegalArgumentException("region " + name + " wraps the address space");
        long pages = size >>> PAGE_SHIFT;
        long[] nonZero = scan(ram, pages);
        long length = SnapshotFormat.RAM_PREFIX;
        for (Run r = Run.first(nonZero, pages); r != null; r = r.next(nonZero, pages))
            length += SnapshotFormat.RUN_HEADER + (r.data << PAGE_SHIFT);

        sectionHeader(SectionKind.MEMORY, name, "ram", length);
        CRC32C payload = new CRC32C();
        write(ByteBuffer.allocate(SnapshotFormat.RAM_PREFIX).putLong(guestBase).putLong(size).flip(), payload);
        for (Run r = Run.first(nonZero, pages); r != null; r = r.next(nonZero, pages)) {
            ByteBuffer run = ByteBuffer.allocate(SnapshotFormat.RUN_HEADER).putInt((int) r.zeros).putInt((int) r.data);
            write(run.flip(), payload);
            for (long off = r.start << PAGE_SHIFT, end = off + (r.data << PAGE_SHIFT); off < end; off += CHUNK)
                write(ram.asSlice(off, Math.min(CHUNK, end - off)).asByteBuffer(), payload);
        }
        write(ByteBuffer.allocate(SnapshotFormat.CRC_LENGTH).putInt((int) payload.getValue()).flip());
    }

    /**
     * Writes vCPU {@code index}'s state (its registers and the rest, in fields the back end names).
     *
     * @throws IllegalArgumentException for a negative index or one already written
     */
    public void vcpu(int index, DeviceState state) throws IOException {
        if (index < 0) throw new IllegalArgumentException("vCPU index " + index);
        state(SectionKind.VCPU, Integer.toString(index), state.type(), state);
    }

    /**
     * Writes the state of a platform part ({@code chipset}, {@code ioapic}, ...); the section's type is the state's.
     *
     * @throws IllegalArgumentException for a bad name or one already written
     */
    public void platform(String name, DeviceState state) throws IOException {
        state(SectionKind.PLATFORM, name, state.type(), state);
    }

    /**
     * Writes a device instance's state.
     *
     * @param instanceId the instance's id, unique among devices
     * @param deviceType the device type a provider must offer to restore it (the state may be of a model's own type)
     * @throws IllegalArgumentException for a bad id or type, or an id already written
     */
    public void device(String instanceId, String deviceType, DeviceState state) throws IOException {
        SnapshotFormat.checkText("device type", deviceType, false);
        state(SectionKind.DEVICE, instanceId, deviceType, state);
    }

    /**
     * Writes the end marker, after which nothing may be written.
     *
     * @return the file's length in bytes
     */
    public long finish() throws IOException {
        checkOpen();
        finished = true;
        ByteBuffer b = ByteBuffer.allocate(SnapshotFormat.END_LENGTH)
                .putInt(SnapshotFormat.END_TAG).putInt(sections).putInt((int) table.getValue());
        write(b.flip());
        return position;
    }

    /** The bytes written so far. */
    public long bytesWritten() {
        return position;
    }

    private void state(SectionKind kind, String name, String type, DeviceState state) throws IOException {
        byte[] payload = state.encode();
        sectionHeader(kind, name, type, payload.length);
        write(ByteBuffer.allocate(payload.length + SnapshotFormat.CRC_LENGTH)
                .put(payload).putInt(crc(payload, 0, payload.length)).flip());
    }

    private void sectionHeader(SectionKind kind, String name, String type, long length) throws IOException {
        checkOpen();
        SnapshotFormat.checkText(kind + " section name", name, false);
        SnapshotFormat.checkText(kind + " section type", type, true);
        if (!written.add(kind + "/" + name))
            throw new IllegalArgumentException(kind + " section '" + name + "' written twice");
        byte[] n = name.getBytes(StandardCharsets.UTF_8), t = type.getBytes(StandardCharsets.UTF_8);
        int headerLength = SnapshotFormat.SECTION_FIXED + n.length + 2 + t.length + SnapshotFormat.CRC_LENGTH;
        ByteBuffer b = ByteBuffer.allocate(headerLength);
        b.putInt(kind.tag()).putInt(SectionKind.VERSION).putLong(length)
                .putShort((short) n.length).put(n).putShort((short) t.length).put(t);
        b.putInt(crc(b.array(), 0, b.position()));
        table.update(b.array());
        sections++;
        write(b.flip());
    }

    private void checkOpen() {
        if (finished) throw new IllegalStateException("snapshot already finished");
    }

    private void write(ByteBuffer b, CRC32C crc) throws IOException {
        crc.update(b.duplicate());
        write(b);
    }

    private void write(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) position += out.write(b);
    }

    static int crc(byte[] b, int off, int len) {
        CRC32C c = new CRC32C();
        c.update(b, off, len);
        return (int) c.getValue();
    }

    /** One bit per page, set where the page holds a non-zero byte. */
    private static long[] scan(MemorySegment ram, long pages) {
        long[] bits = new long[Math.toIntExact((pages + 63) >>> 6)];
        MemorySegment zeroPage = ZERO_CHUNK.asSlice(0, PAGE_SIZE);
        for (long p = 0; p < pages; p++)
            if (ram.asSlice(p << PAGE_SHIFT, PAGE_SIZE).mismatch(zeroPage) >= 0) bits[(int) (p >>> 6)] |= 1L << p;
        return bits;
    }

    private static boolean isSet(long[] bits, long page) {
        return (bits[(int) (page >>> 6)] & 1L << page) != 0;
    }

    /** {@code zeros} zero pages from page {@code start - zeros}, then {@code data} pages from {@code start}. */
    private record Run(long start, long zeros, long data) {
        static Run first(long[] bits, long pages) {
            return at(bits, pages, 0);
        }

        Run next(long[] bits, long pages) {
            return at(bits, pages, start + data);
        }

        private static Run at(long[] bits, long pages, long page) {
            if (page >= pages) return null;
            long zeros = 0;
            while (page < pages && !isSet(bits, page) && zeros < MAX_RUN) { page++; zeros++; }
            long data = 0;
            if (zeros < MAX_RUN)
                while (page + data < pages && isSet(bits, page + data) && data < MAX_RUN) data++;
            return new Run(page, zeros, data);
        }
    }
}
