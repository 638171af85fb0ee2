package device.pci_passthru.internal.kernel;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import vmm.core.linux.Downcalls;

/** {@link VfioSys} on the host's libc, through the core's {@link Downcalls}. */
final class LinuxVfioSys implements VfioSys {
    private static final int O_RDWR = 2, O_CLOEXEC = 0x80000;
    private static final MethodHandle PREAD = Downcalls.bind("pread",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PWRITE = Downcalls.bind("pwrite",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));

    @Override
    public int open(String path) {
        return Downcalls.open(path, O_RDWR | O_CLOEXEC, SysException::new);
    }

    @Override
    public int ioctl(int fd, long request, MemorySegment arg) {
        return Downcalls.ioctl(fd, request, arg, "ioctl", (call, errno) -> failedIoctl(request, errno));
    }

    @Override
    public int ioctl(int fd, long request, long value) {
        return Downcalls.ioctl(fd, request, value, "ioctl", (call, errno) -> failedIoctl(request, errno));
    }

    /** VFIO's requests are numbers; the failure names the number (formatted only when it fails). */
    private static SysException failedIoctl(long request, int errno) {
        return new SysException(String.format("ioctl 0x%x", request), errno);
    }

    @Override
    public long pread(int fd, MemorySegment buf, long offset) {
        return positional(PREAD, "pread", fd, buf, offset);
    }

    @Override
    public long pwrite(int fd, MemorySegment buf, long offset) {
        return positional(PWRITE, "pwrite", fd, buf, offset);
    }

    /** pread or pwrite of all of {@code buf} at {@code offset}; returns the bytes moved. */
    private static long positional(MethodHandle call, String name, int fd, MemorySegment buf, long offset) {
        return Downcalls.withErrno((a, cap) -> {
            long r = (long) call.invokeExact(cap, fd, buf, buf.byteSize(), offset);
            if (r < 0) throw new SysException(name, Downcalls.errno(cap));
            return r;
        });
    }

    @Override
    public MemorySegment mmap(int fd, long offset, long length) {
        return Downcalls.mmap(length, Downcalls.PROT_READ | Downcalls.PROT_WRITE, Downcalls.MAP_SHARED, fd, offset,
                SysException::new);
    }

    @Override
    public void munmap(MemorySegment mapping) {
        Downcalls.munmapQuietly(mapping);
    }

    @Override
    public void close(int fd) {
        Downcalls.closeQuietly(fd);
    }
}
