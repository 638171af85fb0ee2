package vmm.core.device;

/** Saved state that a device model cannot adopt (another type, a newer version, a missing field). */
public final class IncompatibleStateException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public IncompatibleStateException(String message) {
        super(message);
    }
}
