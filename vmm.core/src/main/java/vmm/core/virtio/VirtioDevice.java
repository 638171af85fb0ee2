package vmm.core.virtio;

import java.util.Map;

import vmm.core.device.DeviceContext;
import vmm.core.device.DeviceModel;
import vmm.core.device.DeviceProvider;
import vmm.core.memory.GuestMemory;

/**
 * The device-specific part of a virtio device: its ID, features, config
 * space and queue handling. The transport (virtio-pci in the VM, or
 * vhost-user towards another VMM) owns everything else: status, feature
 * negotiation, queue setup, interrupts. The same implementation serves every
 * transport.
 *
 * <p>Threading: {@link #queueNotify(int)}, {@link #readConfig} and
 * {@link #writeConfig} are called on vCPU threads, possibly concurrently for
 * different queues; the lifecycle methods and {@link #activate} are called
 * one at a time and never concurrently with {@link #queueNotify(int)}.
 */
public interface VirtioDevice extends DeviceModel {
    /**
     * A model from {@code provider} for a device served to another process (over vhost-user or vfio-user): its
     * context has no guest memory (the peer's arrives per connection, through the {@link VirtioContext}), no
     * counters and no interrupt lines. Not started.
     *
     * @param servedOver the protocol, for the refusal ("vhost-user")
     * @throws IllegalArgumentException when the provider refuses the configuration or makes no virtio device
     * @since 1.6
     */
    static VirtioDevice createServed(DeviceProvider provider, String instanceId, Map<String, Object> configuration,
                                     String servedOver) {
        Map<String, Object> config = Map.copyOf(configuration);
        DeviceModel m = provider.create(new DeviceContext() {
            @Override public String instanceId() { return instanceId; }
            @Override public Map<String, Object> configuration() { return config; }
            @Override public GuestMemory memory() { return null; }
        });
        if (m instanceof VirtioDevice v) return v;
        m.stop();
        throw new IllegalArgumentException("device " + instanceId + ": the provider made a " + m.getClass().getName()
                + ", not a virtio device; only virtio devices can be served over " + servedOver);
    }

    /** The virtio device ID (section 5 of the specification), for example 4 for an entropy device. */
    int deviceId();

    /**
     * Feature bits the device offers, device-specific ones and the ring
     * features it can use ({@link VirtioFeatures#RING_INDIRECT_DESC},
     * {@link VirtioFeatures#RING_EVENT_IDX}). The transport adds
     * {@link VirtioFeatures#VERSION_1} and offers nothing the device did not.
     */
    long deviceFeatures();

    /** Number of virtqueues, at least 1. */
    int queueCount();

    /** Largest size queue {@code queue} may have, a power of two up to 32768. */
    int maxQueueSize(int queue);

    /** Bytes of device-specific configuration space. */
    int configSize();

    /**
     * Reads {@code size} (1, 2, 4 or 8) bytes of config space at
     * {@code offset}; the transport guarantees {@code offset + size <= configSize()}.
     */
    long readConfig(int offset, int size);

    /** Writes config space; writes to read-only fields are ignored. Same bounds as {@link #readConfig}. */
    void writeConfig(int offset, int size, long value);

    /**
     * The driver set DRIVER_OK: features are final and the enabled queues
     * are in {@code context}. Also called, with the same context, on a new
     * implementation that takes over a running device in a hot swap.
     */
    void activate(VirtioContext context);

    /**
     * The driver notified queue {@code queue} (an enabled queue of an active
     * device). The device pops chains from {@code context.queue(queue)},
     * here or on its own threads. A spurious notify must be harmless.
     */
    void queueNotify(int queue);

    /**
     * As {@link #queueNotify(int)}, but called on a thread the transport keeps
     * for this queue's notifications (vhost-user's kick thread), not on a
     * vCPU: the device may serve requests right here, saving a hand-off to
     * its own threads, since only the queue's next notification waits
     * meanwhile. It must still return once the queue is empty or full. The
     * default hands over to {@link #queueNotify(int)}.
     */
    default void queueNotifyOnIoThread(int queue) {
        queueNotify(queue);
    }

    /**
     * Whether a notify on {@code queue} makes the device take every available chain and complete it without
     * waiting for anything from outside the VM (a request or transmit queue), as opposed to holding the buffers
     * until input arrives (a receive queue). In a {@linkplain VirtioContext#deterministic() deterministic} run the
     * notifying vCPU waits until such a queue has settled, so that the completions land at the same point of the
     * guest's execution on every run. Constant per queue; any thread. The default is false.
     */
    default boolean servesToCompletion(int queue) {
        return false;
    }
}
