package vmm.core.linux;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The libc calls vhost-user and vfio-user need and Java's own channels
 * lack: Unix sockets that carry file descriptors ({@code SCM_RIGHTS}),
 * eventfds, {@code poll} and shared mappings of a peer's memory fds. Bound once
 * through {@code java.lang.foreign}; each call captures {@code errno} and
 * failures throw {@link IOException} naming the call and the host's reason.
 * Struct layouts are those of Linux x86-64 ({@code <sys/socket.h>},
 * {@code <sys/un.h>}, {@code <poll.h>}).
 */
public final class Native {

    public static final int AF_UNIX = 1, SOCK_STREAM = 1, SOCK_CLOEXEC = 0x80000;
    public static final int SOL_SOCKET = 1, SCM_RIGHTS = 1;
    public static final int MSG_CTRUNC = 0x8, MSG_NOSIGNAL = 0x4000, MSG_CMSG_CLOEXEC = 0x40000000;
    public static final int EFD_CLOEXEC = 0x80000, EFD_NONBLOCK = 0x800;
    public static final int F_GETFL = 3, F_SETFL = 4, O_NONBLOCK = 0x800;
    public static final int POLLIN = 1, POLLERR = 8, POLLHUP = 0x10, POLLNVAL = 0x20;
    public static final int PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1;
    public static final int EINTR = 4, EAGAIN = 11;
    /** memfd_create(2) flags. */
    public static final int MFD_CLOEXEC = 1, MFD_ALLOW_SEALING = 2;
    /** File seals (fcntl(2), {@code <linux/fcntl.h>}). */
    public static final int F_ADD_SEALS = 1033, F_GET_SEALS = 1034;
    public static final int F_SEAL_SEAL = 1, F_SEAL_SHRINK = 2, F_SEAL_GROW = 4, F_SEAL_WRITE = 8;
    private static final int EINVAL = 22, EPERM = 1;
    /** Most descriptors {@link #recvWithFds(int, MemorySegment)} takes (a vhost-user memory table of 8 regions). */
    public static final int MAX_FDS = 8;
    /** Most descriptors any receive takes: a bound on the control buffer whatever a peer sends. */
    public static final int MAX_FDS_LIMIT = 253;

    /** struct sockaddr_un: sa_family_t then a 108-byte path. */
    private static final int SOCKADDR_UN_SIZE = 110, SUN_PATH_MAX = 107;
    /** struct msghdr on x86-64. */
    private static final int MSG_NAME = 0, MSG_NAMELEN = 8, MSG_IOV = 16, MSG_IOVLEN = 24, MSG_CONTROL = 32,
            MSG_CONTROLLEN = 40, MSG_FLAGS = 48, MSGHDR_SIZE = 56;
    /** struct cmsghdr on x86-64: a size_t length, level, type, then data aligned to 8. */
    private static final int CMSG_LEN = 0, CMSG_LEVEL = 8, CMSG_TYPE = 12, CMSG_DATA = 16;

    private static final MethodHandle SOCKET = bind("socket", ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT);
    private static final MethodHandle BIND = bind("bind", ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT);
    private static final MethodHandle CONNECT = bind("connect", ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT);
    private static final MethodHandle LISTEN = bind("listen", ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT);
    private static final MethodHandle ACCEPT4 = bind("accept4", ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT);
    private static final MethodHandle RECVMSG = bind("recvmsg", ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT);
    private static final MethodHandle SENDMSG = bind("sendmsg", ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT);
    private static final MethodHandle READ = bind("read", ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG);
    private static final MethodHandle WRITE = bind("write", ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG);
    private static final MethodHandle SHUTDOWN = bind("shutdown", ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT);
    private static final MethodHandle EVENTFD = bind("eventfd", ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT);
    private static final MethodHandle POLL = bind("poll", ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT);
    private static final MethodHandle FCNTL = Downcalls.bind("fcntl",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle MEMFD_CREATE =
            bind("memfd_create", ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT);
    private static final MethodHandle FTRUNCATE =
            bind("ftruncate", ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG);
    private static final MethodHandle FSTAT = bind("fstat", ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS);
    /** struct stat on x86-64: 144 bytes, st_size at 48. */
    private static final int STAT_SIZE = 144, ST_SIZE = 48;

    private Native() {}

    /** Runs {@code body} with an errno capture segment; an IOException, RuntimeException or Error passes. */
    private static <T> T withErrno(Downcalls.Call<T> body) throws IOException {
        return Downcalls.withErrno(IOException.class, body);
    }

    private static MethodHandle bind(String name, ValueLayout result, ValueLayout... args) {
        return Downcalls.bind(name, FunctionDescriptor.of(result, args));
    }

    /** A received message part: the bytes read and the descriptors that came with them (owned by the caller). */
    public record Received(int bytes, int[] fds) {}

    /**
     * Creates a listening Unix stream socket bound to {@code path}. The path appears only once the socket
     * listens, so a client that waits for the file can connect at once.
     *
     * @throws IOException when the path exists (as bind's EADDRINUSE) or the socket cannot be made
     */
    public static int listenUnix(String path, int backlog) throws IOException {
        // Whoever sees the path must be able to connect: bind() makes the file before listen() takes
        // connections, so the socket listens under a temporary name first and is then linked to its own
        // (link, unlike rename, refuses a path that exists, as bind does).
        String temporary = path + ".listening-" + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 40);
        if (temporary.getBytes(StandardCharsets.UTF_8).length > SUN_PATH_MAX) return bindAndListen(path, backlog);
        int fd = bindAndListen(temporary, backlog);
        try {
            Files.createLink(Path.of(path), Path.of(temporary));
            return fd;
        } catch (FileAlreadyExistsException e) {
            close(fd);
            throw new IOException("bind/listen(" + path + ") failed: Address already in use (the path exists)", e);
        } catch (IOException | RuntimeException e) {
            close(fd);
            throw new IOException("bind/listen(" + path + ") failed: " + e.getMessage(), e);
        } finally {
            Files.deleteIfExists(Path.of(temporary));
        }
    }

    private static int bindAndListen(String path, int backlog) throws IOException {
        return unixSocket("bind/listen(" + path + ")", (fd, a, st) -> {
            MemorySegment addr = sockaddr(a, path);
            int r = (int) BIND.invokeExact(st, fd, addr, SOCKADDR_UN_SIZE);
            return r < 0 ? r : (int) LISTEN.invokeExact(st, fd, backlog);
        });
    }

    /** Connects a Unix stream socket to {@code path} (the frontend's side; tests use it). */
    public static int connectUnix(String path) throws IOException {
        return unixSocket("connect(" + path + ")",
                (fd, a, st) -> (int) CONNECT.invokeExact(st, fd, sockaddr(a, path), SOCKADDR_UN_SIZE));
    }

    /** One step on a fresh socket: the call's result, negative on failure with errno in {@code st}. */
    @FunctionalInterface
    private interface SocketStep {
        int apply(int fd, Arena a, MemorySegment st) throws Throwable;
    }

    /** Makes a Unix stream socket and takes {@code step} on it; a failed step (as {@code what}) closes it. */
    private static int unixSocket(String what, SocketStep step) throws IOException {
        return withErrno((a, st) -> {
            int fd = (int) SOCKET.invokeExact(st, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0) throw failure("socket(AF_UNIX)", st);
            if (step.apply(fd, a, st) < 0) {
                IOException e = failure(what, st);
                close(fd);
                throw e;
            }
            return fd;
        });
    }

    /** Accepts one connection; blocks. */
    public static int accept(int listenFd) throws IOException {
        return withErrno((a, st) -> {
            while (true) {
                int fd = (int) ACCEPT4.invokeExact(st, listenFd, MemorySegment.NULL, MemorySegment.NULL, SOCK_CLOEXEC);
                if (fd >= 0) return fd;
                if (errno(st) != EINTR) throw failure("accept", st);
            }
        });
    }

    private static MemorySegment sockaddr(Arena a, String path) {
        byte[] p = path.getBytes(StandardCharsets.UTF_8);
        if (p.length > SUN_PATH_MAX) throw new IllegalArgumentException("socket path longer than " + SUN_PATH_MAX + " bytes: " + path);
        MemorySegment addr = a.allocate(SOCKADDR_UN_SIZE, 2);
        addr.set(ValueLayout.JAVA_SHORT, 0, (short) AF_UNIX);
        MemorySegment.copy(p, 0, addr, ValueLayout.JAVA_BYTE, 2, p.length);
        return addr;
    }

    /**
     * Receives up to {@code into.byteSize()} bytes and any descriptors sent
     * with them. Returns 0 bytes at end of stream. Descriptors beyond
     * {@link #MAX_FDS} are refused (the kernel drops them and the call fails).
     */
    public static Received recvWithFds(int fd, MemorySegment into) throws IOException {
        return recvWithFds(fd, into, MAX_FDS);
    }

    /**
     * Like {@link #recvWithFds(int, MemorySegment)} with room for
     * {@code maxFds} descriptors (1..{@value #MAX_FDS_LIMIT}); a message
     * carrying more fails with every received descriptor closed.
     */
    public static Received recvWithFds(int fd, MemorySegment into, int maxFds) throws IOException {
        if (maxFds < 1 || maxFds > MAX_FDS_LIMIT) throw new IllegalArgumentException("maxFds must be 1.." + MAX_FDS_LIMIT + ", was " + maxFds);
        return withErrno((a, st) -> {
            MemorySegment iov = a.allocate(16, 8);
            iov.set(ValueLayout.ADDRESS, 0, into);
            iov.set(ValueLayout.JAVA_LONG, 8, into.byteSize());
            long controlSize = (CMSG_DATA + 4L * maxFds + 7) & ~7L;
            MemorySegment control = a.allocate(controlSize, 8);
            MemorySegment msg = a.allocate(MSGHDR_SIZE, 8);
            msg.set(ValueLayout.ADDRESS, MSG_IOV, iov);
            msg.set(ValueLayout.JAVA_LONG, MSG_IOVLEN, 1);
            msg.set(ValueLayout.ADDRESS, MSG_CONTROL, control);
            msg.set(ValueLayout.JAVA_LONG, MSG_CONTROLLEN, controlSize);
            long n;
            do {
                n = (long) RECVMSG.invokeExact(st, fd, msg, MSG_CMSG_CLOEXEC);
            } while (n < 0 && errno(st) == EINTR);
            if (n < 0) throw failure("recvmsg", st);
            int[] fds = fdsOf(msg, control);
            if ((msg.get(ValueLayout.JAVA_INT, MSG_FLAGS) & MSG_CTRUNC) != 0) {
                for (int f : fds) close(f);
                throw new IOException("recvmsg: more than " + maxFds + " file descriptors in one message");
            }
            return new Received((int) n, fds);
        });
    }

    private static int[] fdsOf(MemorySegment msg, MemorySegment control) {
        long controlLen = msg.get(ValueLayout.JAVA_LONG, MSG_CONTROLLEN);
        if (controlLen < CMSG_DATA) return new int[0];
        long len = control.get(ValueLayout.JAVA_LONG, CMSG_LEN);
        if (control.get(ValueLayout.JAVA_INT, CMSG_LEVEL) != SOL_SOCKET || control.get(ValueLayout.JAVA_INT, CMSG_TYPE) != SCM_RIGHTS
                || len < CMSG_DATA || len > controlLen) return new int[0];
        int count = (int) ((len - CMSG_DATA) / 4);
        int[] fds = new int[count];
        for (int i = 0; i < count; i++) fds[i] = control.get(ValueLayout.JAVA_INT, CMSG_DATA + 4L * i);
        return fds;
    }

    /** Sends all of {@code data}, with {@code fds} attached to the first byte. */
    public static void sendWithFds(int fd, byte[] data, int... fds) throws IOException {
        if (fds.length > MAX_FDS_LIMIT) throw new IllegalArgumentException("at most " + MAX_FDS_LIMIT + " descriptors per message");
        withErrno((a, st) -> {
            MemorySegment buf = a.allocateFrom(ValueLayout.JAVA_BYTE, data);
            long off = 0;
            boolean first = true;
            while (off < data.length) {
                MemorySegment iov = a.allocate(16, 8);
                iov.set(ValueLayout.ADDRESS, 0, buf.asSlice(off));
                iov.set(ValueLayout.JAVA_LONG, 8, data.length - off);
                MemorySegment msg = a.allocate(MSGHDR_SIZE, 8);
                msg.set(ValueLayout.ADDRESS, MSG_IOV, iov);
                msg.set(ValueLayout.JAVA_LONG, MSG_IOVLEN, 1);
                if (first && fds.length > 0) {
                    long controlSize = CMSG_DATA + ((4L * fds.length + 7) & ~7);
                    MemorySegment control = a.allocate(controlSize, 8);
                    control.set(ValueLayout.JAVA_LONG, CMSG_LEN, CMSG_DATA + 4L * fds.length);
                    control.set(ValueLayout.JAVA_INT, CMSG_LEVEL, SOL_SOCKET);
                    control.set(ValueLayout.JAVA_INT, CMSG_TYPE, SCM_RIGHTS);
                    for (int i = 0; i < fds.length; i++) control.set(ValueLayout.JAVA_INT, CMSG_DATA + 4L * i, fds[i]);
                    msg.set(ValueLayout.ADDRESS, MSG_CONTROL, control);
                    msg.set(ValueLayout.JAVA_LONG, MSG_CONTROLLEN, controlSize);
                }
                long n = (long) SENDMSG.invokeExact(st, fd, msg, MSG_NOSIGNAL);
                if (n < 0) {
                    if (errno(st) == EINTR) continue;
                    throw failure("sendmsg", st);
                }
                off += n;
                first = false;
            }
            return null;
        });
    }

    /** Writes all of {@code data} to a pipe, socket or file (no descriptors). */
    public static void writeFully(int fd, byte[] data) throws IOException {
        withErrno((a, st) -> {
            MemorySegment buf = a.allocateFrom(ValueLayout.JAVA_BYTE, data);
            long off = 0;
            while (off < data.length) {
                long n = (long) WRITE.invokeExact(st, fd, buf.asSlice(off), data.length - off);
                if (n < 0 && errno(st) == EINTR) continue;
                if (n <= 0) throw failure("write(fd " + fd + ")", st);
                off += n;
            }
            return null;
        });
    }

    /** Creates an eventfd (close-on-exec; non-blocking if asked). */
    public static int eventfd(boolean nonBlocking) throws IOException {
        return withErrno((a, st) -> {
            int fd = (int) EVENTFD.invokeExact(st, 0, EFD_CLOEXEC | (nonBlocking ? EFD_NONBLOCK : 0));
            if (fd < 0) throw failure("eventfd", st);
            return fd;
        });
    }

    /**
     * Adds 1 to an eventfd's counter, or writes an 8-byte 1 to a pipe (what
     * a vhost-user call or kick descriptor may be). Returns false when the
     * descriptor is non-blocking and full: a notification is pending anyway.
     */
    public static boolean signal(int fd) throws IOException {
        return withErrno((a, st) -> {
            MemorySegment one = a.allocateFrom(ValueLayout.JAVA_LONG, 1L);
            while (true) {
                long n = (long) WRITE.invokeExact(st, fd, one, 8L);
                if (n == 8) return true;
                int e = errno(st);
                if (n < 0 && e == EINTR) continue;
                if (n < 0 && e == EAGAIN) return false;
                throw n < 0 ? failure("write(eventfd " + fd + ")", st) : new IOException("short write to fd " + fd);
            }
        });
    }

    /** Reads an eventfd's counter (resetting it), or 8 bytes of a pipe; -1 when non-blocking and nothing is there. */
    public static long drain(int fd) throws IOException {
        return withErrno((a, st) -> {
            MemorySegment v = a.allocate(ValueLayout.JAVA_LONG);
            while (true) {
                long n = (long) READ.invokeExact(st, fd, v, 8L);
                if (n == 8) return v.get(ValueLayout.JAVA_LONG, 0);
                int e = errno(st);
                if (n < 0 && e == EINTR) continue;
                if (n < 0 && e == EAGAIN) return -1L;
                throw n < 0 ? failure("read(eventfd " + fd + ")", st) : new IOException("short read from fd " + fd);
            }
        });
    }

    /**
     * Waits until one of {@code fds} is readable (or hung up, or invalid).
     * Returns the index of the first such descriptor, or -1 on timeout.
     */
    public static int pollReadable(int[] fds, int timeoutMillis) throws IOException {
        return withErrno((a, st) -> {
            MemorySegment p = a.allocate(8L * fds.length, 4);
            for (int i = 0; i < fds.length; i++) {
                p.set(ValueLayout.JAVA_INT, 8L * i, fds[i]);
                p.set(ValueLayout.JAVA_SHORT, 8L * i + 4, (short) POLLIN);
            }
            int n;
            do {
                n = (int) POLL.invokeExact(st, p, (long) fds.length, timeoutMillis);
            } while (n < 0 && errno(st) == EINTR);
            if (n < 0) throw failure("poll", st);
            for (int i = 0; i < fds.length; i++)
                if (p.get(ValueLayout.JAVA_SHORT, 8L * i + 6) != 0) return i;
            return -1;
        });
    }

    /** Sets O_NONBLOCK on {@code fd}. */
    public static void setNonBlocking(int fd) throws IOException {
        withErrno((a, st) -> {
            int flags = (int) FCNTL.invokeExact(st, fd, F_GETFL, 0);
            if (flags < 0 || (int) FCNTL.invokeExact(st, fd, F_SETFL, flags | O_NONBLOCK) < 0) throw failure("fcntl(O_NONBLOCK)", st);
            return null;
        });
    }

    /** Maps {@code size} bytes of {@code fd} from {@code offset}, shared and read-write. */
    public static MemorySegment mmapShared(int fd, long offset, long size) throws IOException {
        return mmapShared(fd, offset, size, true);
    }

    /** Maps {@code size} bytes of {@code fd} from {@code offset} (page-aligned), shared; read-only unless {@code writable}. */
    public static MemorySegment mmapShared(int fd, long offset, long size, boolean writable) throws IOException {
        int prot = PROT_READ | (writable ? PROT_WRITE : 0);
        return Downcalls.mmap(size, prot, MAP_SHARED, fd, offset, Native::failure);
    }

    /** The size of the file behind {@code fd} (st_size). */
    public static long fileSize(int fd) throws IOException {
        return withErrno((a, st) -> {
            MemorySegment stat = a.allocate(STAT_SIZE, 8);
            if ((int) FSTAT.invokeExact(st, fd, stat) < 0) throw failure("fstat(fd " + fd + ")", st);
            return stat.get(ValueLayout.JAVA_LONG, ST_SIZE);
        });
    }

    /**
     * Creates an anonymous shared-memory file of {@code size} bytes ({@code memfd_create} with
     * {@code flags}, then {@code ftruncate}); returns its fd, owned by the caller.
     */
    public static int memfd(String name, long size, int flags) throws IOException {
        return withErrno((a, st) -> {
            int fd = (int) MEMFD_CREATE.invokeExact(st, a.allocateFrom(name), flags);
            if (fd < 0) throw failure("memfd_create(" + name + ")", st);
            if ((int) FTRUNCATE.invokeExact(st, fd, size) < 0) {
                IOException e = failure("ftruncate(" + name + ", " + size + ")", st);
                close(fd);
                throw e;
            }
            return fd;
        });
    }

    /** Sets the size of the file behind {@code fd} (ftruncate); fails with EPERM where a seal forbids it. */
    public static void truncate(int fd, long size) throws IOException {
        withErrno((a, st) -> {
            if ((int) FTRUNCATE.invokeExact(st, fd, size) < 0)
                throw failure("ftruncate(fd " + fd + ", " + size + ")", st);
            return null;
        });
    }

    /**
     * The seals of the file behind {@code fd} ({@code F_GET_SEALS}): a set of {@code F_SEAL_*} bits, or -1
     * where its file system has no seals (only shmem and hugetlbfs files do).
     */
    public static int seals(int fd) throws IOException {
        return withErrno((a, st) -> {
            int seals = (int) FCNTL.invokeExact(st, fd, F_GET_SEALS, 0);
            if (seals >= 0) return seals;
            if (errno(st) == EINVAL) return -1;
            throw failure("fcntl(fd " + fd + ", F_GET_SEALS)", st);
        });
    }

    /**
     * Adds {@code seals} to the file behind {@code fd} ({@code F_ADD_SEALS}). Returns false where the file
     * cannot take them (not a sealable file, or already sealed with {@code F_SEAL_SEAL}); other failures throw.
     */
    public static boolean addSeals(int fd, int seals) throws IOException {
        return withErrno((a, st) -> {
            if ((int) FCNTL.invokeExact(st, fd, F_ADD_SEALS, seals) == 0) return true;
            int e = errno(st);
            if (e == EINVAL || e == EPERM) return false;
            throw failure("fcntl(fd " + fd + ", F_ADD_SEALS 0x" + Integer.toHexString(seals) + ")", st);
        });
    }

    /**
     * Makes a peer's memory file safe to map for {@code [0, end)}: seals it against shrinking where it is
     * not and can be (a peer that shrank it under our mapping would make our next access fault), then
     * checks it is at least {@code end} bytes long. Returns whether the file is now sealed against
     * shrinking; false for a file that cannot be sealed (user-mode Linux's memory is an unlinked tmpfs
     * file), whose later accesses the caller must treat as able to fault (see {@link PeerMemoryFault}).
     *
     * @throws IOException naming the file's size when it is shorter than {@code end}, or the failed call
     */
    public static boolean guardPeerMemory(int fd, long end) throws IOException {
        int seals = seals(fd);
        boolean sealed = seals >= 0 && (seals & F_SEAL_SHRINK) != 0;
        // Sealed before the size is read: a shrink between the two would otherwise go unseen.
        if (!sealed && seals >= 0 && (seals & F_SEAL_SEAL) == 0) sealed = addSeals(fd, F_SEAL_SHRINK);
        long size = fileSize(fd);
        if (size < end)
            throw new IOException(String.format("the file is 0x%x bytes long, shorter than the 0x%x bytes mapped",
                    size, end));
        return sealed;
    }

    /** Unmaps a segment returned by {@link #mmapShared}. */
    public static void munmap(MemorySegment segment) {
        int errno = Downcalls.munmapQuietly(segment);
        if (errno != 0)
            System.getLogger("vmm.linux").log(System.Logger.Level.WARNING, Downcalls.failureMessage("munmap", errno));
    }

    /** Shuts a socket down both ways, waking a thread blocked reading it. Errors are ignored. */
    public static void shutdown(int fd) {
        try (Arena a = Arena.ofConfined()) {
            int ignored = (int) SHUTDOWN.invokeExact(a.allocate(Downcalls.CAPTURE), fd, 2);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Closes {@code fd}; -1 is ignored, errors are ignored (nothing useful can be done). */
    public static void close(int fd) {
        Downcalls.closeQuietly(fd);
    }

    private static int errno(MemorySegment st) {
        return Downcalls.errno(st);
    }

    private static IOException failure(String what, MemorySegment st) {
        return failure(what, errno(st));
    }

    private static IOException failure(String what, int errno) {
        return new IOException(Downcalls.failureMessage(what, errno));
    }
}
