package vmm.vhostuser.protocol;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One vhost-user message: the header fields, the payload bytes, and the
 * file descriptors that came with it (owned by whoever handles the message).
 * The accessors check the payload's size before they read, so a short or
 * long payload is a {@link ProtocolException}, never a read past its end.
 */
public record Message(int request, int flags, byte[] payload, int[] fds) {

    /** Whether the front-end asked for a REPLY_ACK. */
    public boolean needsReply() {
        return (flags & VhostUser.FLAG_NEED_REPLY) != 0;
    }

    public ByteBuffer body() {
        return ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The payload as the single u64 the request carries. */
    public long u64() throws ProtocolException {
        requireSize(VhostUser.U64_SIZE);
        return body().getLong(0);
    }

    /** Checks the payload is exactly {@code size} bytes. */
    public void requireSize(int size) throws ProtocolException {
        if (payload.length != size)
            throw new ProtocolException(VhostUser.name(request) + ": payload of " + payload.length + " bytes, expected " + size);
    }

    /** Checks the payload is at least {@code size} bytes. */
    public void requireAtLeast(int size) throws ProtocolException {
        if (payload.length < size)
            throw new ProtocolException(VhostUser.name(request) + ": payload of " + payload.length + " bytes, expected at least " + size);
    }

    /** Encodes a reply to {@code request} carrying {@code payload}. */
    public static byte[] reply(int request, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(VhostUser.HEADER_SIZE + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(request).putInt(VhostUser.VERSION | VhostUser.FLAG_REPLY).putInt(payload.length).put(payload);
        return b.array();
    }

    /** Encodes a request (the front-end's side; tests use it). */
    public static byte[] request(int request, int flags, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(VhostUser.HEADER_SIZE + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(request).putInt(VhostUser.VERSION | flags).putInt(payload.length).put(payload);
        return b.array();
    }

    /** A little-endian u64 payload. */
    public static byte[] u64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }
}
