package vmm.core.snapshot;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * Builds snapshot files byte by byte from the tables of the package
 * documentation, with correct checksums unless told otherwise: an
 * independent writer to check {@link SnapshotWriter} against, and the way to
 * craft files it would never write.
 */
final class RawSnapshot {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final CRC32C table = new CRC32C();
    private int sections;

    RawSnapshot(int formatVersion, String writer, long createdMillis) {
        byte[] w = writer.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(22 + w.length + 4);
        b.put("VMM-SNAP".getBytes(StandardCharsets.US_ASCII)).putInt(formatVersion).putLong(createdMillis)
                .putShort((short) w.length).put(w);
        b.putInt(crc(b.array(), 0, b.position()));
        out.writeBytes(b.array());
    }

    RawSnapshot() {
        this(1, "raw 1", 0);
    }

    /** A section with the checksum of its payload. */
    RawSnapshot section(String tag, int version, String name, String type, byte[] payload) {
        return section(tag, version, name, type, payload.length, payload, crc(payload, 0, payload.length));
    }

    /** A section that may lie about its length or payload checksum. */
    RawSnapshot section(String tag, int version, String name, String type, long length, byte[] payload,
            int payloadCrc) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8), t = type.getBytes(StandardCharsets.UTF_8);
        ByteBuffer h = ByteBuffer.allocate(18 + n.length + 2 + t.length + 4);
        h.put(tag.getBytes(StandardCharsets.US_ASCII)).putInt(version).putLong(length)
                .putShort((short) n.length).put(n).putShort((short) t.length).put(t);
        h.putInt(crc(h.array(), 0, h.position()));
        table.update(h.array());
        sections++;
        out.writeBytes(h.array());
        out.writeBytes(payload);
        out.writeBytes(ByteBuffer.allocate(4).putInt(payloadCrc).array());
        return this;
    }

    byte[] end() {
        out.writeBytes(ByteBuffer.allocate(12).put("END ".getBytes(StandardCharsets.US_ASCII)).putInt(sections)
                .putInt((int) table.getValue()).array());
        return out.toByteArray();
    }

    /** A memory payload: base, size, then runs given as (zero pages, data pages, fill byte of the data pages). */
    static byte[] memory(long base, long size, long... runs) {
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.writeBytes(ByteBuffer.allocate(16).putLong(base).putLong(size).array());
        for (int i = 0; i < runs.length; i += 3) {
            p.writeBytes(ByteBuffer.allocate(8).putInt((int) runs[i]).putInt((int) runs[i + 1]).array());
            byte[] page = new byte[4096];
            java.util.Arrays.fill(page, (byte) runs[i + 2]);
            for (long d = 0; d < runs[i + 1]; d++) p.writeBytes(page);
        }
        return p.toByteArray();
    }

    /**
     * {@code file} with every checksum it has room for made right (header,
     * section headers, payloads, section table), as far as its lengths let the
     * sections be found: so a fuzzer's mutations reach past the checksums.
     */
    static byte[] withChecksumsFixed(byte[] file) {
        byte[] f = file.clone();
        ByteBuffer b = ByteBuffer.wrap(f);
        if (f.length < 22) return f;
        int pos = 22 + Short.toUnsignedInt(b.getShort(20));
        if (pos + 4 > f.length) return f;
        b.putInt(pos, crc(f, 0, pos));
        pos += 4;
        CRC32C table = new CRC32C();
        while (pos + 12 <= f.length) {
            if (b.getInt(pos) == 0x454e4420) {
                b.putInt(pos + 8, (int) table.getValue());
                return f;
            }
            if (pos + 20 > f.length) return f;
            int typeAt = pos + 18 + Short.toUnsignedInt(b.getShort(pos + 16));
            if (typeAt + 2 > f.length) return f;
            int header = typeAt + 2 + Short.toUnsignedInt(b.getShort(typeAt)) - pos;
            if (pos + header + 4 > f.length) return f;
            b.putInt(pos + header, crc(f, pos, header));
            table.update(f, pos, header + 4);
            long length = b.getLong(pos + 8);
            int payload = pos + header + 4;
            if (length < 0 || length > f.length - payload - 4) return f;
            b.putInt(payload + (int) length, crc(f, payload, (int) length));
            pos = payload + (int) length + 4;
        }
        return f;
    }

    static int crc(byte[] b, int off, int len) {
        CRC32C c = new CRC32C();
        c.update(b, off, len);
        return (int) c.getValue();
    }
}
