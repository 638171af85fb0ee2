package vmm.vfiouser;

/**
 * One interrupt type as VFIO_USER_DEVICE_GET_IRQ_INFO describes it
 * ({@code struct vfio_irq_info}).
 *
 * @param index {@link VfioUser#VFIO_PCI_INTX_IRQ_INDEX} ...
 * @param flags {@code VFIO_IRQ_INFO_*}
 * @param count vectors of this type; 0 when the device has none
 */
public record IrqInfo(int index, int flags, int count) {}
