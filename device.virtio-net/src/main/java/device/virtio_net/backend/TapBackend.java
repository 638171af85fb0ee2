package device.virtio_net.backend;

import static device.virtio_net.protocol.VirtioNetSpec.*;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/**
 * A TAP device through {@code /dev/net/tun}: {@code IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR} with a 12-byte vnet header ({@code TUNSETVNETHDRSZ}), so a
 * frame and its {@code virtio_net_hdr} go through unchanged and the host
 * kernel does the checksum and segmentation work the header asks for. With
 * more than one queue pair the TAP is opened {@code IFF_MULTI_QUEUE}, one
 * descriptor per pair. Named TAPs are attached when they exist and created
 * (as root) when not; one this back end created goes away with it.
 */
final class TapBackend implements NetBackend {
    // ioctl request numbers, from _IOW('T', nr, int) and friends in uapi/linux/if_tun.h.
    static final long TUNSETIFF = 0x400454caL;
    static final long TUNSETOFFLOAD = 0x400454d0L;
    static final long TUNSETVNETHDRSZ = 0x400454d8L;
    static final int IFF_TAP = 0x0002, IFF_NO_PI = 0x1000, IFF_MULTI_QUEUE = 0x0100, IFF_VNET_HDR = 0x4000;
    // TUNSETOFFLOAD flags: what the reader of the TAP (the guest, through us) accepts.
    static final int TUN_F_CSUM = 0x01, TUN_F_TSO4 = 0x02, TUN_F_TSO6 = 0x04, TUN_F_TSO_ECN = 0x08, TUN_F_USO4 = 0x20, TUN_F_USO6 = 0x40;
    static final int IFNAMSIZ = 16, IFREQ_SIZE = 40, IFR_FLAGS_OFFSET = 16;
    /** Most frame parts one send takes (IOV_MAX less the header). */
    static final int MAX_PARTS = 1023;

    private final String name;
    private final int[] fds;
    private final long offloads;
    private final Arena arena = Arena.ofShared();
    private final PairScratch[] scratch;

    /** Per-pair native scratch: each pair is used by one thread at a time. */
    private final class PairScratch {
        final MemorySegment iov = arena.allocate((long) Libc.IOVEC * (MAX_PARTS + 1), 8);
        final MemorySegment pollfds = arena.allocate(2L * Libc.POLLFD, 8);
        final MemorySegment capture = arena.allocate(Libc.CAPTURE);
    }

    private TapBackend(String name, int[] fds, long offloads) {
        this.name = name;
        this.fds = fds;
        this.offloads = offloads;
        this.scratch = new PairScratch[fds.length];
        for (int i = 0; i < fds.length; i++) scratch[i] = new PairScratch();
    }

    /**
     * Attaches to (or creates) TAP {@code name} with {@code pairs} queues.
     *
     * @throws IOException naming the TAP and the errno when the host refuses
     */
    static TapBackend open(String name, int pairs) throws IOException {
        byte[] n = name.getBytes(StandardCharsets.US_ASCII);
        if (n.length == 0 || n.length >= IFNAMSIZ) throw new IOException("TAP name must be 1.." + (IFNAMSIZ - 1) + " characters: '" + name + "'");
        int[] fds = new int[pairs];
        int opened = 0;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(Libc.CAPTURE);
            MemorySegment ifr = a.allocate(IFREQ_SIZE);
            MemorySegment hdrSize = a.allocate(ValueLayout.JAVA_INT);
            hdrSize.set(ValueLayout.JAVA_INT, 0, HEADER_SIZE);
            for (; opened < pairs; opened++) {
                int fd = (int) Libc.open.invokeExact(cap, a.allocateFrom("/dev/net/tun"), Libc.O_RDWR | Libc.O_NONBLOCK | Libc.O_CLOEXEC);
                if (fd < 0) throw new IOException("open /dev/net/tun: errno " + Libc.errno(cap));
                fds[opened] = fd;
                ifr.fill((byte) 0);
                MemorySegment.copy(n, 0, ifr, ValueLayout.JAVA_BYTE, 0, n.length);
                ifr.set(ValueLayout.JAVA_SHORT, IFR_FLAGS_OFFSET,
                        (short) (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (pairs > 1 ? IFF_MULTI_QUEUE : 0)));
                if ((int) Libc.ioctl.invokeExact(cap, fd, TUNSETIFF, ifr) < 0) {
                    int e = Libc.errno(cap);
                    throw new IOException("TUNSETIFF " + name + ": errno " + e + switch (e) {
                        case Libc.EPERM -> " (it does not exist and creating it needs CAP_NET_ADMIN)";
                        case Libc.EBUSY -> " (another process holds it, or its queue mode differs)";
                        case Libc.EINVAL -> " (it exists but is not a TAP with this queue mode)";
                        default -> "";
                    });
                }
                if ((int) Libc.ioctl.invokeExact(cap, fd, TUNSETVNETHDRSZ, hdrSize) < 0)
                    throw new IOException("TUNSETVNETHDRSZ " + name + ": errno " + Libc.errno(cap));
            }
            long offloads = probeOffloads(cap, fds[0]);
            return new TapBackend(name, fds, offloads);
        } catch (IOException | RuntimeException | Error e) {
            closeAll(fds, opened);
            throw e;
        } catch (Throwable t) {
            closeAll(fds, opened);
            throw Libc.rethrow(t);
        }
    }

    /** What the host's tun driver accepts: USO needs Linux 6.2, the rest is old. Leaves offloads off. */
    private static long probeOffloads(MemorySegment cap, int fd) throws Throwable {
        long base = bits(VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6,
                VIRTIO_NET_F_HOST_ECN, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_ECN);
        int all = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
        if ((int) Libc.ioctl.invokeExact(cap, fd, TUNSETOFFLOAD, MemorySegment.ofAddress(all | TUN_F_USO4 | TUN_F_USO6)) == 0)
            base |= bits(VIRTIO_NET_F_HOST_USO, VIRTIO_NET_F_GUEST_USO4, VIRTIO_NET_F_GUEST_USO6);
        else if ((int) Libc.ioctl.invokeExact(cap, fd, TUNSETOFFLOAD, MemorySegment.ofAddress(all)) != 0)
            base = 0;
        int r = (int) Libc.ioctl.invokeExact(cap, fd, TUNSETOFFLOAD, MemorySegment.ofAddress(0L));
        return base;
    }

    private static long bits(int... bits) {
        long v = 0;
        for (int b : bits) v |= 1L << b;
        return v;
    }

    /** TUNSETOFFLOAD flags for the GUEST_* features in {@code negotiated}. Pure. */
    static int tunOffloads(long negotiated) {
        int f = 0;
        if ((negotiated & (1L << VIRTIO_NET_F_GUEST_CSUM)) == 0) return 0; // every segmentation offload needs partial checksums
        f |= TUN_F_CSUM;
        if ((negotiated & (1L << VIRTIO_NET_F_GUEST_TSO4)) != 0) f |= TUN_F_TSO4;
        if ((negotiated & (1L << VIRTIO_NET_F_GUEST_TSO6)) != 0) f |= TUN_F_TSO6;
        if ((negotiated & (1L << VIRTIO_NET_F_GUEST_ECN)) != 0 && (f & (TUN_F_TSO4 | TUN_F_TSO6)) != 0) f |= TUN_F_TSO_ECN;
        if ((negotiated & (1L << VIRTIO_NET_F_GUEST_USO4)) != 0) f |= TUN_F_USO4;
        if ((negotiated & (1L << VIRTIO_NET_F_GUEST_USO6)) != 0) f |= TUN_F_USO6;
        return f;
    }

    private static void closeAll(int[] fds, int n) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(Libc.CAPTURE);
            for (int i = 0; i < n; i++) {
                int r = (int) Libc.close.invokeExact(cap, fds[i]);
            }
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    @Override public int queuePairs() { return fds.length; }
    @Override public long offloadFeatures() { return offloads; }

    @Override
    public void setReceiveOffloads(long negotiated) throws IOException {
        int flags = offloads == 0 ? 0 : tunOffloads(negotiated);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(Libc.CAPTURE);
            for (int fd : fds)
                if ((int) Libc.ioctl.invokeExact(cap, fd, TUNSETOFFLOAD, MemorySegment.ofAddress(flags)) < 0)
                    throw new IOException("TUNSETOFFLOAD 0x" + Integer.toHexString(flags) + " on " + name + ": errno " + Libc.errno(cap));
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    @Override
    public boolean send(int pair, MemorySegment header, MemorySegment... frame) throws IOException {
        if (frame.length > MAX_PARTS) return false;
        PairScratch s = scratch[pair];
        setIov(s.iov, 0, header);
        for (int i = 0; i < frame.length; i++) setIov(s.iov, i + 1, frame[i]);
        long n = Libc.call(s.capture, () -> (long) Libc.writev.invokeExact(s.capture, fds[pair], s.iov, frame.length + 1));
        if (n >= 0) return true;
        int e = (int) -n;
        // EINVAL: the kernel refused the header; EAGAIN/ENOBUFS: full. Both drop this frame only.
        if (e == Libc.EAGAIN || e == Libc.ENOBUFS || e == Libc.EINVAL || e == Libc.EINTR) return false;
        throw new IOException("write to TAP " + name + ": errno " + e);
    }

    static void setIov(MemorySegment iov, int i, MemorySegment part) {
        iov.set(ValueLayout.ADDRESS, (long) Libc.IOVEC * i, part);
        iov.set(ValueLayout.JAVA_LONG, (long) Libc.IOVEC * i + 8, part.byteSize());
    }

    @Override
    public int receive(int pair, MemorySegment buffer) throws IOException {
        PairScratch s = scratch[pair];
        long n = Libc.call(s.capture, () -> (long) Libc.read.invokeExact(s.capture, fds[pair], buffer, buffer.byteSize()));
        if (n >= 0) return (int) n;
        if (n == -Libc.EAGAIN || n == -Libc.EINTR) return 0;
        throw new IOException("read from TAP " + name + ": errno " + -n);
    }

    @Override
    public boolean await(int pair, boolean readable, Waker waker, long timeoutMillis) throws IOException {
        return pollTwo(scratch[pair].pollfds, scratch[pair].capture, readable ? fds[pair] : -1, waker, timeoutMillis);
    }

    /** poll(2) on {@code fd} (when not negative) and the waker's eventfd; whether {@code fd} is readable. */
    static boolean pollTwo(MemorySegment pfd, MemorySegment capture, int fd, Waker waker, long timeoutMillis) throws IOException {
        if (waker.isWoken()) return fd >= 0;
        pfd.set(ValueLayout.JAVA_INT, 0, fd);
        pfd.set(ValueLayout.JAVA_SHORT, 4, (short) Libc.POLLIN);
        pfd.set(ValueLayout.JAVA_SHORT, 6, (short) 0);
        pfd.set(ValueLayout.JAVA_INT, 8, waker.fd());
        pfd.set(ValueLayout.JAVA_SHORT, 12, (short) Libc.POLLIN);
        pfd.set(ValueLayout.JAVA_SHORT, 14, (short) 0);
        try {
            int r = (int) Libc.poll.invokeExact(capture, pfd, 2L, (int) Math.min(timeoutMillis, Integer.MAX_VALUE));
            if (r < 0 && Libc.errno(capture) != Libc.EINTR) throw new IOException("poll: errno " + Libc.errno(capture));
            if (r > 0 && pfd.get(ValueLayout.JAVA_SHORT, 14) != 0 && !waker.isWoken()) waker.drainFd();
            return r > 0 && fd >= 0 && pfd.get(ValueLayout.JAVA_SHORT, 6) != 0;
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    @Override
    public java.util.OptionalInt hostDescriptor(int pair) {
        return java.util.OptionalInt.of(fds[pair]);
    }

    @Override
    public String describe() {
        return "tap " + name + " (" + fds.length + (fds.length > 1 ? " queues" : " queue") + ", vnet header"
                + (offloads != 0 ? ", offloads" : "") + ")";
    }

    @Override
    public void close() {
        closeAll(fds, fds.length);
        arena.close();
    }
}
