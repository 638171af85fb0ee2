package vmm.core.bus;

/** A range could not be registered because it overlaps one already there, or is malformed. */
public final class BusConflictException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    public BusConflictException(String message) {
        super(message);
    }
}
