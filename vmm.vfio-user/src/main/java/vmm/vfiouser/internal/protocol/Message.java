package vmm.vfiouser.internal.protocol;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import vmm.vfiouser.VfioUser;

/**
 * One vfio-user message: the 16-byte header's fields, the payload after it
 * and the descriptors that came with it. The descriptors belong to whoever
 * holds the message until handed on or closed.
 */
public record Message(int id, int command, int flags, int error, byte[] payload, int[] fds) {
    public Message {
        if (id < 0 || id > 0xffff) throw new IllegalArgumentException("message id must be 0..65535, was " + id);
        if (command < 0 || command > 0xffff) throw new IllegalArgumentException("command must be 0..65535, was " + command);
    }

    public static Message command(int id, int command, byte[] payload, int... fds) {
        return new Message(id, command, VfioUser.FLAGS_TYPE_COMMAND, 0, payload, fds);
    }

    public static Message reply(Message to, byte[] payload, int... fds) {
        return new Message(to.id, to.command, VfioUser.FLAGS_TYPE_REPLY, 0, payload, fds);
    }

    /** An error reply: header only, as the specification asks. */
    public static Message errorReply(Message to, int errno) {
        return new Message(to.id, to.command, VfioUser.FLAGS_TYPE_REPLY | VfioUser.FLAGS_ERROR, errno, new byte[0], new int[0]);
    }

    public int type() { return flags & VfioUser.FLAGS_TYPE_MASK; }

    public boolean isReply() { return type() == VfioUser.FLAGS_TYPE_REPLY; }

    public boolean isCommand() { return type() == VfioUser.FLAGS_TYPE_COMMAND; }

    public boolean noReply() { return (flags & VfioUser.FLAGS_NO_REPLY) != 0; }

    public boolean isError() { return (flags & VfioUser.FLAGS_ERROR) != 0; }

    /** Total size on the wire: header and payload. */
    public int size() { return VfioUser.HEADER_SIZE + payload.length; }

    /** The payload as a little-endian buffer (the protocol is host-endian; this runs on x86-64). */
    public ByteBuffer body() {
        return ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Header and payload as sent. */
    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(size()).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort((short) id).putShort((short) command).putInt(size()).putInt(flags).putInt(error).put(payload);
        return b.array();
    }

    /** The fields of a header as read off the wire, before any payload. */
    public record Header(int id, int command, long size, int flags, int error) {
        /** Decodes 16 header bytes. */
        public static Header decode(byte[] h) {
            if (h.length != VfioUser.HEADER_SIZE) throw new IllegalArgumentException("a header is 16 bytes");
            ByteBuffer b = ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN);
            return new Header(Short.toUnsignedInt(b.getShort()), Short.toUnsignedInt(b.getShort()), Integer.toUnsignedLong(b.getInt()),
                    b.getInt(), b.getInt());
        }

        /**
         * Checks what can be checked before the payload is read: the size
         * covers the header and stays within {@code maxSize}, the type is
         * command or reply, and no unknown flag is set.
         *
         * @throws ProtocolException (fatal) otherwise: the stream cannot be followed
         */
        public void check(int maxSize) throws ProtocolException {
            if (size < VfioUser.HEADER_SIZE)
                throw ProtocolException.fatal("message size " + size + " is smaller than the 16-byte header");
            if (size > maxSize)
                throw ProtocolException.fatal("message size " + size + " exceeds the limit of " + maxSize + " bytes");
            int type = flags & VfioUser.FLAGS_TYPE_MASK;
            if (type != VfioUser.FLAGS_TYPE_COMMAND && type != VfioUser.FLAGS_TYPE_REPLY)
                throw ProtocolException.fatal("message type " + type + " is neither command (0) nor reply (1)");
            if ((flags & ~(VfioUser.FLAGS_TYPE_MASK | VfioUser.FLAGS_NO_REPLY | VfioUser.FLAGS_ERROR)) != 0)
                throw ProtocolException.fatal(String.format("unknown header flags 0x%x", flags));
        }
    }
}
