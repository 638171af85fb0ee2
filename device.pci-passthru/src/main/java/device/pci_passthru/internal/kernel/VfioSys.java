package device.pci_passthru.internal.kernel;

import java.lang.foreign.MemorySegment;

/**
 * The system calls the kernel VFIO transport makes: the seam a test puts a
 * fake VFIO kernel behind, decoding the very structs of {@link VfioAbi}.
 * Every method throws {@link SysException} with the errno where the call fails.
 */
interface VfioSys {
    /** {@code open(path, O_RDWR | O_CLOEXEC)}; returns the fd. */
    int open(String path);

    /** {@code ioctl(fd, request, arg)} with a pointer argument; returns the result (&gt;= 0). */
    int ioctl(int fd, long request, MemorySegment arg);

    /** {@code ioctl(fd, request, value)} with an integer argument; returns the result (&gt;= 0). */
    int ioctl(int fd, long request, long value);

    /** {@code pread(fd, buf, buf.byteSize(), offset)}; returns the bytes read. */
    long pread(int fd, MemorySegment buf, long offset);

    /** {@code pwrite(fd, buf, buf.byteSize(), offset)}; returns the bytes written. */
    long pwrite(int fd, MemorySegment buf, long offset);

    /** {@code mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset)}. */
    MemorySegment mmap(int fd, long offset, long length);

    /** {@code munmap} of a segment from {@link #mmap}. */
    void munmap(MemorySegment mapping);

    /** {@code close(fd)}; errors are ignored. */
    void close(int fd);
}
