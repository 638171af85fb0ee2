package vmm.vfiouser;

/**
 * A device's answer to VFIO_USER_DEVICE_GET_INFO ({@code struct vfio_device_info}).
 *
 * @param flags      {@link VfioUser#VFIO_DEVICE_FLAGS_RESET}, {@link VfioUser#VFIO_DEVICE_FLAGS_PCI}
 * @param numRegions regions the device has (9 or more for PCI)
 * @param numIrqs    interrupt types (5 for PCI)
 */
public record DeviceInfo(int flags, int numRegions, int numIrqs) {
    public boolean isPci() { return (flags & VfioUser.VFIO_DEVICE_FLAGS_PCI) != 0; }

    public boolean canReset() { return (flags & VfioUser.VFIO_DEVICE_FLAGS_RESET) != 0; }
}
