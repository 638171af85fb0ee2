package vmm.core.machine;

import vmm.core.pci.PciAddress;

/**
 * A configured device instance as an OSGi service, one per Configuration
 * Admin factory configuration of PID {@code vmm.device}; for shells,
 * monitoring and tests. Thread-safe; values are a snapshot of the moment.
 */
public interface DeviceInstanceInfo {
    /** Service property holding the instance id (the configuration's name). */
    String INSTANCE_ID = "vmm.device.instance";

    String id();

    String type();

    /** The PCI address; null for a device on the port or MMIO bus ({@link vmm.core.device.BusDevice}). */
    PciAddress address();

    /** The implementation serving now, or null before the first provider arrived. */
    String implementation();

    /** ACTIVE, DETACHED, or null before the first provider arrived. */
    DeviceInstance.Status status();

    /** Swaps and re-attachments so far. */
    int swapCount();

    /** The live instance, or null before the first provider arrived. */
    DeviceInstance instance();

    /** The instance's request, byte and error counters, or null before the first provider arrived. */
    default vmm.core.device.DeviceCounters counters() {
        DeviceInstance i = instance();
        return i == null ? null : i.counters();
    }
}
