package vmm.core.device;

/**
 * A device implementation, registered as an OSGi service by a device bundle
 * (typically a Declarative Services component) with the service properties
 * {@value #TYPE} (what it emulates, for example {@code virtio-rng}) and
 * {@value #IMPLEMENTATION} (which implementation it is). Several providers
 * may serve one type; an instance picks one and can be moved to another.
 */
public interface DeviceProvider {
    /** Service property: the device type served, e.g. {@code virtio-blk}. */
    String TYPE = "vmm.device.type";
    /** Service property: this implementation's name, unique within its type. */
    String IMPLEMENTATION = "vmm.device.implementation";

    /**
     * Creates a model for one instance. Called from the core's configuration
     * thread; the model is not started yet.
     *
     * @throws IllegalArgumentException when the configuration is unusable, with a message naming the bad key
     */
    DeviceModel create(DeviceContext context);
}
