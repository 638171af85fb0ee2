package vmm.core.virtio;

import static vmm.core.virtio.VirtioFeatures.NO_VECTOR;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * One queue's registers in the virtio-pci transport, as the driver
 * programmed them, and its VirtQueue once enabled. Guarded by the
 * transport's lock, except {@link #kicks}.
 */
final class QueueSlot {
    final int index;
    int size, vector = NO_VECTOR;
    boolean enabled;
    long desc, driver, device;
    VirtQueue queue;
    /** Notifies not yet delivered; one thread delivers per queue, the others only count here. */
    final AtomicInteger kicks = new AtomicInteger();

    QueueSlot(int index, int maxSize) {
        this.index = index;
        this.size = maxSize;
    }

    void reset(int maxSize) {
        size = maxSize;
        vector = NO_VECTOR;
        enabled = false;
        desc = driver = device = 0;
        queue = null;
    }
}
