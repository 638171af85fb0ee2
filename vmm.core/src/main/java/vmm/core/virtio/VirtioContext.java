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

    /**
     * Whether the run is deterministic ({@link vmm.core.hypervisor.VmConfig#deterministic()}): the device then
     * serves each queue's chains one at a time, in the order popped, so the guest sees its completions in the
     * same order on every run. Constant for the context's life.
     */
    default boolean deterministic() {
        return false;
    }
}
