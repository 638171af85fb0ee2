package device.virtio_block.io;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.List;
import java.util.Objects;

/**
 * The host side of a disk: a raw image file or block device, read and
 * written with positional {@link FileChannel} calls (pread/pwrite), so any
 * number of requests may run at once from different threads. Operations
 * return once the kernel has the data; {@link #flush()} makes it stable.
 * Hole punching and range zeroing go through {@link NativeFile} when the
 * host can do them, with a plain write of zeroes as the fallback.
 *
 * <p>Thread-safe. Every method may throw {@link IOException} for a host
 * error; the caller turns that into an I/O error status for the guest.
 */
public final class BlockImage implements AutoCloseable {
    /** Zeroes are written in pieces of this size when the host cannot zero a range. */
    private static final int ZERO_CHUNK = 64 * 1024;
    private static final ByteBuffer ZEROES = ByteBuffer.allocateDirect(ZERO_CHUNK).asReadOnlyBuffer();

    private final FileChannel channel;
    private final NativeFile nativeFile;
    private final long size;

    /**
     * @param channel    the open image, read-write unless the disk is read-only
     * @param nativeFile the same file for fallocate, or null when the host has none (holes are then not punched)
     * @param size       the image's size in bytes
     */
    public BlockImage(FileChannel channel, NativeFile nativeFile, long size) {
        this.channel = Objects.requireNonNull(channel, "channel");
        this.nativeFile = nativeFile;
        this.size = size;
    }

    /** Size in bytes when opened. */
    public long size() {
        return size;
    }

    /**
     * Fills {@code buffers} in order from disk offset {@code position}.
     *
     * @throws EOFException when the image ends first (it shrank under the device)
     */
    public void read(long position, List<ByteBuffer> buffers) throws IOException {
        long pos = position;
        for (ByteBuffer b : buffers) {
            while (b.hasRemaining()) {
                int n = channel.read(b, pos);
                if (n < 0) throw new EOFException("image ends at " + pos + ", before the request's end");
                pos += n;
            }
        }
    }

    /**
     * Writes {@code buffers} in order from disk offset {@code position}. A short write goes on from where
     * it stopped; one that makes no progress at all is an error, so a request never loops or succeeds short.
     */
    public void write(long position, List<ByteBuffer> buffers) throws IOException {
        long pos = position;
        for (ByteBuffer b : buffers) {
            while (b.hasRemaining()) pos += progress(channel.write(b, pos), pos);
        }
    }

    private static int progress(int written, long pos) throws IOException {
        if (written <= 0) throw new IOException("the host wrote nothing at offset " + pos + " (device full?)");
        return written;
    }

    /** Makes completed writes stable (fdatasync: data, and metadata only as needed to read it back). */
    public void flush() throws IOException {
        channel.force(false);
    }

    /**
     * Deallocates {@code [offset, offset+length)}, keeping the file's size.
     * Returns whether a hole was punched; false when the host cannot, which
     * is allowed as a discard is only a hint.
     */
    public boolean discard(long offset, long length) throws IOException {
        if (nativeFile == null || length == 0) return false;
        return nativeFile.fallocate(NativeFile.FALLOC_FL_PUNCH_HOLE | NativeFile.FALLOC_FL_KEEP_SIZE, offset, length);
    }

    /**
     * Makes {@code [offset, offset+length)} read back as zeroes: by punching a
     * hole when {@code unmap} allows it, else by FALLOC_FL_ZERO_RANGE (which
     * keeps the blocks allocated), else by writing zeroes.
     */
    public void writeZeroes(long offset, long length, boolean unmap) throws IOException {
        if (length == 0) return;
        if (nativeFile != null) {
            if (unmap && discard(offset, length)) return;
            if (nativeFile.fallocate(NativeFile.FALLOC_FL_ZERO_RANGE | NativeFile.FALLOC_FL_KEEP_SIZE, offset, length)) return;
        }
        long pos = offset, end = offset + length;
        while (pos < end) {
            ByteBuffer z = ZEROES.duplicate();
            z.limit((int) Math.min(ZERO_CHUNK, end - pos));
            while (z.hasRemaining()) pos += progress(channel.write(z, pos), pos);
        }
    }

    /** Closes the image; requests still running fail with an I/O error. Idempotent. */
    @Override
    public void close() throws IOException {
        try {
            channel.close();
        } finally {
            if (nativeFile != null) nativeFile.close();
        }
    }
}
