package vmm.core.internal.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The few libc calls the core needs for shared guest RAM, bound once through
 * {@code java.lang.foreign}. Each call captures {@code errno} so failures name
 * the host's reason.
 */
public final class Libc {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");
    private static final java.lang.foreign.StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO_HANDLE =
            CAPTURE.varHandle(java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));

    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int MAP_SHARED = 1;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int MFD_CLOEXEC = 1;
    public static final int MFD_ALLOW_SEALING = 2;
    public static final int F_ADD_SEALS = 1033, F_GET_SEALS = 1034;
    public static final int F_SEAL_SHRINK = 2, F_SEAL_GROW = 4;
    public static final long MAP_FAILED = -1L;

    private static final MethodHandle MEMFD_CREATE = bind("memfd_create",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle FTRUNCATE = bind("ftruncate",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
    private static final MethodHandle FCNTL = LINKER.downcallHandle(LIBC.find("fcntl").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT), ERRNO, Linker.Option.firstVariadicArg(2));
    private static final MethodHandle MMAP = bind("mmap",
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                    ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
    private static final MethodHandle MUNMAP = bind("munmap",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle CLOSE = bind("close",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle STRERROR = LINKER.downcallHandle(LIBC.find("strerror").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));

    private Libc() {}

    private static MethodHandle bind(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(LIBC.find(name).orElseThrow(
                () -> new UnsatisfiedLinkError("libc has no " + name)), fd, ERRNO);
    }

    /**
     * Creates an anonymous shareable file of {@code size} bytes, sealed against shrinking and growing;
     * returns its fd. The seals matter once the fd is shared: a vhost-user or vfio-user peer that mapped
     * guest RAM cannot take pages away under our mappings or KVM's (an access past a file's end faults).
     */
    public static int memfdCreate(String name, long size) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            int fd = (int) MEMFD_CREATE.invokeExact(st, a.allocateFrom(name), MFD_CLOEXEC | MFD_ALLOW_SEALING);
            if (fd < 0) throw failure("memfd_create(" + name + ")", st);
            int rc = (int) FTRUNCATE.invokeExact(st, fd, size);
            if (rc < 0) {
                NativeIOException e = failure("ftruncate(" + name + ", " + size + ")", st);
                close(fd);
                throw e;
            }
            rc = (int) FCNTL.invokeExact(st, fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
            if (rc < 0) {
                NativeIOException e = failure("fcntl(" + name + ", F_ADD_SEALS)", st);
                close(fd);
                throw e;
            }
            return fd;
        } catch (NativeIOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** The seals of {@code fd} (F_GET_SEALS), a set of F_SEAL_* bits. */
    public static int seals(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            int seals = (int) FCNTL.invokeExact(st, fd, F_GET_SEALS, 0);
            if (seals < 0) throw failure("fcntl(" + fd + ", F_GET_SEALS)", st);
            return seals;
        } catch (NativeIOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Maps {@code size} bytes of {@code fd} at {@code offset} shared; the segment is unbounded by an arena. */
    public static MemorySegment mmapShared(int fd, long offset, long size, boolean writable) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            int prot = PROT_READ | (writable ? PROT_WRITE : 0);
            MemorySegment p = (MemorySegment) MMAP.invokeExact(st, MemorySegment.NULL, size, prot,
                    MAP_SHARED | MAP_NORESERVE, fd, offset);
            if (p.address() == MAP_FAILED) throw failure("mmap(fd " + fd + ", " + size + " bytes)", st);
            return p.reinterpret(size);
        } catch (NativeIOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static void munmap(MemorySegment segment) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            int rc = (int) MUNMAP.invokeExact(st, segment, segment.byteSize());
            if (rc < 0) throw failure("munmap", st);
        } catch (NativeIOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static void close(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            int rc = (int) CLOSE.invokeExact(st, fd);
            if (rc < 0) throw failure("close(" + fd + ")", st);
        } catch (NativeIOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static NativeIOException failure(String what, MemorySegment callState) {
        int errno = (int) ERRNO_HANDLE.get(callState, 0L);
        return new NativeIOException(what + " failed: " + strerror(errno) + " (errno " + errno + ")", errno);
    }

    public static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    /** A failed host call, with the errno it set. */
    public static final class NativeIOException extends RuntimeException {
        private final int errno;

        public NativeIOException(String message, int errno) {
            super(message);
            this.errno = errno;
        }

        public int errno() {
            return errno;
        }
    }
}
