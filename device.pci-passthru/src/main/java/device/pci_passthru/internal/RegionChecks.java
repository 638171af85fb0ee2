package device.pci_passthru.internal;

import device.pci_passthru.vfio.RegionInfo;

/**
 * The argument checks every {@code VfioDevice} transport makes before it
 * touches a region, in one place so the kernel and vfio-user transports
 * refuse the same things with the same words.
 */
public final class RegionChecks {
    private RegionChecks() {}

    /**
     * Returns region {@code index} of {@code regions}.
     *
     * @throws IllegalArgumentException naming the device when {@code index} is not a region
     */
    public static RegionInfo region(String device, RegionInfo[] regions, int index) {
        if (index < 0 || index >= regions.length)
            throw new IllegalArgumentException(device + ": region index " + index + " outside [0, " + regions.length + ")");
        return regions[index];
    }

    /**
     * Checks an access of {@code length} bytes at {@code offset} of region {@code index}.
     *
     * @throws IllegalArgumentException naming the device when the region does not allow it or the range
     *                                  (overflow included) leaves the region
     */
    public static void range(String device, RegionInfo[] regions, int index, long offset, long length, boolean write) {
        RegionInfo r = region(device, regions, index);
        if (write ? !r.writable() : !r.readable())
            throw new IllegalArgumentException(device + ": region " + index + " is not " + (write ? "writable" : "readable"));
        if (offset < 0 || length < 0 || offset + length < 0 || offset + length > r.size())
            throw new IllegalArgumentException(device + ": [" + offset + ", +" + length + ") leaves region " + index + " of " + r.size() + " bytes");
    }
}
