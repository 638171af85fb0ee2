package vmm.kvm.internal.linux;

import vmm.core.linux.Downcalls;

/** A failed host call, with the {@code errno} it set. */
public final class SysException extends RuntimeException {
    private final int errno;

    public SysException(String call, int errno) {
        super(Downcalls.failureMessage(call, errno));
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
