package device.pci_passthru.vfio;

import java.io.Serial;

/**
 * A VFIO operation failed: the host kernel or the peer refused it, or the
 * device cannot be reached. The message names the device and the operation,
 * and, where the cause is a host setup problem, says how to fix it.
 */
public class VfioException extends RuntimeException {
    @Serial
    private static final long serialVersionUID = 1L;

    /** The errno the host or the peer reported, or 0 when there is none. */
    private final int errno;

    /** An error with no errno. */
    public VfioException(String message) {
        this(message, 0, null);
    }

    /** An error with the errno the host or the peer reported (0 for none). */
    public VfioException(String message, int errno) {
        this(message, errno, null);
    }

    /** An error caused by another exception. */
    public VfioException(String message, Throwable cause) {
        this(message, 0, cause);
    }

    /** An error with an errno and a cause. */
    public VfioException(String message, int errno, Throwable cause) {
        super(message, cause);
        this.errno = errno;
    }

    /** The errno the host or peer reported (e.g. 22 for EINVAL), or 0 when there is none. */
    public int errno() {
        return errno;
    }
}
