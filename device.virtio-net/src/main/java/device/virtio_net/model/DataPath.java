package device.virtio_net.model;

import java.util.List;

import vmm.core.hypervisor.EventFd;
import vmm.core.virtio.VirtioContext;

/**
 * The part of a virtio-net device that moves frames between the guest's
 * receive/transmit queues and the back end; everything guest-visible
 * besides (features, config, control queue, state) is {@link NetModel}'s.
 * device.virtio-net and device.viona differ only here.
 *
 * <p>Threading: {@link #kick} is called on the thread that notified (a vCPU
 * or a vhost-user kick thread) and must return at once: the work runs on
 * the data path's own threads. The other methods follow
 * {@link vmm.core.device.Lifecycle}: one at a time, never concurrently with
 * {@link #kick}.
 */
public interface DataPath {
    /** Which engine this is, for the log: "in-process, 2 workers". */
    String engine();

    /** Acquires threads. Called once. */
    void start();

    /** The driver is ready: serve the queues of {@code ctx} (data queues 2i, 2i+1 of the active pairs). */
    void activate(VirtioContext ctx, int activePairs);

    /** The driver notified data queue {@code queue}. */
    void kick(int queue);

    /**
     * The eventfd this data path's thread for data queue {@code queue} waits
     * on, which the transport may bind to the queue's notify address (see
     * {@link vmm.core.virtio.KernelNotified}), or null (the default) to be told
     * through {@link #kick}. Fixed for the data path's life, open until {@link #stop()}.
     */
    default EventFd notifyEventFd(int queue) {
        return null;
    }

    /** The driver changed the number of active queue pairs (MQ). */
    void setActivePairs(int pairs);

    /**
     * Takes no new work; returns when every chain taken is back in the used
     * ring with its interrupt. Frames read from the back end and not yet
     * delivered are kept (see {@link #pendingFrames}).
     */
    void pause();

    void resume();

    /** Forgets the queues and any undelivered frame; the device was reset. */
    void reset();

    /** Ends the threads. */
    void stop();

    /** While paused: frames (header and Ethernet frame) read from the back end and not yet delivered, oldest first. */
    List<byte[]> pendingFrames();

    /** Before {@link #start()}: frames a previous implementation had not delivered; they go first. */
    void restorePendingFrames(List<byte[]> frames);
}
