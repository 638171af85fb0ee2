package device.pci_passthru.internal.kernel;

import static device.pci_passthru.internal.kernel.VfioAbi.*;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

import device.pci_passthru.internal.CheckedVfioDevice;
import device.pci_passthru.vfio.DeviceInfo;
import device.pci_passthru.vfio.DmaRegion;
import device.pci_passthru.vfio.IrqInfo;
import device.pci_passthru.vfio.MappedArea;
import device.pci_passthru.vfio.RegionInfo;
import device.pci_passthru.vfio.SparseArea;
import device.pci_passthru.vfio.VfioException;
import vmm.core.hypervisor.EventFd;

/**
 * A device bound to the kernel's vfio-pci: the device fd, with its group and
 * type1 container, driven through {@link VfioSys}. Opened by {@link VfioHost}.
 * Every value the kernel returns is checked before use (a region or capability
 * chain that does not fit is refused, never followed).
 */
final class KernelVfioDevice extends CheckedVfioDevice {
    /** The largest region info with capabilities we accept; real ones are a few hundred bytes. */
    private static final int MAX_REGION_INFO = 64 * 1024;
    /** The most vectors one SET_IRQS may carry (MSI-X's limit). */
    private static final int MAX_IRQ_SET = 2048;

    private final VfioSys sys;
    private final int container, group, device;
    private final long[] regionOffsets;
    private final AtomicBoolean closed = new AtomicBoolean();

    KernelVfioDevice(VfioSys sys, String name, int container, int group, int device) {
        super(name);
        this.sys = sys;
        this.container = container;
        this.group = group;
        this.device = device;
        DeviceInfo info = readDeviceInfo();
        if (!info.isPci())
            throw new VfioException(name + ": VFIO reports a device that is not PCI (flags 0x" + Integer.toHexString(info.flags()) + ")");
        if (info.numRegions() <= VFIO_PCI_CONFIG_REGION_INDEX || info.numRegions() > 64)
            throw new VfioException(name + ": VFIO reports " + info.numRegions() + " regions; a PCI device has 9 or a few more");
        if (info.numIrqs() <= VFIO_PCI_MSIX_IRQ_INDEX || info.numIrqs() > 64)
            throw new VfioException(name + ": VFIO reports " + info.numIrqs() + " IRQ indexes; a PCI device has 5 or a few more");
        RegionInfo[] regions = new RegionInfo[info.numRegions()];
        regionOffsets = new long[info.numRegions()];
        for (int i = 0; i < regions.length; i++) regions[i] = readRegionInfo(i);
        IrqInfo[] irqs = new IrqInfo[info.numIrqs()];
        for (int i = 0; i < irqs.length; i++) irqs[i] = readIrqInfo(i);
        describe(info, regions, irqs);
    }

    private DeviceInfo readDeviceInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(VFIO_DEVICE_INFO);
            s.set(JAVA_INT, off(VFIO_DEVICE_INFO, "argsz"), (int) VFIO_DEVICE_INFO.byteSize());
            ioctl(device, VFIO_DEVICE_GET_INFO, s, "VFIO_DEVICE_GET_INFO");
            return new DeviceInfo(s.get(JAVA_INT, off(VFIO_DEVICE_INFO, "flags")),
                    s.get(JAVA_INT, off(VFIO_DEVICE_INFO, "num_regions")), s.get(JAVA_INT, off(VFIO_DEVICE_INFO, "num_irqs")));
        }
    }

    private RegionInfo readRegionInfo(int index) {
        int argsz = (int) VFIO_REGION_INFO.byteSize();
        for (int attempt = 0; attempt < 2; attempt++) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment s = a.allocate(argsz, 8);
                s.set(JAVA_INT, off(VFIO_REGION_INFO, "argsz"), argsz);
                s.set(JAVA_INT, off(VFIO_REGION_INFO, "index"), index);
                ioctl(device, VFIO_DEVICE_GET_REGION_INFO, s, "VFIO_DEVICE_GET_REGION_INFO(" + index + ")");
                int needed = s.get(JAVA_INT, off(VFIO_REGION_INFO, "argsz"));
                int flags = s.get(JAVA_INT, off(VFIO_REGION_INFO, "flags"));
                if (needed > argsz && attempt == 0) {
                    // The capability chain did not fit: the kernel said how much room it needs.
                    if (needed > MAX_REGION_INFO)
                        throw new VfioException(name + ": region " + index + " info of " + needed + " bytes is implausible");
                    argsz = needed;
                    continue;
                }
                long size = s.get(JAVA_LONG, off(VFIO_REGION_INFO, "size"));
                long offset = s.get(JAVA_LONG, off(VFIO_REGION_INFO, "offset"));
                if (size < 0 || offset < 0 || offset + size < 0)
                    throw new VfioException(name + ": region " + index + " has size " + size + " at offset " + offset);
                List<SparseArea> sparse = new ArrayList<>();
                if ((flags & VFIO_REGION_INFO_FLAG_CAPS) != 0) {
                    int capOffset = s.get(JAVA_INT, off(VFIO_REGION_INFO, "cap_offset"));
                    readSparseAreas(s, Math.min(argsz, needed), capOffset, index, size, sparse);
                }
                regionOffsets[index] = offset;
                return new RegionInfo(index, flags & ~VFIO_REGION_INFO_FLAG_CAPS, size, sparse);
            }
        }
        throw new VfioException(name + ": region " + index + " info keeps growing");
    }

    /** Walks the capability chain inside {@code [0, limit)} of {@code s}, bounded in steps, for the sparse mmap areas. */
    private void readSparseAreas(MemorySegment s, int limit, int capOffset, int index, long regionSize, List<SparseArea> out) {
        long hdr = VFIO_INFO_CAP_HEADER.byteSize();
        int next = capOffset;
        for (int steps = 0; next != 0 && steps < 32; steps++) {
            if (next < VFIO_REGION_INFO.byteSize() || next % 4 != 0 || next + hdr > limit)
                throw new VfioException(name + ": region " + index + " capability at " + next + " lies outside the info");
            int id = Short.toUnsignedInt(s.get(JAVA_SHORT, next + off(VFIO_INFO_CAP_HEADER, "id")));
            int following = s.get(JAVA_INT, next + off(VFIO_INFO_CAP_HEADER, "next"));
            if (id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
                long areasAt = next + VFIO_REGION_INFO_CAP_SPARSE_MMAP_LAYOUT.byteSize();
                if (areasAt > limit) throw new VfioException(name + ": region " + index + " sparse mmap capability is cut short");
                long nr = Integer.toUnsignedLong(s.get(JAVA_INT, next + off(VFIO_REGION_INFO_CAP_SPARSE_MMAP_LAYOUT, "nr_areas")));
                long areaSize = VFIO_REGION_SPARSE_MMAP_AREA.byteSize();
                if (nr > (limit - areasAt) / areaSize)
                    throw new VfioException(name + ": region " + index + " claims " + nr + " sparse mmap areas, more than its info holds");
                for (long i = 0; i < nr; i++) {
                    long o = s.get(JAVA_LONG, areasAt + i * areaSize + off(VFIO_REGION_SPARSE_MMAP_AREA, "offset"));
                    long z = s.get(JAVA_LONG, areasAt + i * areaSize + off(VFIO_REGION_SPARSE_MMAP_AREA, "size"));
                    if (o < 0 || z < 0 || o + z < 0 || o + z > regionSize)
                        throw new VfioException(name + ": region " + index + " sparse area [" + o + ", +" + z + ") leaves the region");
                    if (z > 0) out.add(new SparseArea(o, z));
                }
            }
            next = following;
        }
    }

    private IrqInfo readIrqInfo(int index) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(VFIO_IRQ_INFO);
            s.set(JAVA_INT, off(VFIO_IRQ_INFO, "argsz"), (int) VFIO_IRQ_INFO.byteSize());
            s.set(JAVA_INT, off(VFIO_IRQ_INFO, "index"), index);
            ioctl(device, VFIO_DEVICE_GET_IRQ_INFO, s, "VFIO_DEVICE_GET_IRQ_INFO(" + index + ")");
            int count = s.get(JAVA_INT, off(VFIO_IRQ_INFO, "count"));
            if (count < 0 || count > MAX_IRQ_SET)
                throw new VfioException(name + ": IRQ index " + index + " has " + Integer.toUnsignedString(count) + " vectors");
            return new IrqInfo(index, s.get(JAVA_INT, off(VFIO_IRQ_INFO, "flags")), count);
        }
    }

    @Override
    public void read(int index, long offset, byte[] dst, int dstOffset, int length) {
        checkAccess(index, offset, dst, dstOffset, length, false);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(Math.max(1, length));
            long n = sys.pread(device, buf.asSlice(0, length), regionOffsets[index] + offset);
            if (n != length) throw new VfioException(name + ": read of " + length + " bytes at " + offset + " of region " + index + " returned " + n);
            MemorySegment.copy(buf, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, dst, dstOffset, length);
        } catch (SysException e) {
            throw new VfioException(name + ": read of region " + index + " at " + offset + ": " + e.getMessage(), e.errno, e);
        }
    }

    @Override
    public void write(int index, long offset, byte[] src, int srcOffset, int length) {
        checkAccess(index, offset, src, srcOffset, length, true);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(Math.max(1, length));
            MemorySegment.copy(src, srcOffset, buf, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, length);
            long n = sys.pwrite(device, buf.asSlice(0, length), regionOffsets[index] + offset);
            if (n != length) throw new VfioException(name + ": write of " + length + " bytes at " + offset + " of region " + index + " took " + n);
        } catch (SysException e) {
            throw new VfioException(name + ": write of region " + index + " at " + offset + ": " + e.getMessage(), e.errno, e);
        }
    }

    @Override
    public Optional<MappedArea> map(int index, long offset, long length) {
        RegionInfo r = checkMap(index, offset, length);
        if (!r.mappable(offset, length)) return Optional.empty();
        MemorySegment m;
        try {
            m = sys.mmap(device, regionOffsets[index] + offset, length);
        } catch (SysException e) {
            throw new VfioException(name + ": mmap of region " + index + " at " + offset + ": " + e.getMessage(), e.errno, e);
        }
        return Optional.of(mapped(m, sys::munmap));
    }

    @Override
    public void setTriggers(int index, int start, List<EventFd> fds) {
        int[] data = checkTriggers(index, start, fds);
        setIrqs(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index, start, data);
    }

    @Override
    public void disable(int index) {
        irqInfo(index);
        setIrqs(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, new int[0]);
    }

    @Override
    public void setUnmaskFd(int index, int subIndex, EventFd fd) {
        checkMaskable(index, subIndex);
        setIrqs(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, index, subIndex, new int[] {fd == null ? -1 : fd.fd()});
    }

    @Override
    public void mask(int index, int subIndex, boolean mask) {
        checkMaskable(index, subIndex);
        // DATA_NONE carries no data, but count says which vectors: one.
        setIrqs(VFIO_IRQ_SET_DATA_NONE | (mask ? VFIO_IRQ_SET_ACTION_MASK : VFIO_IRQ_SET_ACTION_UNMASK), index, subIndex, null);
    }

    /** One {@code VFIO_DEVICE_SET_IRQS}; {@code data} null means one vector with no data. */
    private void setIrqs(int flags, int index, int start, int[] data) {
        int count = data == null ? 1 : data.length;
        long size = VFIO_IRQ_SET.byteSize() + (data == null ? 0 : 4L * data.length);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(size, 4);
            s.set(JAVA_INT, off(VFIO_IRQ_SET, "argsz"), (int) size);
            s.set(JAVA_INT, off(VFIO_IRQ_SET, "flags"), flags);
            s.set(JAVA_INT, off(VFIO_IRQ_SET, "index"), index);
            s.set(JAVA_INT, off(VFIO_IRQ_SET, "start"), start);
            s.set(JAVA_INT, off(VFIO_IRQ_SET, "count"), count);
            if (data != null) for (int k = 0; k < data.length; k++) s.set(JAVA_INT, VFIO_IRQ_SET.byteSize() + 4L * k, data[k]);
            ioctl(device, VFIO_DEVICE_SET_IRQS, s, "VFIO_DEVICE_SET_IRQS(index " + index + ")");
        }
    }

    @Override
    public void reset() {
        if (!info().canReset()) throw new VfioException(name + ": the device has no reset method VFIO can use (no FLR, PM or bus reset)");
        try {
            sys.ioctl(device, VFIO_DEVICE_RESET, 0L);
        } catch (SysException e) {
            throw new VfioException(name + ": VFIO_DEVICE_RESET: " + e.getMessage(), e.errno, e);
        }
    }

    @Override
    public void mapDma(DmaRegion region) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(VFIO_IOMMU_TYPE1_DMA_MAP);
            s.set(JAVA_INT, off(VFIO_IOMMU_TYPE1_DMA_MAP, "argsz"), (int) VFIO_IOMMU_TYPE1_DMA_MAP.byteSize());
            s.set(JAVA_INT, off(VFIO_IOMMU_TYPE1_DMA_MAP, "flags"), VFIO_DMA_MAP_FLAG_READ | (region.writable() ? VFIO_DMA_MAP_FLAG_WRITE : 0));
            s.set(JAVA_LONG, off(VFIO_IOMMU_TYPE1_DMA_MAP, "vaddr"), region.hostAddress());
            s.set(JAVA_LONG, off(VFIO_IOMMU_TYPE1_DMA_MAP, "iova"), region.iova());
            s.set(JAVA_LONG, off(VFIO_IOMMU_TYPE1_DMA_MAP, "size"), region.size());
            ioctl(container, VFIO_IOMMU_MAP_DMA, s, String.format("VFIO_IOMMU_MAP_DMA(iova 0x%x, 0x%x bytes)", region.iova(), region.size()));
        }
    }

    @Override
    public void unmapDma(long iova, long size) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(VFIO_IOMMU_TYPE1_DMA_UNMAP);
            s.set(JAVA_INT, off(VFIO_IOMMU_TYPE1_DMA_UNMAP, "argsz"), (int) VFIO_IOMMU_TYPE1_DMA_UNMAP.byteSize());
            s.set(JAVA_LONG, off(VFIO_IOMMU_TYPE1_DMA_UNMAP, "iova"), iova);
            s.set(JAVA_LONG, off(VFIO_IOMMU_TYPE1_DMA_UNMAP, "size"), size);
            ioctl(container, VFIO_IOMMU_UNMAP_DMA, s, String.format("VFIO_IOMMU_UNMAP_DMA(iova 0x%x)", iova));
        }
    }

    private void ioctl(int fd, long request, MemorySegment arg, String what) {
        try {
            sys.ioctl(fd, request, arg);
        } catch (SysException e) {
            throw new VfioException(name + ": " + what + ": " + SysException.name(e.errno), e.errno, e);
        }
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) return;
        sys.close(device);
        try {
            sys.ioctl(group, VFIO_GROUP_UNSET_CONTAINER, 0L);
        } catch (SysException e) {
            // closing the group below detaches it anyway
        }
        sys.close(group);
        sys.close(container);
    }

    @Override
    public String toString() {
        return "vfio-pci " + name;
    }
}
