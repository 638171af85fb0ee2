package vmm.core.pci;

/**
 * Gives a device's own capability live registers (for example virtio's
 * {@code VIRTIO_PCI_CAP_PCI_CFG} window). Offsets are relative to the
 * capability's first byte (its ID); the bus itself keeps the ID and next
 * pointer read-only. Called on vCPU threads.
 */
public interface CapabilityHandler {
    /** Returns the {@code size}-byte value at {@code offset}; {@code stored} is what the bus holds there. */
    int read(int offset, int size, int stored);

    /**
     * Takes a guest write; returns the value the bus should store at
     * {@code offset} (return {@code stored} to make the bytes read-only).
     */
    int write(int offset, int size, int value, int stored);
}
