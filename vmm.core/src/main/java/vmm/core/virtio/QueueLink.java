package vmm.core.virtio;

import java.util.function.Consumer;

/**
 * Connects one VirtQueue's callbacks (interrupt, error) to its slot in the
 * virtio-pci transport. The queue is created with the link, so the link
 * learns its queue after creation; callbacks compare it with the slot's
 * current queue under the lock, which drops interrupts and errors of a
 * queue a reset has replaced.
 */
final class QueueLink implements Runnable, Consumer<String> {
    private final VirtioPciTransport t;
    private final QueueSlot slot;
    VirtQueue queue; // written and read under the transport's lock

    QueueLink(VirtioPciTransport t, QueueSlot slot) {
        this.t = t;
        this.slot = slot;
    }

    /** The queue used buffers and wants the driver interrupted. */
    @Override
    public void run() {
        synchronized (t.lock) {
            if (slot.queue != queue || !t.activeLocked()) return;
            t.queueInterruptLocked(slot.vector);
        }
    }

    /** The queue found a driver error; the device needs a reset. */
    @Override
    public void accept(String reason) {
        synchronized (t.lock) {
            if (slot.queue == queue) t.needsResetLocked(reason);
        }
    }
}
