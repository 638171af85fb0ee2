package vmm.vfiouser.internal.protocol;

import vmm.vfiouser.VfioUser;

/**
 * A peer's message broke the protocol. {@link #fatal()} ones leave the
 * stream unusable (a header that cannot be trusted, a truncated message):
 * the connection is closed. The others are answered with an error reply
 * carrying {@link #errno()} and the connection goes on.
 */
public final class ProtocolException extends Exception {
    private final int errno;
    private final boolean fatal;

    private ProtocolException(String message, int errno, boolean fatal) {
        super(message);
        this.errno = errno;
        this.fatal = fatal;
    }

    /** A request that is refused with {@code errno}; the stream stays in step. */
    public static ProtocolException refuse(int errno, String message) {
        return new ProtocolException(message, errno, false);
    }

    /** A request refused with EINVAL. */
    public static ProtocolException invalid(String message) {
        return refuse(VfioUser.EINVAL, message);
    }

    /** The stream cannot be trusted any more. */
    public static ProtocolException fatal(String message) {
        return new ProtocolException(message, VfioUser.EINVAL, true);
    }

    public int errno() { return errno; }

    public boolean fatal() { return fatal; }
}
