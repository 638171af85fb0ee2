package vmm.core.machine;

import vmm.core.pci.PciAddress;

/**
 * A configured device instance as an OSGi service, one per Configuration
 * Admin factory configuration of PID {@code vmm.device}, and one per
 * {@code vmm.vhost-user} or {@code vmm.vfio-user} configuration (a device
 * served on a socket: no PCI address, no {@link #instance()}, its socket as
 * its {@link #location()}); for shells, monitoring and tests. Thread-safe;
 * values are a snapshot of the moment.
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

    /** The live instance, or null before the first provider arrived and for a device served on a socket. */
    DeviceInstance instance();

    /**
     * Where the device is found, for listings: its PCI slot ("00:03.0"), the ranges of a device on the port or MMIO
     * bus ("io 0x3f8-0x3ff"), the socket of a served device ("unix /run/net.sock"), or "-" before it exists.
     *
     * @since 1.3
     */
    default String location() {
        if (address() != null) return address().toString();
        DeviceInstance i = instance();
        return i == null ? "-" : i.location();
    }

    /** The instance's request, byte and error counters, or null before the first provider arrived. */
    default vmm.core.device.DeviceCounters counters() {
        DeviceInstance i = instance();
        return i == null ? null : i.counters();
    }
}
