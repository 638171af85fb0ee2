package vmm.kvm.internal.linux;

/** A failed host call, with the {@code errno} it set. */
public final class SysException extends RuntimeException {
    private final int errno;

    public SysException(String call, int errno) {
        super(call + " failed: " + Sys.strerror(errno) + " (errno " + errno + ")");
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
