package device.virtio_block.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The few libc calls a {@code FileChannel} does not offer, through
 * {@code java.lang.foreign}: {@code fallocate} (punch a hole, zero a range)
 * and {@code lseek(SEEK_END)} (the size of a block device, which
 * {@code fstat} reports as 0). Java does not expose a channel's descriptor,
 * so this holds its own descriptor on the same file; both see the same
 * inode and page cache. Private to this bundle: the core's libc binding is
 * not exported. Thread-safe; the calls are positional.
 */
public final class NativeFile implements AutoCloseable {
    public static final int FALLOC_FL_KEEP_SIZE = 0x01;
    public static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    public static final int FALLOC_FL_ZERO_RANGE = 0x10;

    private static final int O_RDONLY = 0, O_RDWR = 2, O_CLOEXEC = 0x80000;
    private static final int SEEK_END = 2;
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
        try (Arena a = Arena.ofConfined()) {
            MemorySegment state = a.allocate(Libc.CAPTURE);
            int fd = (int) LIBC.open.invokeExact(state, a.allocateFrom(path.toString()),
                    (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
            if (fd < 0) throw new IOException("open " + path + ": errno " + Libc.errno(state));
            return Optional.of(new NativeFile(fd));
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
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
        try (Arena a = Arena.ofConfined()) {
            MemorySegment state = a.allocate(Libc.CAPTURE);
            while (true) {
                int r = (int) LIBC.fallocate.invokeExact(state, fd, mode, offset, length);
                if (r == 0) return true;
                int errno = Libc.errno(state);
                if (errno == 4) continue; // EINTR
                if (errno == EOPNOTSUPP || errno == ENOSYS || errno == ENODEV || errno == EINVAL) return false;
                throw new IOException("fallocate(mode 0x" + Integer.toHexString(mode) + ", " + offset + ", " + length + "): errno " + errno);
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** The file's size as lseek(SEEK_END) reports it: for a block device, its size in bytes. */
    public long sizeBySeek() throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment state = a.allocate(Libc.CAPTURE);
            long r = (long) LIBC.lseek.invokeExact(state, fd, 0L, SEEK_END);
            if (r < 0) throw new IOException("lseek: errno " + Libc.errno(state));
            return r;
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            int r = (int) LIBC.close.invokeExact(fd);
        } catch (Throwable t) {
            // nothing useful to do; the descriptor is gone either way
        }
    }

    /** The bound functions; null when this host has no usable libc. */
    private record Libc(MethodHandle open, MethodHandle fallocate, MethodHandle lseek, MethodHandle close) {
        static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
        static final VarHandle ERRNO = CAPTURE.varHandle(java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));

        static int errno(MemorySegment state) {
            return (int) ERRNO.get(state, 0L);
        }

        static Libc load() {
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup libc = linker.defaultLookup();
                Linker.Option errno = Linker.Option.captureCallState("errno");
                return new Libc(
                        linker.downcallHandle(libc.find("open").orElseThrow(),
                                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT), errno),
                        linker.downcallHandle(libc.find("fallocate").orElseThrow(),
                                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                                        ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG), errno),
                        linker.downcallHandle(libc.find("lseek").orElseThrow(),
                                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG,
                                        ValueLayout.JAVA_INT), errno),
                        linker.downcallHandle(libc.find("close").orElseThrow(),
                                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT)));
            } catch (RuntimeException | LinkageError e) {
                return null;
            }
        }
    }
}
