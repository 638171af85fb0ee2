package device.pci_passthru.internal.kernel;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/** {@link VfioSys} on the host's libc through {@code java.lang.foreign}. */
final class LinuxVfioSys implements VfioSys {
    private static final int O_RDWR = 2, O_CLOEXEC = 0x80000, PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1;
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle OPEN = h("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle CLOSE = h("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle IOCTL_P = h("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle IOCTL_L = h("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PREAD = h("pread", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PWRITE = h("pwrite", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle MMAP = h("mmap", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = h("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));

    /** A libc call with errno captured into {@code cap}, in memory of {@code a}. */
    @FunctionalInterface
    private interface Call<T> {
        T call(Arena a, MemorySegment cap) throws Throwable;
    }

    /** Runs {@code body} in a confined arena with an errno capture segment; a Throwable of a method handle is a bug. */
    private static <T> T withErrno(Call<T> body) {
        try (Arena a = Arena.ofConfined()) {
            return body.call(a, a.allocate(CAPTURE));
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static MethodHandle h(String name, FunctionDescriptor d) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), d, Linker.Option.captureCallState("errno"));
    }

    @Override
    public int open(String path) {
        return withErrno((a, cap) -> {
            int fd = (int) OPEN.invokeExact(cap, a.allocateFrom(path), O_RDWR | O_CLOEXEC);
            if (fd < 0) throw new SysException("open " + path, errno(cap));
            return fd;
        });
    }

    @Override
    public int ioctl(int fd, long request, MemorySegment arg) {
        return withErrno((a, cap) -> {
            int r = (int) IOCTL_P.invokeExact(cap, fd, request, arg);
            if (r < 0) throw new SysException(String.format("ioctl 0x%x", request), errno(cap));
            return r;
        });
    }

    @Override
    public int ioctl(int fd, long request, long value) {
        return withErrno((a, cap) -> {
            int r = (int) IOCTL_L.invokeExact(cap, fd, request, value);
            if (r < 0) throw new SysException(String.format("ioctl 0x%x", request), errno(cap));
            return r;
        });
    }

    @Override
    public long pread(int fd, MemorySegment buf, long offset) {
        return withErrno((a, cap) -> {
            long r = (long) PREAD.invokeExact(cap, fd, buf, buf.byteSize(), offset);
            if (r < 0) throw new SysException("pread", errno(cap));
            return r;
        });
    }

    @Override
    public long pwrite(int fd, MemorySegment buf, long offset) {
        return withErrno((a, cap) -> {
            long r = (long) PWRITE.invokeExact(cap, fd, buf, buf.byteSize(), offset);
            if (r < 0) throw new SysException("pwrite", errno(cap));
            return r;
        });
    }

    @Override
    public MemorySegment mmap(int fd, long offset, long length) {
        return withErrno((a, cap) -> {
            MemorySegment p = (MemorySegment) MMAP.invokeExact(cap, MemorySegment.NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
            if (p.address() == -1L) throw new SysException("mmap", errno(cap));
            return p.reinterpret(length);
        });
    }

    @Override
    public void munmap(MemorySegment mapping) {
        try (Arena a = Arena.ofConfined()) {
            int r = (int) MUNMAP.invokeExact(a.allocate(CAPTURE), mapping, mapping.byteSize());
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    @Override
    public void close(int fd) {
        try (Arena a = Arena.ofConfined()) {
            int r = (int) CLOSE.invokeExact(a.allocate(CAPTURE), fd);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static int errno(MemorySegment cap) {
        return (int) ERRNO.get(cap, 0L);
    }
}
