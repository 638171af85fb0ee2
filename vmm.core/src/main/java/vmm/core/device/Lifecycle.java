package vmm.core.device;

/**
 * The lifecycle every device model follows. The core calls these methods
 * one at a time for a given device (never concurrently with each other),
 * possibly while vCPU threads call the device's bus handlers.
 *
 * <pre>
 * created --start--> running --pause--> paused --resume--> running
 *                    running/paused --reset--> (same state, power-on registers)
 *                    any --stop--> stopped (final)
 * </pre>
 */
public interface Lifecycle {
    /** Acquires resources (threads, files) and begins serving. Called once, after creation and any restore. */
    void start();

    /**
     * Takes no new work and returns once all work already taken has
     * completed, its results and interrupts delivered. Work the guest offers
     * meanwhile stays where the guest put it (for virtio, in the avail ring).
     */
    void pause();

    /** Takes work again, including anything the guest offered while paused. */
    void resume();

    /** Returns guest-visible registers to their power-on values and drops queued work, as a device reset does. */
    void reset();

    /** Releases everything; the model is not used again. Called after {@link #pause()} when work may be in flight. */
    void stop();
}
