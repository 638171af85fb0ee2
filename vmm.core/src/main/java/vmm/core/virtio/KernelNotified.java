package vmm.core.virtio;

import vmm.core.hypervisor.EventFd;

/**
 * Implemented by a {@link VirtioDevice} that waits for the driver's
 * notifications on eventfds of its own, so that on a machine running on a
 * hypervisor the virtio-pci transport binds each such queue's notify address
 * to the eventfd (KVM ioeventfd: the guest's write wakes the device inside
 * the host kernel and the vCPU never exits) and sends the queue's interrupts
 * through an irqfd routed to its MSI-X message. Queues for which the device
 * gives no eventfd, and every queue of a device without this interface,
 * keep the user-space path ({@link VirtioDevice#queueNotify}).
 *
 * <p>A notify can still arrive through {@link VirtioDevice#queueNotify} (a
 * write of another width than the binding's, or while the transport rebinds),
 * so the device must treat both alike.
 */
public interface KernelNotified {
    /**
     * The eventfd the device waits on for queue {@code queue}, or null to have
     * that queue's notifications delivered by {@link VirtioDevice#queueNotify}.
     * Several queues may share one eventfd. Called by the transport without its
     * locks, when the device is installed; the answer must stay the same and the
     * descriptor open until the device is stopped (the transport unbinds it
     * first, see {@link VirtioPciTransport#releaseKernelBindings()}).
     */
    EventFd notifyEventFd(int queue);
}
