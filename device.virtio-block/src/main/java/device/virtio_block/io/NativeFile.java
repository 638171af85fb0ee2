package device.virtio_block.io;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.Optional;

import vmm.core.linux.Downcalls;

/**
 * The few libc calls a {@code FileChannel} does not offer, through
 * {@code java.lang.foreign}: {@code fallocate} (punch a hole, zero a range)
 * and {@code lseek(SEEK_END)} (the size of a block device, which
 * {@code fstat} reports as 0). Java does not expose a channel's descriptor,
 * so this holds its own descriptor on the same file; both see the same
 * inode and page cache. Bound through the core's {@link Downcalls}.
 * Thread-safe; the calls are positional.
 */
public final class NativeFile implements AutoCloseable {
    public static final int FALLOC_FL_KEEP_SIZE = 0x01;
    public static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    public static final int FALLOC_FL_ZERO_RANGE = 0x10;

    private static final int O_RDONLY = 0, O_RDWR = 2, O_CLOEXEC = 0x80000;
    private static final int SEEK_END = 2, EINTR = 4;
    /** errno values meaning "this file system or device cannot do that". */
    private static final int ENOSYS = 38, EOPNOTSUPP = 95, EINVAL = 22, ENODEV = 19;

    private static final Libc LIBC = Libc.load();

    private final int fd;
    private volatile boolean closed;

    private NativeFile(int fd) {
        this.fd = fd;
    }

    /** Whether libc could be bound on this host (Linux on a platform the FFM linker supports). */
    public static boolean available() {
        return LIBC != null;
    }

    /**
     * Opens {@code path} (read-write unless {@code readOnly}), or returns
     * empty when libc is not available.
     *
     * @throws IOException with the errno when open(2) fails
     */
    public static Optional<NativeFile> open(Path path, boolean readOnly) throws IOException {
        if (LIBC == null) return Optional.empty();
        int fd = Downcalls.open(path.toString(), (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC, NativeFile::failure);
        return Optional.of(new NativeFile(fd));
    }

    /**
     * fallocate(2) with {@code mode} over {@code [offset, offset+length)}.
     * Returns false when the file system or device does not support the
     * mode, so the caller can fall back.
     *
     * @throws IOException for any other failure
     */
    public boolean fallocate(int mode, long offset, long length) throws IOException {
        if (closed) throw new IOException("file closed");
        return Downcalls.withErrno(IOException.class, (a, state) -> {
            while (true) {
                int r = (int) LIBC.fallocate.invokeExact(state, fd, mode, offset, length);
                if (r == 0) return true;
                int errno = Downcalls.errno(state);
                if (errno == EINTR) continue;
                if (errno == EOPNOTSUPP || errno == ENOSYS || errno == ENODEV || errno == EINVAL) return false;
                throw failure("fallocate(mode 0x" + Integer.toHexString(mode) + ", " + offset + ", " + length + ")",
                        errno);
            }
        });
    }

    /** The file's size as lseek(SEEK_END) reports it: for a block device, its size in bytes. */
    public long sizeBySeek() throws IOException {
        return Downcalls.withErrno(IOException.class, (a, state) -> {
            long r = (long) LIBC.lseek.invokeExact(state, fd, 0L, SEEK_END);
            if (r < 0) throw failure("lseek(SEEK_END)", Downcalls.errno(state));
            return r;
        });
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        Downcalls.closeQuietly(fd); // nothing useful to do on failure; the descriptor is gone either way
    }

    private static IOException failure(String call, int errno) {
        return new IOException(Downcalls.failureMessage(call, errno));
    }

    /** The bound functions; null when this host has no usable libc. */
    private record Libc(MethodHandle fallocate, MethodHandle lseek) {
        static Libc load() {
            try {
                return new Libc(
                        Downcalls.bind("fallocate", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                                ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG)),
                        Downcalls.bind("lseek", FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT,
                                ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT)));
            } catch (RuntimeException | LinkageError e) {
                return null;
            }
        }
    }
}
