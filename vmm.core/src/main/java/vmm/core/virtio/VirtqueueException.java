package vmm.core.virtio;

/**
 * A guest error in a virtqueue: a ring or descriptor chain that breaks the
 * rules of virtio 1.2 section 2.7 (a loop, an index out of range, a buffer
 * outside guest RAM, ...), or a queue the driver set up wrongly. The queue
 * has already reported the reason to its transport, which puts the device in
 * DEVICE_NEEDS_RESET; a device that catches this only has to stop using the
 * queue. Never a VMM failure.
 */
public final class VirtqueueException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** A guest error described by {@code message}, which names the queue and what was wrong. */
    public VirtqueueException(String message) {
        super(message);
    }
}
