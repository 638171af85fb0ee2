package vmm.vfiouser.internal.protocol;

import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import vmm.core.linux.Native;
import vmm.vfiouser.VfioUser;

/**
 * Messages over one connected Unix stream socket: each message is sent in
 * one {@code sendmsg} with its descriptors attached; a received message's
 * descriptors must come with its header bytes (descriptors that arrive with
 * payload bytes, or more than {@code maxFds}, end the stream). Every
 * allocation is bounded by {@code maxMessageSize}, checked before the
 * payload is read. Receives from one thread at a time, sends from one
 * thread at a time (callers serialize); the two directions are independent.
 */
public final class Channel implements AutoCloseable {
    private final int fd;
    private final int maxFds;
    private final int maxMessageSize;
    private volatile boolean closed;

    /** Takes ownership of {@code fd}. */
    public Channel(int fd, int maxFds, int maxMessageSize) {
        if (maxFds < 1 || maxFds > Native.MAX_FDS_LIMIT) throw new IllegalArgumentException("maxFds " + maxFds);
        if (maxMessageSize < VfioUser.HEADER_SIZE) throw new IllegalArgumentException("maxMessageSize " + maxMessageSize);
        this.fd = fd;
        this.maxFds = maxFds;
        this.maxMessageSize = maxMessageSize;
    }

    public int fd() { return fd; }

    /**
     * Reads the next message, waiting at most {@code timeoutMillis} in all
     * (negative: forever). Returns null when the peer closed the stream
     * between messages.
     *
     * @throws ProtocolException      (fatal) for a header that cannot be followed, a stream cut
     *                                inside a message or descriptors where none may be
     * @throws InterruptedIOException when the time ran out (the stream is then out of step: close it)
     * @throws IOException            when the socket fails
     */
    public Message receive(long timeoutMillis) throws IOException, ProtocolException {
        long deadline = timeoutMillis < 0 ? Long.MAX_VALUE : System.nanoTime() + timeoutMillis * 1_000_000L;
        int[] fds = new int[0];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment head = a.allocate(VfioUser.HEADER_SIZE);
            int got = 0;
            while (got < VfioUser.HEADER_SIZE) {
                await(deadline);
                Native.Received r;
                try {
                    r = Native.recvWithFds(fd, head.asSlice(got), maxFds);
                } catch (IOException e) {
                    closeAll(fds);
                    if (e.getMessage() != null && e.getMessage().contains("file descriptors"))
                        throw ProtocolException.fatal("a message carried more than " + maxFds + " file descriptors");
                    throw e;
                }
                if (r.fds().length > 0) {
                    if (got > 0 || fds.length > 0) {
                        closeAll(r.fds());
                        closeAll(fds);
                        throw ProtocolException.fatal("file descriptors arrived inside a message header");
                    }
                    fds = r.fds();
                }
                if (r.bytes() == 0) {
                    closeAll(fds);
                    if (got == 0) return null;
                    throw ProtocolException.fatal("the stream ended inside a message header (" + got + " of 16 bytes)");
                }
                got += r.bytes();
            }
            byte[] hb = head.toArray(ValueLayout.JAVA_BYTE);
            Message.Header h = Message.Header.decode(hb);
            try {
                h.check(maxMessageSize);
            } catch (ProtocolException e) {
                closeAll(fds);
                throw e;
            }
            int payloadSize = (int) (h.size() - VfioUser.HEADER_SIZE);
            byte[] payload = new byte[payloadSize];
            if (payloadSize > 0) {
                MemorySegment body = a.allocate(payloadSize);
                int off = 0;
                while (off < payloadSize) {
                    try {
                        await(deadline);
                    } catch (IOException e) {
                        closeAll(fds);
                        throw e;
                    }
                    Native.Received r = Native.recvWithFds(fd, body.asSlice(off), maxFds);
                    if (r.fds().length > 0) {
                        closeAll(r.fds());
                        closeAll(fds);
                        throw ProtocolException.fatal("file descriptors arrived with payload bytes of " + VfioUser.commandName(h.command()));
                    }
                    if (r.bytes() == 0) {
                        closeAll(fds);
                        throw ProtocolException.fatal("the stream ended inside " + VfioUser.commandName(h.command())
                                + " (" + off + " of " + payloadSize + " payload bytes)");
                    }
                    off += r.bytes();
                }
                MemorySegment.copy(body, ValueLayout.JAVA_BYTE, 0, payload, 0, payloadSize);
            }
            return new Message(h.id(), h.command(), h.flags(), h.error(), payload, fds);
        }
    }

    private void await(long deadline) throws IOException {
        if (closed) throw new EOFException("channel closed");
        if (deadline == Long.MAX_VALUE) return;
        long left = (deadline - System.nanoTime()) / 1_000_000L;
        if (left <= 0 || Native.pollReadable(new int[] {fd}, (int) Math.min(left, Integer.MAX_VALUE)) < 0)
            throw new InterruptedIOException("no answer in time");
    }

    /** Sends one message with its descriptors (which stay the caller's). */
    public void send(Message m) throws IOException {
        if (closed) throw new EOFException("channel closed");
        Native.sendWithFds(fd, m.encode(), m.fds());
    }

    /** Wakes a blocked receiver (it sees end of stream) without closing the descriptor yet. */
    public void shutdown() {
        Native.shutdown(fd);
    }

    public static void closeAll(int[] fds) {
        for (int f : fds) Native.close(f);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        Native.shutdown(fd);
        Native.close(fd);
    }
}
