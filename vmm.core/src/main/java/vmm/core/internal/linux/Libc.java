package vmm.core.internal.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import vmm.core.linux.Downcalls;

/**
 * The few libc calls the core needs for shared guest RAM, on {@link Downcalls}. Each call captures
 * {@code errno} so failures name the host's reason.
 */
public final class Libc {
    public static final int MAP_NORESERVE = 0x4000;
    public static final int MFD_CLOEXEC = 1;
    public static final int MFD_ALLOW_SEALING = 2;
    public static final int F_ADD_SEALS = 1033, F_GET_SEALS = 1034;
    public static final int F_SEAL_SHRINK = 2, F_SEAL_GROW = 4;

    /** The exception of every failed call here: the call, the host's reason and the errno. */
    private static final Downcalls.Failure<NativeIOException> FAILURE =
            (call, errno) -> new NativeIOException(Downcalls.failureMessage(call, errno), errno);

    private static final MethodHandle MEMFD_CREATE = Downcalls.bind("memfd_create",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle FTRUNCATE = Downcalls.bind("ftruncate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle FCNTL = Downcalls.bind("fcntl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));

    private Libc() {}

    /**
     * Creates an anonymous shareable file of {@code size} bytes, sealed against shrinking and growing;
     * returns its fd. The seals matter once the fd is shared: a vhost-user or vfio-user peer that mapped
     * guest RAM cannot take pages away under our mappings or KVM's (an access past a file's end faults).
     */
    public static int memfdCreate(String name, long size) {
        return Downcalls.withErrno((a, st) -> {
            int fd = (int) MEMFD_CREATE.invokeExact(st, a.allocateFrom(name), MFD_CLOEXEC | MFD_ALLOW_SEALING);
            if (fd < 0) throw FAILURE.of("memfd_create(" + name + ")", Downcalls.errno(st));
            int rc = (int) FTRUNCATE.invokeExact(st, fd, size);
            if (rc < 0) {
                NativeIOException e = FAILURE.of("ftruncate(" + name + ", " + size + ")", Downcalls.errno(st));
                close(fd);
                throw e;
            }
            rc = (int) FCNTL.invokeExact(st, fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
            if (rc < 0) {
                NativeIOException e = FAILURE.of("fcntl(" + name + ", F_ADD_SEALS)", Downcalls.errno(st));
                close(fd);
                throw e;
            }
            return fd;
        });
    }

    /** The seals of {@code fd} (F_GET_SEALS), a set of F_SEAL_* bits. */
    public static int seals(int fd) {
        return Downcalls.withErrno((a, st) -> {
            int seals = (int) FCNTL.invokeExact(st, fd, F_GET_SEALS, 0);
            if (seals < 0) throw FAILURE.of("fcntl(" + fd + ", F_GET_SEALS)", Downcalls.errno(st));
            return seals;
        });
    }

    /** Maps {@code size} bytes of {@code fd} at {@code offset} shared; the segment is unbounded by an arena. */
    public static MemorySegment mmapShared(int fd, long offset, long size, boolean writable) {
        int prot = Downcalls.PROT_READ | (writable ? Downcalls.PROT_WRITE : 0);
        return Downcalls.mmap(size, prot, Downcalls.MAP_SHARED | MAP_NORESERVE, fd, offset, FAILURE);
    }

    public static void munmap(MemorySegment segment) {
        Downcalls.munmap(segment, FAILURE);
    }

    public static void close(int fd) {
        Downcalls.close(fd, FAILURE);
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
