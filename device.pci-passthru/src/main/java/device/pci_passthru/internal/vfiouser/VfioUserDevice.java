package device.pci_passthru.internal.vfiouser;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

import device.pci_passthru.internal.CheckedVfioDevice;
import device.pci_passthru.vfio.DeviceInfo;
import device.pci_passthru.vfio.DmaRegion;
import device.pci_passthru.vfio.IrqInfo;
import device.pci_passthru.vfio.MappedArea;
import device.pci_passthru.vfio.RegionInfo;
import device.pci_passthru.vfio.VfioDevice;
import device.pci_passthru.vfio.VfioException;
import vmm.core.hypervisor.EventFd;
import vmm.core.linux.Native;
import vmm.vfiouser.VfioUser;
import vmm.vfiouser.VfioUserClient;
import vmm.vfiouser.VfioUserException;

/**
 * A device another process serves over vfio-user, as a {@link VfioDevice}: every
 * operation is a request on the {@link VfioUserClient}'s socket; DMA hands the
 * server the memfd of guest RAM (never a host address); a region the server
 * offers with a file descriptor is mmap'd from it. The peer is not trusted: its
 * info is checked as the kernel's is, and a lost connection is a
 * {@link VfioException} the passthrough function turns into a disabled device.
 */
final class VfioUserDevice extends CheckedVfioDevice {
    private final VfioUserClient client;
    private final int[] regionFds;
    private final long[] regionMmapOffsets;
    private final AtomicBoolean closed = new AtomicBoolean();

    VfioUserDevice(VfioUserClient client, String name) {
        super(name);
        this.client = client;
        try {
            vmm.vfiouser.DeviceInfo d = client.deviceInfo();
            DeviceInfo info = new DeviceInfo(d.flags(), d.numRegions(), d.numIrqs());
            if (!info.isPci() || info.numRegions() <= VFIO_PCI_CONFIG_REGION_INDEX || info.numRegions() > 64
                    || info.numIrqs() <= VFIO_PCI_MSIX_IRQ_INDEX || info.numIrqs() > 64)
                throw new VfioException(name + ": the server offers no PCI device (flags 0x" + Integer.toHexString(d.flags()) + ", "
                        + d.numRegions() + " regions, " + d.numIrqs() + " IRQ types)");
            RegionInfo[] regions = new RegionInfo[info.numRegions()];
            regionFds = new int[info.numRegions()];
            regionMmapOffsets = new long[info.numRegions()];
            java.util.Arrays.fill(regionFds, -1);
            for (int i = 0; i < regions.length; i++) {
                vmm.vfiouser.RegionInfo r = client.regionInfo(i);
                if (r.size() < 0 || r.offset() < 0 || r.offset() + r.size() < 0) {
                    if (r.fd() >= 0) Native.close(r.fd());
                    throw new VfioException(name + ": region " + i + " has size " + r.size() + " at mmap offset " + r.offset());
                }
                boolean mmap = r.mappable() && r.offset() % PAGE == 0;
                if (r.fd() >= 0 && !mmap) Native.close(r.fd());
                regionFds[i] = mmap ? r.fd() : -1;
                regionMmapOffsets[i] = r.offset();
                int flags = r.flags() & (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE) | (mmap ? VFIO_REGION_INFO_FLAG_MMAP : 0);
                regions[i] = new RegionInfo(i, flags, r.size(), List.of());
            }
            IrqInfo[] irqs = new IrqInfo[info.numIrqs()];
            for (int i = 0; i < irqs.length; i++) {
                vmm.vfiouser.IrqInfo q = client.irqInfo(i);
                if (q.count() < 0 || q.count() > 2048) throw new VfioException(name + ": IRQ type " + i + " has " + q.count() + " vectors");
                irqs[i] = new IrqInfo(i, q.flags(), q.count());
            }
            describe(info, regions, irqs);
        } catch (VfioUserException e) {
            close();
            throw wrap("asking for the device's info", e);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** One request to the server; what it was for names a failure. */
    @FunctionalInterface
    private interface Request {
        void send() throws VfioUserException;
    }

    /** Sends {@code r}; a failure is a {@link VfioException} naming the device and {@code what}. */
    private void request(java.util.function.Supplier<String> what, Request r) {
        try {
            r.send();
        } catch (VfioUserException e) {
            throw wrap(what.get(), e);
        }
    }

    private VfioException wrap(String what, VfioUserException e) {
        return new VfioException(name + ": " + what + ": " + e.getMessage() + (e.connectionLost() ? " (the server is gone)" : ""), e.errno(), e);
    }

    @Override
    public void read(int index, long offset, byte[] dst, int dstOffset, int length) {
        checkAccess(index, offset, dst, dstOffset, length, false);
        request(() -> "read of region " + index + " at " + offset, () -> {
            byte[] b = client.regionRead(index, offset, length);
            if (b.length != length) throw new VfioException(name + ": read of " + length + " bytes returned " + b.length);
            System.arraycopy(b, 0, dst, dstOffset, length);
        });
    }

    @Override
    public void write(int index, long offset, byte[] src, int srcOffset, int length) {
        checkAccess(index, offset, src, srcOffset, length, true);
        request(() -> "write of region " + index + " at " + offset,
                () -> client.regionWrite(index, offset, java.util.Arrays.copyOfRange(src, srcOffset, srcOffset + length)));
    }

    @Override
    public Optional<MappedArea> map(int index, long offset, long length) {
        RegionInfo r = checkMap(index, offset, length);
        if (!r.mappable(offset, length) || regionFds[index] < 0) return Optional.empty();
        MemorySegment m;
        try {
            m = Native.mmapShared(regionFds[index], regionMmapOffsets[index] + offset, length);
        } catch (IOException e) {
            throw new VfioException(name + ": mmap of region " + index + ": " + e.getMessage(), e);
        }
        return Optional.of(mapped(m, Native::munmap));
    }

    @Override
    public void setTriggers(int index, int start, List<EventFd> fds) {
        int[] n = checkTriggers(index, start, fds);
        request(() -> "SET_IRQS trigger of IRQ type " + index, () -> client.setIrqEventfds(index, start, n));
    }

    @Override
    public void disable(int index) {
        irqInfo(index);
        request(() -> "SET_IRQS disable of IRQ type " + index, () -> client.disableIrqs(index));
    }

    @Override
    public void setUnmaskFd(int index, int subIndex, EventFd fd) {
        checkMaskable(index, subIndex);
        request(() -> "SET_IRQS unmask eventfd of IRQ type " + index, () -> {
            // No descriptor can be sent for "none": the server drops the unmask eventfd when the index is disabled.
            if (fd != null)
                client.setIrqs(index, VfioUser.VFIO_IRQ_SET_DATA_EVENTFD | VfioUser.VFIO_IRQ_SET_ACTION_UNMASK, subIndex, 1, new byte[0], fd.fd());
        });
    }

    @Override
    public void mask(int index, int subIndex, boolean mask) {
        checkMaskable(index, subIndex);
        request(() -> "SET_IRQS mask of IRQ type " + index, () -> client.maskIrq(index, subIndex, mask));
    }

    @Override
    public void reset() {
        if (!info().canReset()) throw new VfioException(name + ": the server's device cannot be reset");
        request(() -> "reset", client::reset);
    }

    @Override
    public void mapDma(DmaRegion region) {
        if (region.fd() < 0)
            throw new VfioException(name + ": guest RAM at 0x" + Long.toHexString(region.iova()) + " has no file descriptor to share with a vfio-user server");
        request(() -> "DMA map of 0x" + Long.toHexString(region.iova()),
                () -> client.dmaMap(region.iova(), region.size(), region.fd(), region.fdOffset(), region.writable()));
    }

    @Override
    public void unmapDma(long iova, long size) {
        request(() -> "DMA unmap of 0x" + Long.toHexString(iova), () -> client.dmaUnmap(iova, size));
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) return;
        if (regionFds != null) for (int fd : regionFds) if (fd >= 0) Native.close(fd);
        client.close();
    }
}
