package vmm.core.machine;

import vmm.core.device.DeviceModel;

/**
 * The guest-visible part of a {@link DeviceInstance} that stays in place while models come and go: the virtio-pci
 * transport of a virtio device ({@link VirtioShell}), or the bus ranges of a {@link vmm.core.device.BusDevice}
 * ({@link BusShell}). The instance calls it with its own lock held and, around a change of model, with its gate
 * closed.
 */
interface Shell {
    /** The model in place (the last one while the instance is detached). */
    DeviceModel model();

    /**
     * Checks that {@code next} can take over the guest-visible device.
     *
     * @throws vmm.core.device.IncompatibleStateException or {@link IllegalArgumentException} naming what differs
     */
    void checkShape(DeviceModel next);

    /** Hands {@code next}, which passed {@link #checkShape}, what it needs from the shell before its state and start. */
    default void prepare(DeviceModel next) {
    }

    /** Makes {@code next} (started, its state restored) serve the guest from now on. */
    void install(DeviceModel next);

    /** The model in place is about to be stopped: the shell lets go of what it holds for it (nothing by default). */
    default void releaseModel() {
    }

    /** After a new model was installed and the gate opened: lets it see what the guest offered meanwhile. */
    default void afterInstall() {
    }

    /** A guest (platform) reset, with the vCPUs paused: the device returns to its power-on state. */
    void reset();

    /** Takes the device off its bus; the model is left to the instance. Idempotent. */
    void unplug();

    /** Where the guest finds the device, for listings: "00:03.0", "io 0x3f8-0x3ff". */
    String location();
}
