package device.virtio_net.backend;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * A link to another VM with no root and no host interface: one Unix
 * datagram socket bound to a local path, sending each frame as one
 * datagram to the peer's path. Two devices configured with each other's
 * paths form a cable. Datagrams carry the bare Ethernet frame; this back
 * end has no offloads, so it drops the (plain) header on send and puts a
 * plain one in front of what it receives. A peer that is not there (yet)
 * makes sends drop, like a cable with nothing at the other end.
 */
final class DatagramBackend implements NetBackend {
    private final Path local, peer;
    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment peerAddress, msghdr, iov, pollfds, capture;

    private DatagramBackend(Path local, Path peer, int fd) {
        this.local = local;
        this.peer = peer;
        this.fd = fd;
        peerAddress = Libc.sockaddr(arena, peer.toString());
        msghdr = arena.allocate(Libc.MSGHDR, 8);
        iov = arena.allocate((long) Libc.IOVEC * (TapBackend.MAX_PARTS), 8);
        pollfds = arena.allocate(2L * Libc.POLLFD, 8);
        capture = arena.allocate(Libc.CAPTURE);
    }

    /**
     * Binds {@code local} (replacing a stale socket file there) for frames from {@code peer}.
     *
     * @throws IOException naming the path and errno when the socket cannot be made or bound
     */
    static DatagramBackend open(Path local, Path peer) throws IOException {
        if (Files.exists(local)) {
            if (!Files.readAttributes(local, BasicFileAttributes.class).isOther())
                throw new IOException(local + " exists and is not a socket");
            Files.delete(local);
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(Libc.CAPTURE);
            MemorySegment addr = Libc.sockaddr(a, local.toString());
            Libc.sockaddr(a, peer.toString()); // checks the peer path's length now, not on the first send
            int fd = (int) Libc.socket.invokeExact(cap, Libc.AF_UNIX, Libc.SOCK_DGRAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0);
            if (fd < 0) throw new IOException("socket(AF_UNIX, SOCK_DGRAM): errno " + Libc.errno(cap));
            if ((int) Libc.bind.invokeExact(cap, fd, addr, Libc.SOCKADDR_UN) < 0) {
                int e = Libc.errno(cap);
                int r = (int) Libc.close.invokeExact(cap, fd);
                throw new IOException("bind " + local + ": errno " + e);
            }
            return new DatagramBackend(local, peer, fd);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.rethrow(t);
        }
    }

    @Override public int queuePairs() { return 1; }
    @Override public long offloadFeatures() { return 0; }
    @Override public void setReceiveOffloads(long negotiated) { }

    @Override
    public boolean send(int pair, MemorySegment header, MemorySegment... frame) throws IOException {
        if (frame.length > TapBackend.MAX_PARTS) return false;
        for (int i = 0; i < frame.length; i++) TapBackend.setIov(iov, i, frame[i]);
        msghdr.fill((byte) 0);
        msghdr.set(ValueLayout.ADDRESS, 0, peerAddress);
        msghdr.set(ValueLayout.JAVA_INT, 8, Libc.SOCKADDR_UN);
        msghdr.set(ValueLayout.ADDRESS, 16, iov);
        msghdr.set(ValueLayout.JAVA_LONG, 24, frame.length);
        long n = Libc.call(capture, () -> (long) Libc.sendmsg.invokeExact(capture, fd, msghdr, Libc.MSG_DONTWAIT));
        if (n >= 0) return true;
        int e = (int) -n;
        if (e == Libc.EAGAIN || e == Libc.ENOENT || e == Libc.ECONNREFUSED || e == Libc.ENOBUFS || e == Libc.EINTR) return false;
        throw new IOException("sendmsg to " + peer + ": errno " + e);
    }

    @Override
    public int receive(int pair, MemorySegment buffer) throws IOException {
        MemorySegment body = buffer.asSlice(HEADER_SIZE);
        long n = Libc.call(capture, () -> (long) Libc.recv.invokeExact(capture, fd, body, body.byteSize(), Libc.MSG_DONTWAIT));
        if (n == -Libc.EAGAIN || n == -Libc.EINTR) return 0;
        if (n < 0) throw new IOException("recv on " + local + ": errno " + -n);
        buffer.asSlice(0, HEADER_SIZE).fill((byte) 0);
        return (int) n + HEADER_SIZE;
    }

    @Override
    public boolean await(int pair, boolean readable, Waker waker, long timeoutMillis) throws IOException {
        return TapBackend.pollTwo(pollfds, capture, readable ? fd : -1, waker, timeoutMillis);
    }

    @Override
    public String describe() {
        return "unix datagram " + local + " <-> " + peer;
    }

    @Override
    public void close() {
        try {
            int r = (int) Libc.close.invokeExact(capture, fd);
            Files.deleteIfExists(local);
        } catch (Throwable t) {
            // nothing to do: the descriptor is gone either way
        }
        arena.close();
    }
}
