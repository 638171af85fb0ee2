package device.pci_passthru.vfio;

/**
 * {@code struct vfio_irq_info} of one IRQ index.
 *
 * @param index IRQ index ({@link VfioDevice#VFIO_PCI_INTX_IRQ_INDEX} ...)
 * @param flags {@link VfioDevice#VFIO_IRQ_INFO_EVENTFD}, {@code _MASKABLE}, {@code _AUTOMASKED}, {@code _NORESIZE}
 * @param count number of vectors of the index (0: the device has none, e.g. no MSI-X capability)
 */
public record IrqInfo(int index, int flags, int count) {
    /** Whether the index can signal an eventfd. */
    public boolean eventfd() {
        return (flags & VfioDevice.VFIO_IRQ_INFO_EVENTFD) != 0;
    }

    /** Whether the index can be masked and unmasked. */
    public boolean maskable() {
        return (flags & VfioDevice.VFIO_IRQ_INFO_MASKABLE) != 0;
    }

    /** Whether the host masks the interrupt when it fires (INTx), so it must be unmasked after service. */
    public boolean automasked() {
        return (flags & VfioDevice.VFIO_IRQ_INFO_AUTOMASKED) != 0;
    }
}
