package vmm.kvm.internal.linux;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;

import vmm.core.linux.Downcalls;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The libc calls KVM needs, on the core's {@link Downcalls}: what every binding needs (open, close, ioctl,
 * mmap) comes from there; eventfds and signals for kicking vCPUs are bound here. Calls that set
 * {@code errno} capture it and throw {@link SysException}; the KVM_RUN path uses {@link #ioctlNoThrow}
 * with a capture buffer the vCPU keeps, so the hot path allocates nothing.
 */
public final class Sys {
    public static final StructLayout CAPTURE = Downcalls.CAPTURE;

    public static final int O_RDWR = 2;
    public static final int O_CLOEXEC = 0x80000;
    public static final int PROT_READ = Downcalls.PROT_READ, PROT_WRITE = Downcalls.PROT_WRITE;
    public static final int MAP_SHARED = Downcalls.MAP_SHARED, MAP_PRIVATE = Downcalls.MAP_PRIVATE,
            MAP_ANONYMOUS = Downcalls.MAP_ANONYMOUS;
    public static final int EFD_CLOEXEC = 0x80000, EFD_NONBLOCK = 0x800;
    public static final int EINTR = 4, EAGAIN = 11, ENOENT = 2, EACCES = 13, EPERM = 1, ENXIO = 6, ENODEV = 19;
    public static final int SIG_UNBLOCK = 1;

    // Each downcall handle in a holder class of its own, made on first use: making one generates its stub
    // (bytecode, method handles) in the interpreter, some milliseconds each, and a start needs few of them.
    private static final class Eventfd {
        static final MethodHandle H = Downcalls.bind("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    }
    private static final class Read {
        static final MethodHandle H = Downcalls.bind("read",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }
    private static final class Write {
        static final MethodHandle H = Downcalls.bind("write",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }
    private static final class Sigaction {
        static final MethodHandle H = Downcalls.bind("sigaction",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    }
    private static final class Sigemptyset {
        static final MethodHandle H = Downcalls.bind("sigemptyset", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }
    private static final class Sigaddset {
        static final MethodHandle H = Downcalls.bind("sigaddset", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    }
    // pthread_* return the error number instead of setting errno.
    private static final class PthreadSigmask {
        static final MethodHandle H = Downcalls.bindPlain("pthread_sigmask",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    }
    private static final class PthreadSelf {
        static final MethodHandle H = Downcalls.bindPlain("pthread_self", FunctionDescriptor.of(JAVA_LONG));
    }
    private static final class PthreadKill {
        static final MethodHandle H = Downcalls.bindPlain("pthread_kill",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT));
    }
    private static final class Sigrtmin {
        static final MethodHandle H = Downcalls.bindPlain("__libc_current_sigrtmin", FunctionDescriptor.of(JAVA_INT));
    }

    /**
     * {@code struct sigaction} of glibc on x86-64: the handler, a 1024-bit
     * {@code sigset_t}, {@code int sa_flags}, and the restorer libc fills in.
     */
    public static final StructLayout SIGACTION_LAYOUT = MemoryLayout.structLayout(
            ADDRESS.withName("sa_handler"),
            MemoryLayout.sequenceLayout(16, JAVA_LONG).withName("sa_mask"),
            JAVA_INT.withName("sa_flags"),
            MemoryLayout.paddingLayout(4),
            ADDRESS.withName("sa_restorer"));
    public static final long SIGSET_SIZE = 128;

    private Sys() {}

    /** The address of a libc function, for passing as a pointer (a signal handler). */
    public static MemorySegment symbol(String name) {
        return Downcalls.symbol(name);
    }

    /** errno as captured in {@code capture} by the last call made with it. */
    public static int errno(MemorySegment capture) {
        return Downcalls.errno(capture);
    }

    public static int open(String path, int flags) {
        return Downcalls.open(path, flags, SysException::new);
    }

    public static void close(int fd) {
        Downcalls.close(fd, SysException::new);
    }

    /** {@code ioctl(fd, request, arg)} with a pointer argument; returns its non-negative result. */
    public static int ioctl(int fd, long request, MemorySegment arg, String name) {
        return Downcalls.ioctl(fd, request, arg, name, SysException::new);
    }

    /** {@code ioctl(fd, request, arg)} with an integer argument; returns its non-negative result. */
    public static int ioctl(int fd, long request, long arg, String name) {
        return Downcalls.ioctl(fd, request, arg, name, SysException::new);
    }

    /** {@code ioctl(fd, request, arg)} returning -1 on failure with errno left in {@code capture}. */
    public static int ioctlNoThrow(MemorySegment capture, int fd, long request, long arg) {
        return Downcalls.ioctlNoThrow(capture, fd, request, arg);
    }

    /** Maps {@code size} bytes; {@code fd} -1 with {@link #MAP_ANONYMOUS} for fresh zeroed memory. */
    public static MemorySegment mmap(long size, int prot, int flags, int fd, long offset) {
        return Downcalls.mmap(size, prot, flags, fd, offset, SysException::new);
    }

    public static void munmap(MemorySegment segment) {
        Downcalls.munmap(segment, SysException::new);
    }

    public static int eventfd(int initial, int flags) {
        return Downcalls.withErrno((a, st) -> {
            int fd = (int) Eventfd.H.invokeExact(st, initial, flags);
            if (fd < 0) throw new SysException("eventfd", errno(st));
            return fd;
        });
    }

    /** Reads an eventfd's 8-byte counter; -1 if it would block (the fd is non-blocking). */
    public static long readCounter(int fd) {
        return Downcalls.withErrno((a, st) -> {
            MemorySegment buf = a.allocate(JAVA_LONG);
            long n = (long) Read.H.invokeExact(st, fd, buf, 8L);
            if (n < 0) {
                int e = errno(st);
                if (e == EAGAIN) return -1L;
                throw new SysException("read(eventfd " + fd + ")", e);
            }
            return buf.get(JAVA_LONG, 0);
        });
    }

    /** Adds {@code value} to an eventfd's counter. */
    public static void writeCounter(int fd, long value) {
        Downcalls.withErrno((a, st) -> {
            MemorySegment buf = a.allocate(JAVA_LONG);
            buf.set(JAVA_LONG, 0, value);
            long n = (long) Write.H.invokeExact(st, fd, buf, 8L);
            if (n < 0) throw new SysException("write(eventfd " + fd + ")", errno(st));
            return null;
        });
    }

    /** {@code sigaction(signal, act, old)}; either may be {@link MemorySegment#NULL}. */
    public static void sigaction(int signal, MemorySegment act, MemorySegment old) {
        Downcalls.withErrno((a, st) -> {
            int rc = (int) Sigaction.H.invokeExact(st, signal, act, old);
            if (rc < 0) throw new SysException("sigaction(" + signal + ")", errno(st));
            return null;
        });
    }

    /** Fills {@code set} (a {@code sigset_t}) with just {@code signal}. */
    public static void sigsetOf(MemorySegment set, int signal) {
        Downcalls.withErrno((a, st) -> {
            if ((int) Sigemptyset.H.invokeExact(st, set) < 0 || (int) Sigaddset.H.invokeExact(st, set, signal) < 0)
                throw new SysException("sigaddset(" + signal + ")", errno(st));
            return null;
        });
    }

    /** Unblocks the signals of {@code set} for the calling thread. */
    public static void unblockSignals(MemorySegment set) {
        int rc;
        try {
            rc = (int) PthreadSigmask.H.invokeExact(SIG_UNBLOCK, set, MemorySegment.NULL);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (rc != 0) throw new SysException("pthread_sigmask", rc);
    }

    public static long pthreadSelf() {
        try {
            return (long) PthreadSelf.H.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Sends {@code signal} to a thread of this process; returns 0 or the error number. */
    public static int pthreadKill(long thread, int signal) {
        try {
            return (int) PthreadKill.H.invokeExact(thread, signal);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static int sigrtmin() {
        try {
            return (int) Sigrtmin.H.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static String strerror(int errno) {
        return Downcalls.strerror(errno);
    }

    /** Rounds {@code n} up to a multiple of the 4 KiB page. */
    public static long pageAlign(long n) {
        return (n + 4095) & ~4095L;
    }
}
