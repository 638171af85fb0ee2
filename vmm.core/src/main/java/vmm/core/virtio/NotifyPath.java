package vmm.core.virtio;

import static vmm.core.virtio.VirtioFeatures.STATUS_DEVICE_NEEDS_RESET;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Driver notifications of a virtio-pci function on their way to the device
 * model: checked against the registers (a notify for a queue that is not
 * there or not enabled is a driver error), counted, and delivered through
 * the swap gate with the transport's device lock held for reading. One
 * thread delivers per queue: a notify arriving meanwhile only counts, and
 * the delivering thread calls the device again for it, so a vCPU never
 * waits on another queue's work and no notify is lost.
 *
 * <p>In a deterministic run the notifying vCPU then waits until a queue the
 * device {@linkplain VirtioDevice#servesToCompletion serves to completion}
 * has settled: the device's threads do the work while guest time stands
 * still, so its completions land at the same instruction on every run.
 */
final class NotifyPath {
    private static final System.Logger LOG = System.getLogger("vmm.virtio");
    /** A guard against a device that never settles (paused for a swap, or broken): not part of a normal run. */
    private static final long SETTLE_BOUND_NS = TimeUnit.SECONDS.toNanos(30);

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
        VirtioDevice d;
        try {
            t.deviceLock.readLock().lock();
            try {
                d = t.device();
                deliver(s);
            } finally {
                t.deviceLock.readLock().unlock();
            }
        } finally {
            t.gate.exit();
        }
        if (t.deterministic && d != null && d.servesToCompletion(q)) awaitSettled(s, q);
    }

    /** A deterministic run's notify: waits, outside the gate and the device lock, until the queue has settled. */
    private void awaitSettled(QueueSlot s, int q) {
        VirtQueue vq;
        synchronized (t.lock) {
            vq = s.queue;
        }
        if (vq == null) return;
        long start = System.nanoTime();
        for (int spins = 0; !vq.settled(); spins++) {
            if (System.nanoTime() - start > SETTLE_BOUND_NS) {
                LOG.log(System.Logger.Level.WARNING, "{0}: queue {1} did not settle in {2} s after a notify; "
                        + "this deterministic run may not reproduce", t.owner, q, SETTLE_BOUND_NS / 1_000_000_000L);
                return;
            }
            if (spins < 200) Thread.onSpinWait();
            else LockSupport.parkNanos(20_000);
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
