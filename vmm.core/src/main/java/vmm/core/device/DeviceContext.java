package vmm.core.device;

import java.util.Map;

import vmm.core.memory.GuestMemory;

/**
 * What a provider gets when asked for a model: the instance's identity and
 * configuration, and the guest memory it may DMA into. Immutable.
 */
public interface DeviceContext {
    /** The instance's stable name (its Configuration Admin PID, or the name a test gave it). */
    String instanceId();

    /** The instance's configuration properties, as the user wrote them. */
    Map<String, Object> configuration();

    GuestMemory memory();

    /**
     * Counts one request the device completed with an error status (for
     * example virtio-blk's {@code VIRTIO_BLK_S_IOERR} or {@code _UNSUPP}) in
     * the instance's {@link DeviceCounters}. Any thread; cheap. A context
     * outside a device instance (a test's, a vhost-user back end's) keeps no
     * counters and ignores it.
     */
    default void requestFailed() {}

    /**
     * The machine's interrupt input {@code gsi} (0-15 the ISA IRQs, as the PIC and IOAPIC take them), for a
     * {@link BusDevice}, which has no PCI interrupt of its own. Any thread.
     *
     * @throws IllegalArgumentException      when the interrupt controller has no such input
     * @throws UnsupportedOperationException where the context belongs to no machine (a vhost-user back end's)
     */
    default vmm.core.irq.InterruptLine interruptLine(int gsi) {
        throw new UnsupportedOperationException("device " + instanceId() + ": no machine, so no interrupt line " + gsi);
    }

    /** A configuration value as a string, or {@code fallback} when absent. */
    default String property(String key, String fallback) {
        Object v = configuration().get(key);
        return v == null ? fallback : String.valueOf(v);
    }

    /**
     * A configuration value as a long.
     *
     * @throws IllegalArgumentException naming the key and the value when it is not a number
     */
    default long longProperty(String key, long fallback) {
        Object v = configuration().get(key);
        if (v == null) return fallback;
        if (v instanceof Number n) return n.longValue();
        try {
            return Long.decode(String.valueOf(v).trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("device " + instanceId() + ": " + key + "=" + v + " is not a number");
        }
    }
}
