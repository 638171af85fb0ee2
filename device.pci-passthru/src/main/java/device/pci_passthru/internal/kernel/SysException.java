package device.pci_passthru.internal.kernel;

import java.io.Serial;

/** A system call failed with {@code errno}. */
final class SysException extends RuntimeException {
    @Serial
    private static final long serialVersionUID = 1L;

    static final int ENOENT = 2, EBADF = 9, EBUSY = 16, ENODEV = 19, EINVAL = 22, EPERM = 1, EACCES = 13, EEXIST = 17, ENOTTY = 25;

    final int errno;

    SysException(String what, int errno) {
        super(what + ": " + name(errno));
        this.errno = errno;
    }

    static String name(int errno) {
        return switch (errno) {
            case EPERM -> "EPERM (operation not permitted)";
            case ENOENT -> "ENOENT (no such file)";
            case EBADF -> "EBADF";
            case EACCES -> "EACCES (permission denied)";
            case EBUSY -> "EBUSY (in use)";
            case EEXIST -> "EEXIST";
            case ENODEV -> "ENODEV (no such device)";
            case EINVAL -> "EINVAL (invalid argument)";
            case ENOTTY -> "ENOTTY (not a VFIO file)";
            default -> "errno " + errno;
        };
    }
}
