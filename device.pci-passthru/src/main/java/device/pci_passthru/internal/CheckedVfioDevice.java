package device.pci_passthru.internal;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

import device.pci_passthru.vfio.DeviceInfo;
import device.pci_passthru.vfio.IrqInfo;
import device.pci_passthru.vfio.MappedArea;
import device.pci_passthru.vfio.RegionInfo;
import device.pci_passthru.vfio.VfioDevice;
import vmm.core.hypervisor.EventFd;

/**
 * What every {@link VfioDevice} transport shares: the device's name and its checked info, regions and IRQ indexes,
 * and the argument checks made before a request reaches the kernel or the vfio-user server, so both transports
 * refuse the same things with the same words. A transport reads its tables in its constructor and hands them to
 * {@link #describe} before it serves anything.
 */
public abstract class CheckedVfioDevice implements VfioDevice {
    /** The mmap granule. */
    protected static final long PAGE = 4096;

    protected final String name;
    private DeviceInfo info;
    private RegionInfo[] regions;
    private IrqInfo[] irqs;

    protected CheckedVfioDevice(String name) {
        this.name = Objects.requireNonNull(name, "name");
    }

    /** Sets the device's tables, once, from the transport's constructor after it checked them. */
    protected final void describe(DeviceInfo info, RegionInfo[] regions, IrqInfo[] irqs) {
        if (this.info != null) throw new IllegalStateException(name + ": described twice");
        this.info = info;
        this.regions = regions;
        this.irqs = irqs;
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final DeviceInfo info() {
        return info;
    }

    @Override
    public final RegionInfo regionInfo(int index) {
        return RegionChecks.region(name, regions, index);
    }

    @Override
    public final IrqInfo irqInfo(int index) {
        if (index < 0 || index >= irqs.length)
            throw new IllegalArgumentException(name + ": IRQ index " + index + " outside [0, " + irqs.length + ")");
        return irqs[index];
    }

    /**
     * Checks a read or write of {@code length} bytes at {@code offset} of region {@code index} through
     * {@code buf[bufOffset, +length)}.
     *
     * @throws IndexOutOfBoundsException when the range leaves {@code buf}
     * @throws IllegalArgumentException  when the region does not allow it or the range leaves the region
     */
    protected final void checkAccess(int index, long offset, byte[] buf, int bufOffset, int length, boolean write) {
        Objects.checkFromIndexSize(bufOffset, length, buf.length);
        RegionChecks.range(name, regions, index, offset, length, write);
    }

    /**
     * Checks an mmap of {@code [offset, +length)} of region {@code index} and returns the region.
     *
     * @throws IllegalArgumentException when the range is not whole pages inside the region (overflow included)
     */
    protected final RegionInfo checkMap(int index, long offset, long length) {
        RegionInfo r = regionInfo(index);
        if (offset % PAGE != 0 || length % PAGE != 0 || offset < 0 || length <= 0 || offset + length < 0
                || offset + length > r.size())
            throw new IllegalArgumentException(name + ": mmap of [" + offset + ", +" + length + ") of region " + index
                    + " is not whole pages inside its " + r.size() + " bytes");
        return r;
    }

    /**
     * Checks that {@code fds} may trigger vectors {@code [start, +fds.size())} of IRQ index {@code index} and returns
     * their descriptors, -1 for a null (that vector's trigger is dropped).
     *
     * @throws IllegalArgumentException when the index cannot signal eventfds or the vectors leave it
     */
    protected final int[] checkTriggers(int index, int start, List<EventFd> fds) {
        IrqInfo i = irqInfo(index);
        if (!i.eventfd()) throw new IllegalArgumentException(name + ": IRQ index " + index + " cannot signal eventfds");
        if (fds.isEmpty() || start < 0 || start > i.count() - fds.size())
            throw new IllegalArgumentException(name + ": vectors [" + start + ", +" + fds.size() + ") outside IRQ index "
                    + index + "'s " + i.count());
        int[] data = new int[fds.size()];
        for (int k = 0; k < data.length; k++) data[k] = fds.get(k) == null ? -1 : fds.get(k).fd();
        return data;
    }

    /**
     * Checks that vector {@code subIndex} of IRQ index {@code index} may be masked.
     *
     * @throws IllegalArgumentException when the index is not maskable or has no such vector
     */
    protected final void checkMaskable(int index, int subIndex) {
        IrqInfo i = irqInfo(index);
        if (!i.maskable()) throw new IllegalArgumentException(name + ": IRQ index " + index + " is not maskable");
        if (subIndex < 0 || subIndex >= i.count())
            throw new IllegalArgumentException(name + ": vector " + subIndex + " outside IRQ index " + index + "'s "
                    + i.count());
    }

    /** {@code m} as a {@link MappedArea} whose first close runs {@code unmap}; later closes do nothing. */
    protected static MappedArea mapped(MemorySegment m, Consumer<MemorySegment> unmap) {
        AtomicBoolean unmapped = new AtomicBoolean();
        return new MappedArea() {
            @Override public MemorySegment segment() {
                return m;
            }

            @Override public void close() {
                if (unmapped.compareAndSet(false, true)) unmap.accept(m);
            }
        };
    }

    @Override
    public String toString() {
        return name;
    }
}
