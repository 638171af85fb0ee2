package device.virtio_block.protocol;

import static device.virtio_block.protocol.VirtioBlk.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns a request's guest bytes into a checked {@link BlkRequest}, with
 * every rule of virtio 1.2 section 5.2.6 that a hostile driver could break:
 * a short header, no status byte, a sector beyond the end (and sector
 * arithmetic that would overflow), lengths that are not whole logical
 * blocks, writes to a read-only disk, too many or malformed discard / write
 * zeroes segments, a GET_ID buffer shorter than 20 bytes, unknown types.
 * Pure logic: no I/O, no guest memory besides what {@link Source} reads.
 * Immutable and thread-safe.
 */
public final class RequestParser {
    /**
     * The chain as the parser sees it; {@code DescriptorChain} fits it. Reads
     * copy the guest's bytes once, so a guest changing them afterwards cannot
     * change what was checked.
     */
    public interface Source {
        /** Total bytes of the device-readable buffers. */
        long readableLength();

        /** Total bytes of the device-writable buffers. */
        long writableLength();

        /** Copies up to {@code len} readable bytes from {@code offset} into {@code dst[0..]}; returns the bytes copied. */
        int read(long offset, byte[] dst, int off, int len);
    }

    private final DiskGeometry geometry;

    public RequestParser(DiskGeometry geometry) {
        this.geometry = geometry;
    }

    public DiskGeometry geometry() {
        return geometry;
    }

    /**
     * Parses one request.
     *
     * @param discard      whether VIRTIO_BLK_F_DISCARD was negotiated
     * @param writeZeroes  whether VIRTIO_BLK_F_WRITE_ZEROES was negotiated
     * @return never null; {@link BlkRequest.Refused} or {@link BlkRequest.Unanswerable} for a bad request
     */
    public BlkRequest parse(Source chain, boolean discard, boolean writeZeroes) {
        long readable = chain.readableLength(), writable = chain.writableLength();
        if (writable < 1) return new BlkRequest.Unanswerable("request has no device-writable status byte");
        if (readable < REQUEST_HEADER_SIZE)
            return ioerr("request header of " + readable + " bytes, shorter than " + REQUEST_HEADER_SIZE);
        byte[] h = new byte[REQUEST_HEADER_SIZE];
        chain.read(0, h, 0, h.length);
        ByteBuffer header = ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN);
        int type = header.getInt(0);
        long sector = header.getLong(8);
        long dataIn = writable - 1, dataOut = readable - REQUEST_HEADER_SIZE;
        return switch (type) {
            case VIRTIO_BLK_T_IN -> range(sector, dataIn, "IN") instanceof BlkRequest.Refused r ? r
                    : new BlkRequest.Read(sector << SECTOR_SHIFT, dataIn);
            case VIRTIO_BLK_T_OUT -> {
                if (geometry.readOnly()) yield ioerr("OUT to a read-only disk");
                yield range(sector, dataOut, "OUT") instanceof BlkRequest.Refused r ? r
                        : new BlkRequest.Write(sector << SECTOR_SHIFT, dataOut);
            }
            case VIRTIO_BLK_T_FLUSH -> new BlkRequest.Flush();
            case VIRTIO_BLK_T_GET_ID -> dataIn < VIRTIO_BLK_ID_BYTES
                    ? ioerr("GET_ID buffer of " + dataIn + " bytes, shorter than " + VIRTIO_BLK_ID_BYTES)
                    : new BlkRequest.GetId();
            case VIRTIO_BLK_T_DISCARD -> discard
                    ? segments(chain, type, dataOut, geometry.maxDiscardSeg(), geometry.maxDiscardSectors())
                    : unsupp("DISCARD was not negotiated");
            case VIRTIO_BLK_T_WRITE_ZEROES -> writeZeroes
                    ? segments(chain, type, dataOut, geometry.maxWriteZeroesSeg(), geometry.maxWriteZeroesSectors())
                    : unsupp("WRITE_ZEROES was not negotiated");
            default -> unsupp("unsupported request " + typeName(type));
        };
    }

    /** A Refused for a bad range, or null when the range is good. */
    private BlkRequest range(long sector, long length, String what) {
        if (geometry.isValidRange(sector, length)) return null;
        return ioerr(String.format("%s of %d bytes at sector %s is outside the disk (%d sectors) or not whole %d-byte blocks",
                what, length, Long.toUnsignedString(sector), geometry.capacitySectors(), geometry.logicalBlockSize()));
    }

    private BlkRequest segments(Source chain, int type, long payload, int maxSegments, int maxSectors) {
        String what = typeName(type);
        // The device writes nothing to the disk for a read-only device; it does not offer these features then either.
        if (geometry.readOnly()) return ioerr(what + " to a read-only disk");
        if (payload == 0 || payload % SEGMENT_SIZE != 0)
            return ioerr(what + " payload of " + payload + " bytes is not a non-empty multiple of " + SEGMENT_SIZE);
        long count = payload / SEGMENT_SIZE;
        if (count > maxSegments) return unsupp(what + " with " + count + " segments, more than " + maxSegments);
        byte[] raw = new byte[(int) payload];
        if (chain.read(REQUEST_HEADER_SIZE, raw, 0, raw.length) != raw.length) return ioerr(what + " payload vanished");
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        List<BlkRequest.Range> ranges = new ArrayList<>((int) count);
        for (int i = 0; i < count; i++) {
            long sector = b.getLong(i * SEGMENT_SIZE);
            long sectors = Integer.toUnsignedLong(b.getInt(i * SEGMENT_SIZE + 8));
            int flags = b.getInt(i * SEGMENT_SIZE + 12);
            if ((flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) != 0)
                return unsupp(what + " segment " + i + " has unknown flags 0x" + Integer.toHexString(flags));
            boolean unmap = (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) != 0;
            if (unmap && type == VIRTIO_BLK_T_DISCARD) return unsupp("DISCARD segment " + i + " has the unmap flag");
            if (sectors > maxSectors) return ioerr(what + " segment " + i + " of " + sectors + " sectors, more than " + maxSectors);
            if (range(sector, sectors << SECTOR_SHIFT, what + " segment " + i) instanceof BlkRequest.Refused r) return r;
            ranges.add(new BlkRequest.Range(sector << SECTOR_SHIFT, sectors << SECTOR_SHIFT, unmap));
        }
        return type == VIRTIO_BLK_T_DISCARD ? new BlkRequest.Discard(ranges) : new BlkRequest.WriteZeroes(ranges);
    }

    private static BlkRequest.Refused ioerr(String reason) {
        return new BlkRequest.Refused(VIRTIO_BLK_S_IOERR, reason);
    }

    private static BlkRequest.Refused unsupp(String reason) {
        return new BlkRequest.Refused(VIRTIO_BLK_S_UNSUPP, reason);
    }
}
