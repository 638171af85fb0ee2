package vmm.core.virtio;

import static vmm.core.virtio.VirtioFeatures.STATUS_DEVICE_NEEDS_RESET;

import java.util.ArrayList;
import java.util.List;

/**
 * Driver notifications of a virtio-pci function on their way to the device
 * model: checked against the registers (a notify for a queue that is not
 * there or not enabled is a driver error), counted, and delivered through
 * the swap gate with the transport's device lock held for reading. One
 * thread delivers per queue: a notify arriving meanwhile only counts, and
 * the delivering thread calls the device again for it, so a vCPU never
 * waits on another queue's work and no notify is lost.
 */
final class NotifyPath {
    private final VirtioPciTransport t;

    NotifyPath(VirtioPciTransport t) {
        this.t = t;
    }

    /** A driver notification for queue {@code q} (modern notify region or legacy register). */
    void notifyQueue(int q) {
        QueueSlot s;
        synchronized (t.lock) {
            if ((t.status & STATUS_DEVICE_NEEDS_RESET) != 0) return; // left alone until the driver resets
            s = q >= 0 && q < t.queueCount ? t.queues[q] : null;
            if (s == null) {
                t.needsResetLocked("notify for queue " + q + ", which does not exist (the device has "
                        + t.queueCount + ")");
                return;
            }
            if (!s.enabled) {
                t.needsResetLocked("notify for queue " + q + ", which is not enabled");
                return;
            }
            t.busNotifies.incrementAndGet(q);
            // Before DRIVER_OK the device may not consume buffers; activation delivers this notify.
            if (!t.activeLocked()) return;
        }
        if (!t.gate.enter()) return;
        try {
            t.deviceLock.readLock().lock();
            try {
                deliver(s);
            } finally {
                t.deviceLock.readLock().unlock();
            }
        } finally {
            t.gate.exit();
        }
    }

    /** Delivers a notification for every enabled queue of the active device; see the transport's method. */
    void kickEnabledQueues() {
        List<QueueSlot> live = new ArrayList<>();
        synchronized (t.lock) {
            if (!t.activeLocked() || (t.status & STATUS_DEVICE_NEEDS_RESET) != 0) return;
            for (QueueSlot s : t.queues) if (s.queue != null) live.add(s);
        }
        if (!t.gate.enter()) return;
        try {
            t.deviceLock.readLock().lock();
            try {
                for (QueueSlot s : live) deliver(s);
            } finally {
                t.deviceLock.readLock().unlock();
            }
        } finally {
            t.gate.exit();
        }
    }

    /** Calls queueNotify for {@code s}; the gate is entered and the device lock held. */
    void deliver(QueueSlot s) {
        if (s.kicks.getAndIncrement() != 0) return;
        boolean finished = false;
        try {
            deliverAll(s);
            finished = true;
        } finally {
            // An Error out of the device must not leave the count up, or this queue would never be notified again.
            if (!finished) s.kicks.set(0);
        }
    }

    private void deliverAll(QueueSlot s) {
        int seen;
        do {
            seen = s.kicks.get();
            boolean live;
            synchronized (t.lock) {
                live = t.activeLocked() && s.queue != null && (t.status & STATUS_DEVICE_NEEDS_RESET) == 0;
            }
            if (live) {
                try {
                    t.device().queueNotify(s.index);
                } catch (VirtqueueException e) {
                    // the queue already reported it, which set DEVICE_NEEDS_RESET
                } catch (RuntimeException e) {
                    t.deviceFailed("queue " + s.index + " notify", e);
                }
            }
        } while (s.kicks.addAndGet(-seen) != 0);
    }
}
