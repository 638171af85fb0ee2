package vmm.core.machine;

import java.util.concurrent.CompletableFuture;

import vmm.core.pci.PciAddress;

/**
 * How a platform adds PCI devices to a running guest and takes them out with the guest's consent (on a PC: ACPI
 * PCI hotplug, {@code vmm.core.platform.PcPlatform}). A {@link Machine} given one with {@link Machine#useHotplug}
 * tells it about every PCI device it plugs and asks it before removing one while the guest runs.
 *
 * <p>Threading: {@link #plugged} and {@link #removed} are called by the machine under the plugging or removing
 * thread (a configuration or shell thread); {@link #requestRemoval} by whoever unplugs. Implementations are
 * thread-safe.
 */
public interface Hotplug {
    /**
     * Whether the guest runs, so that a device plugged now is announced to it and one removed must be ejected by
     * it first; false before the machine starts (devices plugged then are cold-plugged).
     */
    boolean live();

    /**
     * A PCI device was plugged at {@code address}. While {@link #live()} it is announced to the guest and is
     * removable; before, it is removable only when {@code removable} (the user's {@code removable=true}).
     * {@code remove} releases the device and is run once, when the guest ejected it (on a thread of the
     * platform's, never a vCPU's). Addresses that cannot be hotplugged (another bus, a function other than 0,
     * the chipset's slots) are ignored.
     */
    void plugged(PciAddress address, boolean removable, Runnable remove);

    /**
     * Asks the guest to eject the device at {@code address}; it stays in place until the guest does.
     *
     * @return completed once the guest ejected the device and its {@code remove} ran (or the device went another
     *         way, {@link #removed})
     * @throws IllegalStateException when the device is not removable or the address holds nothing hotplugged
     */
    CompletableFuture<Void> requestRemoval(PciAddress address);

    /** Whether the device at {@code address} may be taken out of the running guest. */
    boolean removable(PciAddress address);

    /** The device at {@code address} was removed without the guest (its configuration gone before the start, the machine closing). */
    void removed(PciAddress address);
}
