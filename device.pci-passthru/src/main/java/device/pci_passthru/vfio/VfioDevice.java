package device.pci_passthru.vfio;

import java.util.List;
import java.util.Optional;

import vmm.core.hypervisor.EventFd;

/**
 * One device as a VFIO device file descriptor presents it (include/uapi/linux/vfio.h):
 * the seam between the passthrough PCI function and a transport (the kernel's
 * vfio-pci through ioctls on the device fd, or a vfio-user peer through
 * messages on a socket).
 *
 * <p>Every value an implementation returns came from the host kernel or a peer
 * and the caller checks it before use; every argument the caller passes is
 * checked by the implementation against the device's own info (region and IRQ
 * indexes, offsets and lengths inside the region), refused with
 * {@link IllegalArgumentException} before anything reaches the host or peer.
 * A host or peer refusal is a {@link VfioException}.
 *
 * <p>Threading: region reads and writes may come from several vCPU threads at
 * once and must be safe; the other methods are called by the passthrough
 * function under its own lock, one at a time, but an implementation must not
 * assume which thread calls them.
 */
public interface VfioDevice extends AutoCloseable {
    /** {@code VFIO_DEVICE_FLAGS_RESET}: the device supports {@code VFIO_DEVICE_RESET}. */
    int VFIO_DEVICE_FLAGS_RESET = 1 << 0;
    /** {@code VFIO_DEVICE_FLAGS_PCI}: a vfio-pci device. */
    int VFIO_DEVICE_FLAGS_PCI = 1 << 1;

    /** {@code VFIO_REGION_INFO_FLAG_READ}. */
    int VFIO_REGION_INFO_FLAG_READ = 1 << 0;
    /** {@code VFIO_REGION_INFO_FLAG_WRITE}. */
    int VFIO_REGION_INFO_FLAG_WRITE = 1 << 1;
    /** {@code VFIO_REGION_INFO_FLAG_MMAP}. */
    int VFIO_REGION_INFO_FLAG_MMAP = 1 << 2;
    /** {@code VFIO_REGION_INFO_FLAG_CAPS}: the info has a capability chain (sparse mmap, ...). */
    int VFIO_REGION_INFO_FLAG_CAPS = 1 << 3;

    /** {@code VFIO_PCI_BAR0_REGION_INDEX}; BAR n is index n up to {@link #VFIO_PCI_BAR5_REGION_INDEX}. */
    int VFIO_PCI_BAR0_REGION_INDEX = 0;
    /** {@code VFIO_PCI_BAR1_REGION_INDEX}. */
    int VFIO_PCI_BAR1_REGION_INDEX = 1;
    /** {@code VFIO_PCI_BAR2_REGION_INDEX}. */
    int VFIO_PCI_BAR2_REGION_INDEX = 2;
    /** {@code VFIO_PCI_BAR3_REGION_INDEX}. */
    int VFIO_PCI_BAR3_REGION_INDEX = 3;
    /** {@code VFIO_PCI_BAR4_REGION_INDEX}. */
    int VFIO_PCI_BAR4_REGION_INDEX = 4;
    /** {@code VFIO_PCI_BAR5_REGION_INDEX}. */
    int VFIO_PCI_BAR5_REGION_INDEX = 5;
    /** {@code VFIO_PCI_ROM_REGION_INDEX}: the expansion ROM. */
    int VFIO_PCI_ROM_REGION_INDEX = 6;
    /** {@code VFIO_PCI_CONFIG_REGION_INDEX}: the PCI configuration space (256 or 4096 bytes). */
    int VFIO_PCI_CONFIG_REGION_INDEX = 7;
    /** {@code VFIO_PCI_VGA_REGION_INDEX}: legacy VGA ranges (not used by passthrough). */
    int VFIO_PCI_VGA_REGION_INDEX = 8;
    /** {@code VFIO_PCI_NUM_REGIONS}. */
    int VFIO_PCI_NUM_REGIONS = 9;

    /** {@code VFIO_PCI_INTX_IRQ_INDEX}. */
    int VFIO_PCI_INTX_IRQ_INDEX = 0;
    /** {@code VFIO_PCI_MSI_IRQ_INDEX}. */
    int VFIO_PCI_MSI_IRQ_INDEX = 1;
    /** {@code VFIO_PCI_MSIX_IRQ_INDEX}. */
    int VFIO_PCI_MSIX_IRQ_INDEX = 2;
    /** {@code VFIO_PCI_ERR_IRQ_INDEX}. */
    int VFIO_PCI_ERR_IRQ_INDEX = 3;
    /** {@code VFIO_PCI_REQ_IRQ_INDEX}. */
    int VFIO_PCI_REQ_IRQ_INDEX = 4;
    /** {@code VFIO_PCI_NUM_IRQS}. */
    int VFIO_PCI_NUM_IRQS = 5;

    /** {@code VFIO_IRQ_INFO_EVENTFD}. */
    int VFIO_IRQ_INFO_EVENTFD = 1 << 0;
    /** {@code VFIO_IRQ_INFO_MASKABLE}. */
    int VFIO_IRQ_INFO_MASKABLE = 1 << 1;
    /** {@code VFIO_IRQ_INFO_AUTOMASKED}. */
    int VFIO_IRQ_INFO_AUTOMASKED = 1 << 2;
    /** {@code VFIO_IRQ_INFO_NORESIZE}. */
    int VFIO_IRQ_INFO_NORESIZE = 1 << 3;

    /** A name for messages: the host address ({@code 0000:01:00.0}) or the peer ({@code vfio-user:/run/x.sock}). */
    String name();

    /** {@code VFIO_DEVICE_GET_INFO}; the same value on every call. */
    DeviceInfo info();

    /**
     * {@code VFIO_DEVICE_GET_REGION_INFO} of region {@code index}, with the sparse mmap
     * areas when the region has them.
     *
     * @throws IllegalArgumentException if {@code index} is outside {@code [0, info().numRegions())}
     */
    RegionInfo regionInfo(int index);

    /**
     * Reads {@code length} bytes of region {@code index} at {@code offset} into
     * {@code dst[dstOffset ..]} (a {@code pread} of the device fd, or a
     * {@code VFIO_USER_REGION_READ}). Safe from several threads.
     *
     * @throws IllegalArgumentException if the region is not readable or the range leaves it or {@code dst}
     * @throws VfioException            if the host or peer fails the access or returns fewer bytes
     */
    void read(int index, long offset, byte[] dst, int dstOffset, int length);

    /**
     * Writes {@code length} bytes from {@code src[srcOffset ..]} to region {@code index}
     * at {@code offset}. Safe from several threads.
     *
     * @throws IllegalArgumentException if the region is not writable or the range leaves it or {@code src}
     * @throws VfioException            if the host or peer fails the access or takes fewer bytes
     */
    void write(int index, long offset, byte[] src, int srcOffset, int length);

    /**
     * Reads a little-endian value of {@code size} (1, 2, 4 or 8) bytes; see {@link #read}.
     *
     * @throws IllegalArgumentException if {@code size} is not 1, 2, 4 or 8, or as {@link #read}
     */
    default long read(int index, long offset, int size) {
        checkSize(size);
        byte[] b = new byte[size];
        read(index, offset, b, 0, size);
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            v = (v << 8) | (b[i] & 0xff);
        }
        return v;
    }

    /**
     * Writes the low {@code size} (1, 2, 4 or 8) bytes of {@code value}, little-endian; see {@link #write}.
     *
     * @throws IllegalArgumentException if {@code size} is not 1, 2, 4 or 8, or as {@link #write}
     */
    default void write(int index, long offset, int size, long value) {
        checkSize(size);
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (value >>> (8 * i));
        }
        write(index, offset, b, 0, size);
    }

    /**
     * Maps {@code [offset, offset + length)} of region {@code index} into the VMM so the
     * guest can reach it without exits. Empty when this transport or this range cannot be
     * mapped (the region has no {@code _MMAP} flag, the range is not inside one sparse area,
     * or the transport has no mmap at all); the caller then traps the range and uses
     * {@link #read}/{@link #write}.
     *
     * @throws IllegalArgumentException if {@code offset} or {@code length} is not page aligned or leaves the region
     * @throws VfioException            if the host refuses a range it reported mappable
     */
    Optional<MappedArea> map(int index, long offset, long length);

    /**
     * {@code VFIO_DEVICE_GET_IRQ_INFO} of IRQ index {@code index}.
     *
     * @throws IllegalArgumentException if {@code index} is outside {@code [0, info().numIrqs())}
     */
    IrqInfo irqInfo(int index);

    /**
     * {@code VFIO_DEVICE_SET_IRQS} with {@code DATA_EVENTFD | ACTION_TRIGGER}: vector
     * {@code start + i} signals {@code fds.get(i)}; a {@code null} element detaches
     * that vector's eventfd (fd -1). Enabling the first vectors of MSI or MSI-X enables
     * that mode on the device.
     *
     * @throws IllegalArgumentException if the index has no eventfd support or the range leaves its count
     * @throws VfioException            if the host or peer refuses
     */
    void setTriggers(int index, int start, List<EventFd> fds);

    /**
     * {@code VFIO_DEVICE_SET_IRQS} with {@code DATA_NONE | ACTION_TRIGGER} and count 0:
     * turns every vector of {@code index} off (for MSI and MSI-X, leaves that mode).
     * Disabling an index that is off is no error.
     *
     * @throws IllegalArgumentException if {@code index} is outside the device's IRQ indexes
     */
    void disable(int index);

    /**
     * {@code VFIO_DEVICE_SET_IRQS} with {@code DATA_EVENTFD | ACTION_UNMASK} for one
     * vector: signalling {@code fd} unmasks it in the host (INTx resampling: KVM
     * signals it when the guest ends the interrupt). {@code null} removes it.
     *
     * @throws IllegalArgumentException if the index is not maskable or {@code subIndex} is outside its count
     */
    void setUnmaskFd(int index, int subIndex, EventFd fd);

    /**
     * {@code VFIO_DEVICE_SET_IRQS} with {@code DATA_NONE | ACTION_MASK} ({@code mask})
     * or {@code ACTION_UNMASK} (not {@code mask}) for one vector.
     *
     * @throws IllegalArgumentException if the index is not maskable or {@code subIndex} is outside its count
     */
    void mask(int index, int subIndex, boolean mask);

    /**
     * {@code VFIO_DEVICE_RESET}: resets the device (an FLR or another reset method the host picked).
     * Interrupts are off afterwards.
     *
     * @throws VfioException if the device cannot be reset ({@link DeviceInfo#canReset()} false) or the host fails it
     */
    void reset();

    /**
     * {@code VFIO_IOMMU_MAP_DMA} (or {@code VFIO_USER_DMA_MAP}): lets the device reach
     * {@code region} by DMA. The memory must stay mapped until {@link #unmapDma}.
     *
     * @throws VfioException if the host or peer refuses (overlap, no IOMMU container, pinning limit)
     */
    void mapDma(DmaRegion region);

    /**
     * {@code VFIO_IOMMU_UNMAP_DMA}: removes a mapping made by {@link #mapDma} with the same
     * {@code iova} and {@code size}. Unmapping what is not mapped is no error.
     */
    void unmapDma(long iova, long size);

    /**
     * Releases the device (and, for the kernel, the group and container when no other
     * device uses them). Interrupts are disabled and DMA mappings dropped by the host.
     * Idempotent; no other method may be called afterwards.
     */
    @Override
    void close();

    private static void checkSize(int size) {
        if (size != 1 && size != 2 && size != 4 && size != 8) {
            throw new IllegalArgumentException("access size " + size + " is not 1, 2, 4 or 8");
        }
    }
}
