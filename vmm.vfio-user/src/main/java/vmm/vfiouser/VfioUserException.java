package vmm.vfiouser;

import java.io.IOException;

/**
 * A vfio-user operation failed: the peer answered with an error
 * ({@link #errno()} is its errno, possibly 0), or the connection broke
 * (the peer died, timed out, or sent something malformed; {@link #errno()}
 * is then -1 and the client is closed).
 */
public final class VfioUserException extends IOException {
    private final int errno;

    public VfioUserException(String message, int errno) {
        super(message);
        this.errno = errno;
    }

    public VfioUserException(String message, Throwable cause) {
        super(message, cause);
        this.errno = -1;
    }

    /** The peer's errno for an error reply; -1 when the connection itself failed. */
    public int errno() {
        return errno;
    }

    /** Whether the connection is gone (rather than one request refused). */
    public boolean connectionLost() {
        return errno < 0;
    }
}
