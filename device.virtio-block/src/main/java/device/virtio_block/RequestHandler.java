package device.virtio_block;

import static device.virtio_block.protocol.VirtioBlk.VIRTIO_BLK_ID_BYTES;
import static device.virtio_block.protocol.VirtioBlk.VIRTIO_BLK_S_IOERR;
import static device.virtio_block.protocol.VirtioBlk.VIRTIO_BLK_S_OK;
import static device.virtio_block.protocol.VirtioBlk.REQUEST_HEADER_SIZE;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import device.virtio_block.io.BlockImage;
import device.virtio_block.protocol.BlkRequest;
import device.virtio_block.protocol.RequestParser;
import vmm.core.memory.GuestMemory;
import vmm.core.virtio.DescriptorChain;

/**
 * Serves one request: parses it, does its I/O straight between the image and
 * the guest's buffers (no bounce copy), and writes the status byte. A host
 * {@link IOException} becomes VIRTIO_BLK_S_IOERR and the device goes on.
 * Thread-safe: called on worker threads, concurrently for different chains.
 */
final class RequestHandler {
    private static final System.Logger LOG = System.getLogger("vmm.virtio-blk");

    /**
     * How a request ended.
     *
     * @param written bytes written into the chain (data and status), the used element's length;
     *                -1 when the chain had no status byte and the driver must be told to reset
     * @param reason  why, for a request that failed or could not be answered
     */
    record Outcome(int status, int written, String reason) {
        boolean answerable() {
            return written >= 0;
        }
    }

    /** What a request needs to know about the device when it runs. */
    interface Mode {
        /** Whether writes must be stable before they complete (writethrough). */
        boolean writeThrough();

        boolean discardNegotiated();

        boolean writeZeroesNegotiated();

        /** Whether WRITE_ZEROES may deallocate when the driver sets unmap (write_zeroes_may_unmap). */
        boolean mayUnmap();
    }

    private final String name;
    private final RequestParser parser;
    private final BlockImage image;
    private final byte[] id;

    RequestHandler(String name, RequestParser parser, BlockImage image, String serial) {
        this.name = name;
        this.parser = parser;
        this.image = image;
        this.id = Arrays.copyOf(serial.getBytes(StandardCharsets.US_ASCII), VIRTIO_BLK_ID_BYTES);
    }

    Outcome handle(DescriptorChain chain, GuestMemory memory, Mode mode) {
        BlkRequest r = parser.parse(new ChainSource(chain), mode.discardNegotiated(), mode.writeZeroesNegotiated());
        if (r instanceof BlkRequest.Unanswerable u) return new Outcome(VIRTIO_BLK_S_IOERR, -1, u.reason());
        int status = VIRTIO_BLK_S_OK;
        String reason = null;
        long data = 0;
        try {
            switch (r) {
                case BlkRequest.Read rd -> {
                    image.read(rd.offset(), buffers(memory, chain.writable(), 0, rd.length(), true));
                    data = rd.length();
                }
                case BlkRequest.Write wr -> {
                    image.write(wr.offset(), buffers(memory, chain.readable(), REQUEST_HEADER_SIZE, wr.length(), false));
                    if (mode.writeThrough()) image.flush();
                }
                case BlkRequest.Flush f -> image.flush();
                case BlkRequest.GetId g -> data = chain.write(0, id, 0, id.length);
                case BlkRequest.Discard d -> {
                    for (BlkRequest.Range x : d.ranges()) image.discard(x.offset(), x.length());
                    if (mode.writeThrough()) image.flush();
                }
                case BlkRequest.WriteZeroes z -> {
                    for (BlkRequest.Range x : z.ranges()) image.writeZeroes(x.offset(), x.length(), x.unmap() && mode.mayUnmap());
                    if (mode.writeThrough()) image.flush();
                }
                case BlkRequest.Refused f -> {
                    status = f.status();
                    reason = f.reason();
                }
                case BlkRequest.Unanswerable u -> throw new AssertionError(u);
            }
        } catch (IOException e) {
            status = VIRTIO_BLK_S_IOERR;
            reason = "host I/O error: " + e;
            data = 0;
            LOG.log(Level.WARNING, "{0}: {1} failed: {2}", name, r, e.toString());
        }
        long statusAt = chain.writableLength() - 1;
        // Every writable byte is written (data, else zeroes, then the status), so the used length can
        // honestly be the whole writable area (2.7.8.2): a driver reading len bytes sees no stale memory.
        if (data < statusAt) for (MemorySegment z : segments(memory, chain.writable(), data, statusAt - data, true)) z.fill((byte) 0);
        chain.write(statusAt, new byte[] {(byte) status}, 0, 1);
        return new Outcome(status, (int) Math.min(Integer.MAX_VALUE, chain.writableLength()), reason);
    }

    /** As {@link #segments}, as byte buffers for positional I/O. */
    private static List<ByteBuffer> buffers(GuestMemory memory, List<DescriptorChain.Buffer> chain, long skip, long length,
                                            boolean deviceWrites) {
        return segments(memory, chain, skip, length, deviceWrites).stream().map(MemorySegment::asByteBuffer).toList();
    }

    /** The guest memory of {@code [skip, skip+length)} of a chain's readable or writable bytes. */
    private static List<MemorySegment> segments(GuestMemory memory, List<DescriptorChain.Buffer> chain, long skip, long length,
                                                boolean deviceWrites) {
        List<MemorySegment> out = new ArrayList<>(chain.size());
        long left = length;
        for (DescriptorChain.Buffer b : chain) {
            if (left == 0) break;
            if (skip >= b.length()) {
                skip -= b.length();
                continue;
            }
            int n = (int) Math.min(b.length() - skip, left);
            long at = b.address() + skip;
            out.add(deviceWrites ? memory.writableSlice(at, n) : memory.slice(at, n));
            left -= n;
            skip = 0;
        }
        return out;
    }

    /** The parser's view of a chain. */
    private record ChainSource(DescriptorChain chain) implements RequestParser.Source {
        @Override public long readableLength() { return chain.readableLength(); }
        @Override public long writableLength() { return chain.writableLength(); }
        @Override public int read(long offset, byte[] dst, int off, int len) { return chain.read(offset, dst, off, len); }
    }
}
