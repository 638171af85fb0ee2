package vmm.kvm.internal.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The libc calls KVM needs, bound once through {@code java.lang.foreign}.
 * Calls that set {@code errno} capture it and throw {@link SysException};
 * the KVM_RUN path uses {@link #ioctlNoThrow} with a capture buffer the vCPU
 * keeps, so the hot path allocates nothing.
 */
public final class Sys {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");
    public static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO_HANDLE = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    public static final int O_RDWR = 2;
    public static final int O_CLOEXEC = 0x80000;
    public static final int PROT_READ = 1, PROT_WRITE = 2;
    public static final int MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20;
    public static final int EFD_CLOEXEC = 0x80000, EFD_NONBLOCK = 0x800;
    public static final int EINTR = 4, EAGAIN = 11, ENOENT = 2, EACCES = 13, EPERM = 1, ENXIO = 6, ENODEV = 19;
    public static final int SIG_UNBLOCK = 1;

    // Each downcall handle in a holder class of its own, made on first use: making one generates its stub
    // (bytecode, method handles) in the interpreter, some milliseconds each, and a start needs few of them.
    private static final class Open {
        static final MethodHandle H = bind("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class Close {
        static final MethodHandle H = bind("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }
    private static final class IoctlPtr {
        static final MethodHandle H = bind("ioctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(2));
    }
    private static final class IoctlLong {
        static final MethodHandle H = bind("ioctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(2));
    }
    private static final class Mmap {
        static final MethodHandle H = bind("mmap",
                FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    }
    private static final class Munmap {
        static final MethodHandle H = bind("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    }
    private static final class Eventfd {
        static final MethodHandle H = bind("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    }
    private static final class Read {
        static final MethodHandle H = bind("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }
    private static final class Write {
        static final MethodHandle H = bind("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }
    private static final class Sigaction {
        static final MethodHandle H = bind("sigaction", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    }
    private static final class Sigemptyset {
        static final MethodHandle H = bind("sigemptyset", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }
    private static final class Sigaddset {
        static final MethodHandle H = bind("sigaddset", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    }
    // pthread_* return the error number instead of setting errno.
    private static final class PthreadSigmask {
        static final MethodHandle H = plain("pthread_sigmask",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    }
    private static final class PthreadSelf {
        static final MethodHandle H = plain("pthread_self", FunctionDescriptor.of(JAVA_LONG));
    }
    private static final class PthreadKill {
        static final MethodHandle H = plain("pthread_kill", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT));
    }
    private static final class Sigrtmin {
        static final MethodHandle H = plain("__libc_current_sigrtmin", FunctionDescriptor.of(JAVA_INT));
    }
    private static final class Strerror {
        static final MethodHandle H = plain("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
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

    private static MethodHandle bind(String name, FunctionDescriptor fd, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = ERRNO;
        System.arraycopy(extra, 0, options, 1, extra.length);
        return LINKER.downcallHandle(symbol(name), fd, options);
    }

    private static MethodHandle plain(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(symbol(name), fd);
    }

    /** The address of a libc function, for passing as a pointer (a signal handler). */
    public static MemorySegment symbol(String name) {
        return LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
    }

    /** errno as captured in {@code capture} by the last call made with it. */
    public static int errno(MemorySegment capture) {
        return (int) ERRNO_HANDLE.get(capture, 0L);
    }

    public static int open(String path, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            int fd = (int) Open.H.invokeExact(st, a.allocateFrom(path), flags);
            if (fd < 0) throw new SysException("open(" + path + ")", errno(st));
            return fd;
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static void close(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            int rc = (int) Close.H.invokeExact(st, fd);
            if (rc < 0) throw new SysException("close(" + fd + ")", errno(st));
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** {@code ioctl(fd, request, arg)} with a pointer argument; returns its non-negative result. */
    public static int ioctl(int fd, long request, MemorySegment arg, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            int rc = (int) IoctlPtr.H.invokeExact(st, fd, request, arg);
            if (rc < 0) throw new SysException(name, errno(st));
            return rc;
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** {@code ioctl(fd, request, arg)} with an integer argument; returns its non-negative result. */
    public static int ioctl(int fd, long request, long arg, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            int rc = (int) IoctlLong.H.invokeExact(st, fd, request, arg);
            if (rc < 0) throw new SysException(name, errno(st));
            return rc;
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** {@code ioctl(fd, request, arg)} returning -1 on failure with errno left in {@code capture}. */
    public static int ioctlNoThrow(MemorySegment capture, int fd, long request, long arg) {
        try {
            return (int) IoctlLong.H.invokeExact(capture, fd, request, arg);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Maps {@code size} bytes; {@code fd} -1 with {@link #MAP_ANONYMOUS} for fresh zeroed memory. */
    public static MemorySegment mmap(long size, int prot, int flags, int fd, long offset) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            MemorySegment p = (MemorySegment) Mmap.H.invokeExact(st, MemorySegment.NULL, size, prot, flags, fd, offset);
            if (p.address() == -1L) throw new SysException("mmap(fd " + fd + ", " + size + " bytes)", errno(st));
            return p.reinterpret(size);
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static void munmap(MemorySegment segment) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            int rc = (int) Munmap.H.invokeExact(st, segment, segment.byteSize());
            if (rc < 0) throw new SysException("munmap", errno(st));
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static int eventfd(int initial, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            int fd = (int) Eventfd.H.invokeExact(st, initial, flags);
            if (fd < 0) throw new SysException("eventfd", errno(st));
            return fd;
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Reads an eventfd's 8-byte counter; -1 if it would block (the fd is non-blocking). */
    public static long readCounter(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            MemorySegment buf = a.allocate(JAVA_LONG);
            long n = (long) Read.H.invokeExact(st, fd, buf, 8L);
            if (n < 0) {
                int e = errno(st);
                if (e == EAGAIN) return -1;
                throw new SysException("read(eventfd " + fd + ")", e);
            }
            return buf.get(JAVA_LONG, 0);
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Adds {@code value} to an eventfd's counter. */
    public static void writeCounter(int fd, long value) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            MemorySegment buf = a.allocate(JAVA_LONG);
            buf.set(JAVA_LONG, 0, value);
            long n = (long) Write.H.invokeExact(st, fd, buf, 8L);
            if (n < 0) throw new SysException("write(eventfd " + fd + ")", errno(st));
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** {@code sigaction(signal, act, old)}; either may be {@link MemorySegment#NULL}. */
    public static void sigaction(int signal, MemorySegment act, MemorySegment old) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            int rc = (int) Sigaction.H.invokeExact(st, signal, act, old);
            if (rc < 0) throw new SysException("sigaction(" + signal + ")", errno(st));
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Fills {@code set} (a {@code sigset_t}) with just {@code signal}. */
    public static void sigsetOf(MemorySegment set, int signal) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            if ((int) Sigemptyset.H.invokeExact(st, set) < 0 || (int) Sigaddset.H.invokeExact(st, set, signal) < 0)
                throw new SysException("sigaddset(" + signal + ")", errno(st));
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
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
        try {
            MemorySegment s = (MemorySegment) Strerror.H.invokeExact(errno);
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    /** Rounds {@code n} up to a multiple of the 4 KiB page. */
    public static long pageAlign(long n) {
        return (n + 4095) & ~4095L;
    }
}
