package vmm.core.virtio;

import vmm.core.memory.GuestMemory;

/**
 * What an active virtio device gets from its transport. Valid from
 * {@link VirtioDevice#activate} until the next reset or stop. Thread-safe.
 */
public interface VirtioContext {
    GuestMemory memory();

    /** The features the driver accepted (FEATURES_OK was set with exactly these). */
    long negotiatedFeatures();

    default boolean hasFeature(int bit) {
        return (negotiatedFeatures() & (1L << bit)) != 0;
    }

    /** Queue {@code index}, or null when the driver did not enable it. */
    VirtQueue queue(int index);

    /** Tells the driver the config space changed (config-change interrupt). */
    void configChanged();

    /**
     * Reports that the device can no longer operate because of the guest
     * (for example a malformed chain popped on a worker thread): the
     * transport sets DEVICE_NEEDS_RESET and interrupts. Idempotent.
     */
    void deviceError(String reason);
}
