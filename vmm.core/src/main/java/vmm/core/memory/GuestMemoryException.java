package vmm.core.memory;

/**
 * A guest-physical range that is not backed by RAM (outside every region, or
 * crossing a region's edge). Guest-controlled addresses raise this; a device
 * turns it into a guest-visible error, never a VMM failure.
 */
public final class GuestMemoryException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final long address;
    private final long length;

    public GuestMemoryException(long address, long length, String why) {
        super(String.format("guest range [0x%x, +0x%x) %s", address, length, why));
        this.address = address;
        this.length = length;
    }

    public long address() {
        return address;
    }

    public long length() {
        return length;
    }
}
