package vmm.core.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The one way bundles bind and call libc through {@code java.lang.foreign}: looking a symbol up, a downcall
 * handle that captures {@code errno}, a call made in a confined arena with a capture segment, the message a
 * failure carries ({@code "<call> failed: <strerror> (errno <n>)"}), and the calls every binding needs
 * ({@code open}, {@code close}, {@code ioctl}, {@code mmap}, {@code munmap}) with errno checked.
 *
 * <p>The checked wrappers take a {@link Failure} so each caller keeps its own exception type. The handles
 * are made on first use (making one generates its stub, some milliseconds each). Thread-safe; every method
 * may be called from any thread.
 */
public final class Downcalls {
    /** The capture segment's layout: allocate one per call, or one per thread for a hot path. */
    public static final StructLayout CAPTURE = Linker.Option.captureStateLayout();

    public static final int PROT_READ = 1, PROT_WRITE = 2;
    public static final int MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20;
    /** What mmap(2) returns on failure. */
    public static final long MAP_FAILED = -1L;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    // A holder class per handle: a bundle pays only for the stubs it calls.
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

    private static final class Strerror {
        static final MethodHandle H = bindPlain("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    }

    private Downcalls() {}

    /**
     * Makes the exception for a failed call: {@code call} names it (with its arguments where they help),
     * {@code errno} is what it set. Must not return null.
     */
    @FunctionalInterface
    public interface Failure<X extends Exception> {
        X of(String call, int errno);
    }

    /** One or more downcalls with errno captured into {@code capture}; both segments live as long as the call. */
    @FunctionalInterface
    public interface Call<T> {
        T call(Arena arena, MemorySegment capture) throws Throwable;
    }

    /**
     * The address of a libc function, for binding or for passing as a pointer (a signal handler).
     *
     * @throws UnsatisfiedLinkError naming the symbol when libc has none of that name
     */
    public static MemorySegment symbol(String name) {
        return LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
    }

    /**
     * A downcall handle for libc's {@code name} whose first parameter is a {@link #CAPTURE} segment that
     * receives {@code errno}; {@code extra} adds linker options (such as {@code firstVariadicArg}).
     */
    public static MethodHandle bind(String name, FunctionDescriptor descriptor, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(extra, 0, options, 1, extra.length);
        return LINKER.downcallHandle(symbol(name), descriptor, options);
    }

    /** A downcall handle for a libc function that does not report through errno (pthread_*, strerror). */
    public static MethodHandle bindPlain(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(symbol(name), descriptor);
    }

    /** errno as captured in {@code capture} by the last call made with it. */
    public static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    /** The host's text for {@code errno}; {@code "errno <n>"} when libc cannot say. */
    public static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) Strerror.H.invokeExact(errno);
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    /** The message of a failed call: {@code "<call> failed: <strerror> (errno <n>)"}. */
    public static String failureMessage(String call, int errno) {
        return call + " failed: " + strerror(errno) + " (errno " + errno + ")";
    }

    /**
     * Runs {@code body} in a confined arena with a fresh capture segment and returns its result. A
     * RuntimeException or Error it throws passes; anything else (a method handle's checked Throwable) is a
     * linkage bug and comes out as an IllegalStateException.
     */
    public static <T> T withErrno(Call<T> body) {
        try (Arena a = Arena.ofConfined()) {
            return body.call(a, a.allocate(CAPTURE));
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** {@link #withErrno(Call)} for a body that may throw the checked {@code passes}, which passes too. */
    public static <T, X extends Exception> T withErrno(Class<X> passes, Call<T> body) throws X {
        try (Arena a = Arena.ofConfined()) {
            return body.call(a, a.allocate(CAPTURE));
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            if (passes.isInstance(t)) throw passes.cast(t);
            throw new IllegalStateException(t);
        }
    }

    /** {@code open(path, flags)}; returns the descriptor, or throws {@code failure("open(<path>)", errno)}. */
    public static <X extends Exception> int open(String path, int flags, Failure<X> failure) throws X {
        return Downcalls.<Integer, X>check(failure, (a, st) -> {
            int fd = (int) Open.H.invokeExact(st, a.allocateFrom(path), flags);
            if (fd < 0) throw new Failed("open(" + path + ")", errno(st));
            return fd;
        });
    }

    /** {@code close(fd)}; throws {@code failure("close(<fd>)", errno)} when it fails. */
    public static <X extends Exception> void close(int fd, Failure<X> failure) throws X {
        Downcalls.<Object, X>check(failure, (a, st) -> {
            if ((int) Close.H.invokeExact(st, fd) < 0) throw new Failed("close(" + fd + ")", errno(st));
            return null;
        });
    }

    /** {@code close(fd)} for a descriptor being given up: a negative fd and any failure are ignored. */
    public static void closeQuietly(int fd) {
        if (fd < 0) return;
        withErrno((a, st) -> (int) Close.H.invokeExact(st, fd));
    }

    /**
     * {@code ioctl(fd, request, arg)} with a pointer argument; returns its non-negative result, or throws
     * {@code failure(call, errno)}.
     */
    public static <X extends Exception> int ioctl(int fd, long request, MemorySegment arg, String call,
            Failure<X> failure) throws X {
        return Downcalls.<Integer, X>check(failure, (a, st) -> {
            int rc = (int) IoctlPtr.H.invokeExact(st, fd, request, arg);
            if (rc < 0) throw new Failed(call, errno(st));
            return rc;
        });
    }

    /** {@link #ioctl(int, long, MemorySegment, String, Failure)} with an integer argument. */
    public static <X extends Exception> int ioctl(int fd, long request, long arg, String call, Failure<X> failure)
            throws X {
        return Downcalls.<Integer, X>check(failure, (a, st) -> {
            int rc = (int) IoctlLong.H.invokeExact(st, fd, request, arg);
            if (rc < 0) throw new Failed(call, errno(st));
            return rc;
        });
    }

    /**
     * {@code ioctl(fd, request, arg)} for a hot path: returns -1 on failure with errno left in {@code capture}
     * (a {@link #CAPTURE} segment the caller keeps), allocating nothing.
     */
    public static int ioctlNoThrow(MemorySegment capture, int fd, long request, long arg) {
        try {
            return (int) IoctlLong.H.invokeExact(capture, fd, request, arg);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * {@code mmap(NULL, size, prot, flags, fd, offset)} as a segment of {@code size} bytes that no arena
     * bounds ({@link #munmap} ends it); fd -1 with {@link #MAP_ANONYMOUS} for fresh zeroed memory. Throws
     * {@code failure("mmap(fd <fd>, offset 0x<offset>, <size> bytes)", errno)}.
     */
    public static <X extends Exception> MemorySegment mmap(long size, int prot, int flags, int fd, long offset,
            Failure<X> failure) throws X {
        return Downcalls.<MemorySegment, X>check(failure, (a, st) -> {
            MemorySegment p = (MemorySegment) Mmap.H.invokeExact(st, MemorySegment.NULL, size, prot, flags, fd,
                    offset);
            if (p.address() == MAP_FAILED)
                throw new Failed("mmap(fd " + fd + ", offset 0x" + Long.toHexString(offset) + ", " + size + " bytes)",
                        errno(st));
            return p.reinterpret(size);
        });
    }

    /** Unmaps all of {@code segment}; throws {@code failure("munmap", errno)} when that fails. */
    public static <X extends Exception> void munmap(MemorySegment segment, Failure<X> failure) throws X {
        Downcalls.<Object, X>check(failure, (a, st) -> {
            if ((int) Munmap.H.invokeExact(st, segment, segment.byteSize()) < 0)
                throw new Failed("munmap", errno(st));
            return null;
        });
    }

    /** {@code munmap} for a mapping being given up: returns 0, or the errno of a failure. */
    public static int munmapQuietly(MemorySegment segment) {
        return withErrno((a, st) -> (int) Munmap.H.invokeExact(st, segment, segment.byteSize()) < 0 ? errno(st) : 0);
    }

    /** {@link #withErrno(Call)} whose body reports a failed call by throwing {@link Failed}. */
    private static <T, X extends Exception> T check(Failure<X> failure, Call<T> body) throws X {
        try {
            return withErrno(body);
        } catch (Failed f) {
            throw failure.of(f.call, f.errno);
        }
    }

    /** A failed call inside {@link #check}, turned there into the caller's exception; no stack trace. */
    private static final class Failed extends RuntimeException {
        final String call;
        final int errno;

        Failed(String call, int errno) {
            super(call, null, false, false);
            this.call = call;
            this.errno = errno;
        }
    }
}
