package vmm.vfiouser;

/**
 * One region as VFIO_USER_DEVICE_GET_REGION_INFO describes it
 * ({@code struct vfio_region_info}).
 *
 * @param index  region index ({@link VfioUser#VFIO_PCI_CONFIG_REGION_INDEX} ...)
 * @param flags  {@code VFIO_REGION_INFO_FLAG_*}
 * @param size   bytes; 0 for a region the device does not implement
 * @param offset the mmap offset in {@code fd} when the region is mappable
 * @param fd     the descriptor to mmap, owned by the receiver, or -1
 */
public record RegionInfo(int index, int flags, long size, long offset, int fd) {
    public boolean readable() { return (flags & VfioUser.VFIO_REGION_INFO_FLAG_READ) != 0; }

    public boolean writable() { return (flags & VfioUser.VFIO_REGION_INFO_FLAG_WRITE) != 0; }

    public boolean mappable() { return (flags & VfioUser.VFIO_REGION_INFO_FLAG_MMAP) != 0 && fd >= 0; }
}
