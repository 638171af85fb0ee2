package vmm.core.snapshot;

/**
 * Where a memory section's region lies in guest-physical memory.
 *
 * @param guestBase the region's first guest-physical address, 4 KiB aligned
 * @param size      its size in bytes, a non-zero multiple of 4 KiB
 */
public record RamExtent(long guestBase, long size) {
}
