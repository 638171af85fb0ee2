package device.virtio_net.backend;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import vmm.core.linux.Downcalls;

/**
 * The libc calls the back ends need, bound through the core's
 * {@link Downcalls}. Every call captures errno; a failing call returns -1
 * and the caller reads {@link #errno} from its capture segment. Layouts are x86-64/aarch64 Linux (LP64).
 */
final class Libc {
    static final int O_RDWR = 2, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000;
    static final int AF_UNIX = 1, SOCK_DGRAM = 2, SOCK_NONBLOCK = 0x800, SOCK_CLOEXEC = 0x80000;
    static final int MSG_DONTWAIT = 0x40;
    static final int POLLIN = 1;
    static final int EFD_NONBLOCK = 0x800, EFD_CLOEXEC = 0x80000;
    static final int EAGAIN = 11, EINTR = 4, EINVAL = 22, ENOENT = 2, ECONNREFUSED = 111, ENOBUFS = 105, EPERM = 1, EBUSY = 16;
    /** struct iovec, struct pollfd, struct msghdr and sockaddr_un sizes. */
    static final int IOVEC = 16, POLLFD = 8, MSGHDR = 56, SOCKADDR_UN = 110, SUN_PATH_MAX = 107;

    static final StructLayout CAPTURE = Downcalls.CAPTURE;

    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG;
    private static final ValueLayout P = ValueLayout.ADDRESS;

    static final MethodHandle open = h("open", FunctionDescriptor.of(I, P, I));
    static final MethodHandle close = h("close", FunctionDescriptor.of(I, I));
    static final MethodHandle ioctl = h("ioctl", FunctionDescriptor.of(I, I, L, P));
    static final MethodHandle read = h("read", FunctionDescriptor.of(L, I, P, L));
    static final MethodHandle write = h("write", FunctionDescriptor.of(L, I, P, L));
    static final MethodHandle writev = h("writev", FunctionDescriptor.of(L, I, P, I));
    static final MethodHandle poll = h("poll", FunctionDescriptor.of(I, P, L, I));
    static final MethodHandle eventfd = h("eventfd", FunctionDescriptor.of(I, I, I));
    static final MethodHandle socket = h("socket", FunctionDescriptor.of(I, I, I, I));
    static final MethodHandle bind = h("bind", FunctionDescriptor.of(I, I, P, I));
    static final MethodHandle sendmsg = h("sendmsg", FunctionDescriptor.of(L, I, P, I));
    static final MethodHandle recv = h("recv", FunctionDescriptor.of(L, I, P, L, I));
    static final MethodHandle unlink = h("unlink", FunctionDescriptor.of(I, P));

    private Libc() {}

    private static MethodHandle h(String name, FunctionDescriptor d) {
        return Downcalls.bind(name, d);
    }

    static int errno(MemorySegment capture) {
        return Downcalls.errno(capture);
    }

    /** A sockaddr_un for {@code path} in {@code arena}. */
    static MemorySegment sockaddr(Arena arena, String path) {
        byte[] p = path.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        if (p.length > SUN_PATH_MAX) throw new IllegalArgumentException("socket path longer than " + SUN_PATH_MAX + " bytes: " + path);
        MemorySegment a = arena.allocate(SOCKADDR_UN);
        a.set(ValueLayout.JAVA_SHORT, 0, (short) AF_UNIX);
        MemorySegment.copy(p, 0, a, ValueLayout.JAVA_BYTE, 2, p.length);
        return a;
    }

    /** A downcall returning a byte count or -1 with errno captured, as read, write and their kin do. */
    @FunctionalInterface
    interface Call {
        long invoke() throws Throwable;
    }

    /**
     * Runs {@code call}, whose errno lands in {@code capture}: returns its non-negative result, or the errno negated
     * when it failed (the kernel's convention), so the caller decides which errnos are only "not now".
     */
    static long call(MemorySegment capture, Call call) {
        long n;
        try {
            n = call.invoke();
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return n >= 0 ? n : -errno(capture);
    }

    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }
}
