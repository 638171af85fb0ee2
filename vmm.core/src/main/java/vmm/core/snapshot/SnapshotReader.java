package vmm.core.snapshot;

import static vmm.core.snapshot.SnapshotFormat.CHUNK;
import static vmm.core.snapshot.SnapshotFormat.CRC_LENGTH;
import static vmm.core.snapshot.SnapshotFormat.PAGE_SHIFT;
import static vmm.core.snapshot.SnapshotFormat.PAGE_SIZE;
import static vmm.core.snapshot.SnapshotFormat.RAM_PREFIX;
import static vmm.core.snapshot.SnapshotFormat.RUN_HEADER;
import static vmm.core.snapshot.SnapshotFormat.ZERO_CHUNK;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.zip.CRC32C;

import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * Reads a snapshot file written by {@link SnapshotWriter}. The file is
 * untrusted: every length in it is checked against the file's size before it
 * is used, nothing is allocated from a length that was not, and every loop
 * advances through the file, so no file makes the reader run out of memory or
 * loop without end; whatever is wrong is a {@link SnapshotFormatException}.
 *
 * <p>{@link #open} checks the structure: the header, every section header and
 * its checksum, that each kind and version is one this build reads, that every
 * payload lies inside the file, the end marker and the checksum over the
 * section headers. A payload's own checksum is checked when the payload is
 * read ({@link #readState}, {@link #restoreMemory}), or for all of them by
 * {@link #verify()}, which reads the whole file once.
 *
 * <p>Not thread-safe; the caller owns the channel and closes it.
 */
public final class SnapshotReader {
    private static final String TRUNCATED = "truncated file: ";

    private final SeekableByteChannel in;
    private final long fileSize;
    private final SnapshotHeader header;
    private final List<Section> sections = new ArrayList<>();
    private final Map<Section, RamExtent> extents = new HashMap<>();

    private SnapshotReader(SeekableByteChannel in, long fileSize, SnapshotHeader header) {
        this.in = in;
        this.fileSize = fileSize;
        this.header = header;
    }

    /**
     * Reads and checks the structure of the file in {@code in}, from its start.
     *
     * @throws SnapshotFormatException for a foreign, newer, truncated or corrupt file, or a section kind or
     *                                 version this build does not read
     * @throws IOException             when the channel fails
     */
    public static SnapshotReader open(SeekableByteChannel in) throws IOException {
        long size = in.size();
        SnapshotReader r = new SnapshotReader(in, size, readHeader(in, size));
        r.readSections();
        return r;
    }

    /** The file header. */
    public SnapshotHeader header() {
        return header;
    }

    /** Every section, in file order. */
    public List<Section> sections() {
        return List.copyOf(sections);
    }

    /** The sections of one kind, in file order. */
    public List<Section> sections(SectionKind kind) {
        return sections.stream().filter(s -> s.kind() == kind).toList();
    }

    /** The section of {@code kind} named {@code name}, if the file has one. */
    public Optional<Section> find(SectionKind kind, String name) {
        return sections.stream().filter(s -> s.kind() == kind && s.name().equals(name)).findFirst();
    }

    /**
     * Where a memory section's region lies.
     *
     * @throws IllegalArgumentException for a section that is not a memory section of this file
     */
    public RamExtent ramExtent(Section memory) {
        RamExtent e = extents.get(memory);
        if (e == null) throw new IllegalArgumentException(memory.describe() + " is not a memory section of this file");
        return e;
    }

    /**
     * Reads a vCPU, platform or device section's state, checking its checksum.
     *
     * @throws SnapshotFormatException for a bad checksum or bytes that are not a well-formed state
     * @throws IllegalArgumentException for a memory section or one not of this file
     */
    public DeviceState readState(Section s) throws IOException {
        checkOwn(s);
        if (s.kind() == SectionKind.MEMORY) throw new IllegalArgumentException(s.describe() + " holds no state");
        if (s.length() > SnapshotFormat.MAX_STATE)
            throw fail("a state of " + s.length() + " bytes, more than the " + SnapshotFormat.MAX_STATE
                    + " a reader loads,",
                    s.payloadOffset(), s);
        ByteBuffer b = ByteBuffer.allocate((int) s.length());
        readFully(b, s.payloadOffset(), s);
        CRC32C crc = new CRC32C();
        crc.update(b.array());
        checkCrc(crc, s);
        try {
            return DeviceState.decode(b.array());
        } catch (IncompatibleStateException e) {
            throw fail("payload is not a device state (" + oneLine(e.getMessage()) + ")", s.payloadOffset(), s);
        }
    }

    /**
     * Streams a memory section into {@code target}, a region of exactly the
     * section's size: pages written in the file are copied, the zero pages
     * left out of it are zeroed where {@code target} is not zero already (so a
     * fresh, untouched target stays untouched there). On a
     * {@code SnapshotFormatException} the target holds part of the image.
     *
     * @throws SnapshotFormatException for a bad checksum or runs that do not cover the region exactly
     * @throws IllegalArgumentException for a target of another size, or a section that is not memory of this file
     */
    public void restoreMemory(Section s, MemorySegment target) throws IOException {
        RamExtent e = ramExtent(s);
        if (target.byteSize() != e.size())
            throw new IllegalArgumentException(
                    s.describe() + " holds " + e.size() + " bytes, the target has " + target.byteSize());
        walkMemory(s, e, target);
    }

    /**
     * Reads every payload once and checks its checksum and, for memory, that
     * its runs cover the region exactly; decodes every state.
     *
     * @throws SnapshotFormatException for the first payload that is not right
     */
    public void verify() throws IOException {
        for (Section s : sections) {
            if (s.kind() == SectionKind.MEMORY) walkMemory(s, extents.get(s), null);
            else readState(s);
        }
    }

    // ---- opening

    private static SnapshotHeader readHeader(SeekableByteChannel in, long size) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(SnapshotFormat.HEADER_FIXED + SnapshotFormat.MAX_TEXT + CRC_LENGTH);
        b.limit((int) Math.min(b.capacity(), size));
        in.position(0);
        while (b.hasRemaining() && in.read(b) > 0) { /* reads up to what the file has */ }
        int got = b.position();
        b.flip();
        ByteBuffer magic = ByteBuffer.allocate(8).putLong(SnapshotFormat.MAGIC).flip();
        if (!b.slice(0, Math.min(8, got)).equals(magic.slice(0, Math.min(8, got))))
            throw new SnapshotFormatException("not a vmm snapshot (bad magic)", 0, null);
        if (got < 12) throw new SnapshotFormatException(TRUNCATED + "it ends inside the header", got, null);
        int version = b.getInt(8);
        if (version > SnapshotWriter.FORMAT_VERSION)
            throw new SnapshotFormatException("format version " + version + " is newer than this build reads ("
                    + SnapshotWriter.FORMAT_VERSION + ")", 8, null);
        if (version < 1) throw new SnapshotFormatException("format version " + version + " is not a version", 8, null);
        if (got < SnapshotFormat.HEADER_FIXED)
            throw new SnapshotFormatException(TRUNCATED + "it ends inside the header", got, null);
        int w = Short.toUnsignedInt(b.getShort(SnapshotFormat.HEADER_FIXED - 2));
        if (w > SnapshotFormat.MAX_TEXT)
            throw new SnapshotFormatException("corrupt header (a writer name of " + w + " bytes)",
                    SnapshotFormat.HEADER_FIXED - 2, null);
        int end = SnapshotFormat.HEADER_FIXED + w;
        if (got < end + CRC_LENGTH)
            throw new SnapshotFormatException(TRUNCATED + "it ends inside the header", got, null);
        if (SnapshotWriter.crc(b.array(), 0, end) != b.getInt(end))
            throw new SnapshotFormatException("corrupt header (CRC-32C mismatch)", end, null);
        String writer = new String(b.array(), SnapshotFormat.HEADER_FIXED, w, StandardCharsets.UTF_8);
        String problem = SnapshotFormat.textProblem(w, writer, false);
        if (problem != null)
            throw new SnapshotFormatException("writer name " + problem, SnapshotFormat.HEADER_FIXED, null);
        in.position(end + CRC_LENGTH);
        return new SnapshotHeader(version, writer, Instant.ofEpochMilli(b.getLong(12)));
    }

    private void readSections() throws IOException {
        CRC32C table = new CRC32C();
        Set<String> seen = new HashSet<>();
        long pos = in.position();
        Section last = null;
        // Each pass moves pos forward by at least a section header, inside the file's size: the loop ends.
        while (true) {
            String where = last == null ? "after the header" : "after section " + last.describe();
            if (fileSize - pos < 4)
                throw new SnapshotFormatException(TRUNCATED + "no end marker " + where, fileSize, null);
            ByteBuffer tag = read(4, pos, null);
            if (tag.getInt(0) == SnapshotFormat.END_TAG) {
                readEnd(pos, table);
                return;
            }
            last = readSection(pos, tag.getInt(0), table, where);
            if (!seen.add(last.kind() + "/" + last.name()))
                throw fail("a second " + last.kind() + " section named '" + last.name() + "'", last.offset(), last);
            sections.add(last);
            pos = last.payloadOffset() + last.length() + CRC_LENGTH;
        }
    }

    private Section readSection(long pos, int tag, CRC32C table, String where) throws IOException {
        if (fileSize - pos < SnapshotFormat.SECTION_FIXED)
            throw new SnapshotFormatException(TRUNCATED + "it ends inside a section header " + where, fileSize, null);
        ByteBuffer fixed = read(SnapshotFormat.SECTION_FIXED, pos, null);
        int nameLength = Short.toUnsignedInt(fixed.getShort(SnapshotFormat.SECTION_FIXED - 2));
        checkTextLength(nameLength, "name", pos + SnapshotFormat.SECTION_FIXED - 2, where);
        long nameEnd = pos + SnapshotFormat.SECTION_FIXED + nameLength;
        if (fileSize - nameEnd < 2)
            throw new SnapshotFormatException(TRUNCATED + "it ends inside a section header " + where, fileSize, null);
        int typeLength = Short.toUnsignedInt(read(2, nameEnd, null).getShort(0));
        checkTextLength(typeLength, "type", nameEnd, where);
        int headerLength = SnapshotFormat.SECTION_FIXED + nameLength + 2 + typeLength;
        if (fileSize - pos < headerLength + CRC_LENGTH)
            throw new SnapshotFormatException(TRUNCATED + "it ends inside a section header " + where, fileSize, null);
        ByteBuffer h = read(headerLength + CRC_LENGTH, pos, null);
        if (SnapshotWriter.crc(h.array(), 0, headerLength) != h.getInt(headerLength))
            throw new SnapshotFormatException("corrupt section header (CRC-32C mismatch) " + where, pos, null);
        table.update(h.array());
        String name = text(h, SnapshotFormat.SECTION_FIXED, nameLength, false, "section name", pos);
        String type = text(h, SnapshotFormat.SECTION_FIXED + nameLength + 2, typeLength, true, "section type", pos);
        SectionKind kind = SectionKind.ofTag(tag);
        String described = "'" + name + "'" + (type.isEmpty() ? "" : " (" + type + ")");
        if (kind == null)
            throw new SnapshotFormatException(
                    "section kind " + SectionKind.tagText(tag) + " is not one this build reads", pos, described);
        int version = h.getInt(4);
        long length = h.getLong(8);
        long payload = pos + headerLength + CRC_LENGTH;
        if (version != SectionKind.VERSION)
            throw new SnapshotFormatException(kind + " section version " + version + " is not one this build reads ("
                    + SectionKind.VERSION + ")", pos + 4, kind + " " + described);
        if (length < 0 || length > fileSize - payload - CRC_LENGTH)
            throw new SnapshotFormatException(TRUNCATED + "the payload of " + Long.toUnsignedString(length)
                    + " bytes and its checksum run past the end of the file (" + fileSize + " bytes)", payload,
                    kind + " " + described);
        int crc = read(CRC_LENGTH, payload + length, null).getInt(0);
        Section s = new Section(kind, name, type, version, pos, payload, length, crc);
        if (kind == SectionKind.MEMORY) extents.put(s, readExtent(s));
        return s;
    }

    /** A name's length is checked before the header's checksum can be: a corrupt one must not read as truncation. */
    private static void checkTextLength(int length, String what, long pos, String where) {
        if (length > SnapshotFormat.MAX_TEXT)
            throw new SnapshotFormatException(
                    "corrupt section header (a " + what + " of " + length + " bytes) " + where, pos, null);
    }

    private RamExtent readExtent(Section s) throws IOException {
        if (s.length() < RAM_PREFIX) throw fail("a memory payload of " + s.length() + " bytes", s.payloadOffset(), s);
        ByteBuffer b = read(RAM_PREFIX, s.payloadOffset(), s);
        long base = b.getLong(0), size = b.getLong(8);
        if (base < 0 || (base & (PAGE_SIZE - 1)) != 0 || size <= 0 || (size & (PAGE_SIZE - 1)) != 0 || base + size < 0)
            throw fail("a region of 0x" + Long.toHexString(size) + " bytes at 0x" + Long.toHexString(base)
                    + " (not 4 KiB pages inside the address space)", s.payloadOffset(), s);
        return new RamExtent(base, size);
    }

    private void readEnd(long pos, CRC32C table) throws IOException {
        if (fileSize - pos < SnapshotFormat.END_LENGTH)
            throw new SnapshotFormatException(TRUNCATED + "it ends inside the end marker", fileSize, null);
        ByteBuffer b = read(SnapshotFormat.END_LENGTH, pos, null);
        if (b.getInt(4) != sections.size())
            throw new SnapshotFormatException("the end marker counts " + Integer.toUnsignedString(b.getInt(4))
                    + " sections, the file has " + sections.size(), pos + 4, null);
        if (b.getInt(8) != (int) table.getValue())
            throw new SnapshotFormatException("corrupt section table (CRC-32C mismatch)", pos + 8, null);
        if (pos + SnapshotFormat.END_LENGTH != fileSize)
            throw new SnapshotFormatException((fileSize - pos - SnapshotFormat.END_LENGTH)
                    + " bytes after the end marker", pos + SnapshotFormat.END_LENGTH, null);
    }

    private static String text(ByteBuffer h, int off, int length, boolean mayBeEmpty, String what, long pos) {
        String s = new String(h.array(), off, length, StandardCharsets.UTF_8);
        String problem = SnapshotFormat.textProblem(length, s, mayBeEmpty);
        if (problem != null) throw new SnapshotFormatException(what + " " + problem, pos + off, null);
        return s;
    }

    // ---- payloads

    /** Checks a memory payload's runs and checksum, copying it into {@code target} where there is one. */
    private void walkMemory(Section s, RamExtent e, MemorySegment target) throws IOException {
        CRC32C crc = new CRC32C();
        crc.update(read(RAM_PREFIX, s.payloadOffset(), s));
        long pages = e.size() >>> PAGE_SHIFT, page = 0;
        long pos = s.payloadOffset() + RAM_PREFIX, end = s.payloadOffset() + s.length();
        ByteBuffer scratch = target == null ? ByteBuffer.allocate((int) Math.min(CHUNK, s.length())) : null;
        // Every run covers at least one page and pages are bounded by the region: the loop ends.
        while (page < pages) {
            if (end - pos < RUN_HEADER)
                throw fail("the runs end at page " + page + " of " + pages, pos, s);
            ByteBuffer run = read(RUN_HEADER, pos, s);
            crc.update(run.duplicate());
            long zeros = Integer.toUnsignedLong(run.getInt(0)), data = Integer.toUnsignedLong(run.getInt(4));
            if (zeros + data == 0 || zeros + data > pages - page)
                throw fail("a run of " + zeros + " zero and " + data + " data pages from page " + page + " of " + pages,
                        pos, s);
            pos += RUN_HEADER;
            if (data << PAGE_SHIFT > end - pos)
                throw fail("a run of " + data + " data pages with " + (end - pos) + " bytes left in the payload",
                        pos, s);
            if (target != null) zero(target, page << PAGE_SHIFT, zeros << PAGE_SHIFT);
            page += zeros;
            for (long left = data << PAGE_SHIFT; left > 0; ) {
                int n = (int) Math.min(CHUNK, left);
                ByteBuffer b = target != null
                        ? target.asSlice(page << PAGE_SHIFT, n).asByteBuffer() : scratch.clear().limit(n);
                readFully(b, pos, s);
                crc.update(b.flip());
                pos += n;
                left -= n;
                page += n >>> PAGE_SHIFT;
            }
        }
        if (pos != end) throw fail((end - pos) + " bytes after the last run", pos, s);
        checkCrc(crc, s);
    }

    private static void zero(MemorySegment target, long off, long length) {
        for (long done = 0; done < length; done += CHUNK) {
            MemorySegment chunk = target.asSlice(off + done, Math.min(CHUNK, length - done));
            if (chunk.mismatch(ZERO_CHUNK.asSlice(0, chunk.byteSize())) >= 0) chunk.fill((byte) 0);
        }
    }

    // ---- helpers

    private void checkCrc(CRC32C crc, Section s) {
        if ((int) crc.getValue() != s.crc())
            throw fail("corrupt payload (CRC-32C mismatch)", s.payloadOffset(), s);
    }

    private void checkOwn(Section s) {
        if (!sections.contains(s)) throw new IllegalArgumentException(s.describe() + " is not a section of this file");
    }

    private ByteBuffer read(int n, long pos, Section s) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        readFully(b, pos, s);
        return b.flip();
    }

    /** Fills {@code b} from {@code pos}; a file that ends first (it shrank since it was opened) is truncated. */
    private void readFully(ByteBuffer b, long pos, Section s) throws IOException {
        in.position(pos);
        while (b.hasRemaining())
            if (in.read(b) <= 0)
                throw new SnapshotFormatException(TRUNCATED + "it ends early", in.position(),
                        s == null ? null : s.describe());
    }

    private static SnapshotFormatException fail(String problem, long offset, Section s) {
        return new SnapshotFormatException(problem, offset, s.describe());
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("[\\p{Cntrl}\u2028\u2029]", "?");
    }
}
