package device.pci_passthru.vfio;

/**
 * {@code struct vfio_device_info}: what the device offers.
 *
 * @param flags      {@link VfioDevice#VFIO_DEVICE_FLAGS_RESET}, {@link VfioDevice#VFIO_DEVICE_FLAGS_PCI}, ...
 * @param numRegions number of region indexes (at least {@link VfioDevice#VFIO_PCI_CONFIG_REGION_INDEX} + 1 for PCI)
 * @param numIrqs    number of IRQ indexes (at least {@link VfioDevice#VFIO_PCI_MSIX_IRQ_INDEX} + 1 for PCI)
 */
public record DeviceInfo(int flags, int numRegions, int numIrqs) {
    /** Whether {@link VfioDevice#reset()} is supported. */
    public boolean canReset() {
        return (flags & VfioDevice.VFIO_DEVICE_FLAGS_RESET) != 0;
    }

    /** Whether the device is a PCI device (region and IRQ indexes as in vfio.h's VFIO_PCI_*). */
    public boolean isPci() {
        return (flags & VfioDevice.VFIO_DEVICE_FLAGS_PCI) != 0;
    }
}
