package device.viona.vhost;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;

/** {@code /dev/vhost-net} and eventfds through {@code java.lang.foreign}. */
final class LinuxVhost implements VhostIoctls {
    static final String DEVICE = "/dev/vhost-net";
    private static final int O_RDWR = 2, O_CLOEXEC = 0x80000, EFD_NONBLOCK = 0x800, EFD_CLOEXEC = 0x80000, POLLIN = 1;
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle OPEN = h("open", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle CLOSE = h("close", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle IOCTL = h("ioctl", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
    private static final MethodHandle EVENTFD = h("eventfd", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle WRITE = h("write", FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle READ = h("read", FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle POLL = h("poll", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));

    private final int fd;
    private final List<Integer> eventfds = new ArrayList<>();

    private LinuxVhost(int fd) {
        this.fd = fd;
    }

    private static MethodHandle h(String name, FunctionDescriptor d) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), d, Linker.Option.captureCallState("errno"));
    }

    static LinuxVhost open() throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(CAPTURE);
            int fd = (int) OPEN.invokeExact(cap, a.allocateFrom(DEVICE), O_RDWR | O_CLOEXEC);
            if (fd < 0) throw new IOException("open " + DEVICE + ": errno " + (int) ERRNO.get(cap, 0L));
            return new LinuxVhost(fd);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    @Override
    public void ioctl(long request, MemorySegment arg) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(CAPTURE);
            if ((int) IOCTL.invokeExact(cap, fd, request, arg) < 0)
                throw new IOException("vhost-net ioctl 0x" + Long.toHexString(request) + ": errno " + (int) ERRNO.get(cap, 0L));
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    @Override
    public synchronized int eventfd() throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(CAPTURE);
            int e = (int) EVENTFD.invokeExact(cap, 0, EFD_NONBLOCK | EFD_CLOEXEC);
            if (e < 0) throw new IOException("eventfd: errno " + (int) ERRNO.get(cap, 0L));
            eventfds.add(e);
            return e;
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    @Override
    public void signal(int efd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment one = a.allocate(8, 8);
            one.set(ValueLayout.JAVA_LONG, 0, 1L);
            long n = (long) WRITE.invokeExact(a.allocate(CAPTURE), efd, one, 8L);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    @Override
    public int[] drain(int[] fds, long timeoutMillis) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(CAPTURE);
            MemorySegment p = a.allocate(8L * fds.length, 4);
            for (int i = 0; i < fds.length; i++) {
                p.set(ValueLayout.JAVA_INT, 8L * i, fds[i]);
                p.set(ValueLayout.JAVA_SHORT, 8L * i + 4, (short) POLLIN);
            }
            int r = (int) POLL.invokeExact(cap, p, (long) fds.length, (int) timeoutMillis);
            if (r <= 0) return new int[0];
            MemorySegment scratch = a.allocate(8, 8);
            int[] fired = new int[r];
            int k = 0;
            for (int i = 0; i < fds.length && k < r; i++) {
                if (p.get(ValueLayout.JAVA_SHORT, 8L * i + 6) == 0) continue;
                long n = (long) READ.invokeExact(cap, fds[i], scratch, 8L);
                fired[k++] = i;
            }
            return java.util.Arrays.copyOf(fired, k);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    @Override
    public synchronized void close() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(CAPTURE);
            for (int e : eventfds) {
                int r = (int) CLOSE.invokeExact(cap, e);
            }
            int r = (int) CLOSE.invokeExact(cap, fd);
        } catch (Throwable t) {
            // closing: nothing left to do
        }
    }
}
