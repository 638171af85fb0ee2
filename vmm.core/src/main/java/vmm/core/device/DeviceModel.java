package vmm.core.device;

/**
 * One device implementation's live object for one device instance. A
 * device bundle creates it through its {@link DeviceProvider}; the core
 * drives its {@link Lifecycle} and moves its state to another
 * implementation on a hot swap.
 */
public interface DeviceModel extends Lifecycle {
    /**
     * Captures the device's own state. Called only while paused, so no work
     * is in flight. The state names its type and format version.
     */
    DeviceState saveState();

    /**
     * Adopts state saved by this or another implementation of the same
     * device type. Called before {@link #start()} on a freshly created model.
     *
     * @throws IncompatibleStateException when the state's type or version cannot be read;
     *                                    the model is then discarded and nothing else changes
     */
    void restoreState(DeviceState state);
}
