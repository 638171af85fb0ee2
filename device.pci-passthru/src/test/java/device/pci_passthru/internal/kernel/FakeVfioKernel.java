package device.pci_passthru.internal.kernel;

import static device.pci_passthru.internal.kernel.VfioAbi.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

import device.pci_passthru.vfio.VfioDevice;

/**
 * A fake of the kernel's VFIO at the system-call seam, written from
 * include/uapi/linux/vfio.h and vfio-pci's documented behaviour: it decodes the
 * very structs {@link VfioAbi} describes (argsz checks, the region-info capability
 * chain with the "argsz too small" round trip, SET_IRQS data, type1 DMA maps), and
 * enforces vfio-pci's rules (a group must be viable and in a container before
 * GET_DEVICE_FD, the IOMMU must be set before DMA maps, MSI/MSI-X cannot be
 * enabled while another interrupt type is on). Behind it sits one
 * {@link FakePciDevice}, with a sysfs and /dev tree under a temporary folder.
 */
public final class FakeVfioKernel implements VfioSys {
    /** Resolves an eventfd number to something the test can signal (the fake VM's eventfds). */
    private final IntFunction<Runnable> signaller;
    public final FakePciDevice device;
    public final Path root;
    public final String group;
    /** The device was unplugged (or its peer died): every device access fails with ENODEV. */
    public boolean gone;
    public boolean groupViable = true, groupBusy, deviceBusy, vfioPresent = true, boundToVfio = true;

    private final Map<Integer, Object> fds = new HashMap<>();
    private int nextFd = 100;
    private final Arena arena = Arena.ofShared();

    /** The container: its IOMMU and DMA maps. */
    public final class Container {
        boolean groupSet;
        int iommu;
        public final List<long[]> dmaMaps = new ArrayList<>(); // {vaddr, iova, size, flags}
    }

    private final class Group {
        Container container;
    }

    private final class DeviceFd {}

    /** Log of decoded SET_IRQS calls, e.g. "MSIX trigger start 0 fds [5, 6]". */
    public final List<String> irqLog = new ArrayList<>();
    /** The interrupt type vfio-pci has on: -1 none, else the IRQ index. */
    public int irqType = -1;
    public int[] triggerFds = new int[0];
    public int intxUnmaskFd = -1;
    public boolean intxMasked;
    public int resets;
    /** The interrupt type that was on at each reset (QEMU and we turn them off first). */
    public final List<Integer> irqTypeAtReset = new ArrayList<>();
    public Container container;

    public FakeVfioKernel(FakePciDevice device, IntFunction<Runnable> signaller) {
        this.device = device;
        this.signaller = signaller;
        this.group = "7";
        try {
            root = Files.createTempDirectory("fake-vfio");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes the sysfs and /dev tree as the flags say, and opens the device through {@link VfioHost}. */
    public VfioDevice open() {
        return host().open(HostPciAddress.parse(device.address));
    }

    public VfioHost host() {
        try {
            Path sys = root.resolve("sys"), dev = root.resolve("dev");
            Path devDir = sys.resolve("bus/pci/devices").resolve(device.address);
            Path groupDir = sys.resolve("kernel/iommu_groups").resolve(group);
            Files.createDirectories(devDir);
            Files.createDirectories(groupDir.resolve("devices"));
            Files.createDirectories(sys.resolve("bus/pci/drivers/vfio-pci"));
            Files.createDirectories(sys.resolve("bus/pci/drivers/e1000e"));
            link(devDir.resolve("iommu_group"), groupDir);
            link(groupDir.resolve("devices").resolve(device.address), devDir);
            link(devDir.resolve("driver"), sys.resolve("bus/pci/drivers").resolve(boundToVfio ? "vfio-pci" : "e1000e"));
            Files.createDirectories(dev.resolve("vfio"));
            if (vfioPresent) {
                touch(dev.resolve("vfio/vfio"));
                if (boundToVfio) touch(dev.resolve("vfio").resolve(group));
            }
            return new VfioHost(this, dev, sys);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void link(Path at, Path target) throws IOException {
        Files.deleteIfExists(at);
        Files.createSymbolicLink(at, target);
    }

    private static void touch(Path p) throws IOException {
        if (!Files.exists(p)) Files.createFile(p);
    }

    /** The descriptors still open (the test checks that failures leak none). */
    public int openFds() {
        return fds.size();
    }

    // --- VfioSys -----------------------------------------------------------------

    @Override
    public int open(String path) {
        Path p = Path.of(path);
        if (!Files.exists(p)) throw new SysException("open " + path, SysException.ENOENT);
        Object o;
        if (p.getFileName().toString().equals("vfio")) o = new Container();
        else if (p.getFileName().toString().equals(group)) {
            if (groupBusy) throw new SysException("open " + path, SysException.EBUSY);
            o = new Group();
        } else throw new SysException("open " + path, SysException.ENODEV);
        int fd = nextFd++;
        fds.put(fd, o);
        return fd;
    }

    @Override
    public int ioctl(int fd, long request, long value) {
        Object o = fds.get(fd);
        if (o == null) throw new SysException("ioctl", SysException.EBADF);
        if (o instanceof Container c) {
            if (request == VFIO_GET_API_VERSION) return VFIO_API_VERSION;
            if (request == VFIO_CHECK_EXTENSION) return value == VFIO_TYPE1v2_IOMMU || value == VFIO_TYPE1_IOMMU ? 1 : 0;
            if (request == VFIO_SET_IOMMU) {
                if (!c.groupSet) throw new SysException("VFIO_SET_IOMMU without a group", SysException.EINVAL);
                c.iommu = (int) value;
                container = c;
                return 0;
            }
        } else if (o instanceof Group g) {
            if (request == VFIO_GROUP_UNSET_CONTAINER) {
                if (g.container == null) throw new SysException("unset", SysException.EINVAL);
                g.container.groupSet = false;
                g.container = null;
                return 0;
            }
        } else if (o instanceof DeviceFd) {
            if (request == VFIO_DEVICE_RESET) {
                if (!device.canReset) throw new SysException("reset", SysException.EINVAL);
                resets++;
                irqTypeAtReset.add(irqType);
                device.reset();
                return 0;
            }
        }
        throw new SysException(String.format("ioctl 0x%x", request), SysException.ENOTTY);
    }

    @Override
    public int ioctl(int fd, long request, MemorySegment arg) {
        Object o = fds.get(fd);
        if (o == null) throw new SysException("ioctl", SysException.EBADF);
        MemorySegment a = arg.reinterpret(Long.MAX_VALUE);
        if (o instanceof Group g) {
            if (request == VFIO_GROUP_GET_STATUS) {
                argsz(a, VFIO_GROUP_STATUS.byteSize());
                a.set(JAVA_INT, 4, (groupViable ? VFIO_GROUP_FLAGS_VIABLE : 0) | (g.container != null ? VFIO_GROUP_FLAGS_CONTAINER_SET : 0));
                return 0;
            }
            if (request == VFIO_GROUP_SET_CONTAINER) {
                if (!groupViable) throw new SysException("set container", SysException.EPERM);
                Object c = fds.get(a.get(JAVA_INT, 0));
                if (!(c instanceof Container cc) || g.container != null) throw new SysException("set container", SysException.EINVAL);
                g.container = cc;
                cc.groupSet = true;
                return 0;
            }
            if (request == VFIO_GROUP_GET_DEVICE_FD) {
                String name = a.getString(0);
                if (g.container == null || g.container.iommu == 0) throw new SysException("get device fd", SysException.EINVAL);
                if (!name.equals(device.address)) throw new SysException("get device fd", SysException.ENODEV);
                if (deviceBusy) throw new SysException("get device fd", SysException.EBUSY);
                int dfd = nextFd++;
                fds.put(dfd, new DeviceFd());
                return dfd;
            }
        } else if (o instanceof Container c) {
            if (request == VFIO_IOMMU_MAP_DMA) {
                argsz(a, VFIO_IOMMU_TYPE1_DMA_MAP.byteSize());
                if (c.iommu == 0) throw new SysException("map dma", SysException.EINVAL);
                long vaddr = a.get(JAVA_LONG, 8), iova = a.get(JAVA_LONG, 16), size = a.get(JAVA_LONG, 24);
                int flags = a.get(JAVA_INT, 4);
                if (size == 0 || iova % 4096 != 0 || size % 4096 != 0 || vaddr % 4096 != 0) throw new SysException("map dma", SysException.EINVAL);
                for (long[] m : c.dmaMaps) if (iova < m[1] + m[2] && m[1] < iova + size) throw new SysException("map dma", SysException.EEXIST);
                c.dmaMaps.add(new long[] {vaddr, iova, size, flags});
                return 0;
            }
            if (request == VFIO_IOMMU_UNMAP_DMA) {
                argsz(a, VFIO_IOMMU_TYPE1_DMA_UNMAP.byteSize());
                long iova = a.get(JAVA_LONG, 8), size = a.get(JAVA_LONG, 16);
                c.dmaMaps.removeIf(m -> m[1] == iova && m[2] == size);
                return 0;
            }
        } else if (o instanceof DeviceFd) {
            if (gone) throw new SysException("ioctl", SysException.ENODEV);
            return deviceIoctl(request, a);
        }
        throw new SysException(String.format("ioctl 0x%x", request), SysException.ENOTTY);
    }

    private static void argsz(MemorySegment a, long minsz) {
        if (Integer.toUnsignedLong(a.get(JAVA_INT, 0)) < minsz) throw new SysException("argsz", SysException.EINVAL);
    }

    private int deviceIoctl(long request, MemorySegment a) {
        if (request == VFIO_DEVICE_GET_INFO) {
            argsz(a, 16);
            a.set(JAVA_INT, 4, VfioDevice.VFIO_DEVICE_FLAGS_PCI | (device.canReset ? VfioDevice.VFIO_DEVICE_FLAGS_RESET : 0));
            a.set(JAVA_INT, 8, VfioDevice.VFIO_PCI_NUM_REGIONS);
            a.set(JAVA_INT, 12, VfioDevice.VFIO_PCI_NUM_IRQS);
            return 0;
        }
        if (request == VFIO_DEVICE_GET_REGION_INFO) {
            argsz(a, VFIO_REGION_INFO.byteSize());
            int argsz = a.get(JAVA_INT, 0);
            int index = a.get(JAVA_INT, 8);
            if (index < 0 || index >= VfioDevice.VFIO_PCI_NUM_REGIONS) throw new SysException("region info", SysException.EINVAL);
            FakePciDevice.Region r = device.regions[index];
            int flags = r == null ? 0 : r.flags;
            a.set(JAVA_LONG, 16, r == null ? 0 : r.size);
            a.set(JAVA_LONG, 24, (long) index << 40); // VFIO_PCI_INDEX_TO_OFFSET
            a.set(JAVA_INT, 12, 0);
            if (r != null && r.sparse != null) {
                long capSize = VFIO_REGION_INFO_CAP_SPARSE_MMAP_LAYOUT.byteSize() + 16L * r.sparse.size();
                long needed = VFIO_REGION_INFO.byteSize() + capSize;
                flags |= VfioDevice.VFIO_REGION_INFO_FLAG_CAPS;
                if (argsz < needed) {
                    a.set(JAVA_INT, 0, (int) needed); // the kernel tells the caller how much room it needs
                } else {
                    long c = VFIO_REGION_INFO.byteSize();
                    a.set(JAVA_INT, 12, (int) c);
                    a.set(JAVA_SHORT, c, (short) VFIO_REGION_INFO_CAP_SPARSE_MMAP);
                    a.set(JAVA_SHORT, c + 2, (short) 1);
                    a.set(JAVA_INT, c + 4, 0);
                    a.set(JAVA_INT, c + 8, r.sparse.size());
                    for (int i = 0; i < r.sparse.size(); i++) {
                        a.set(JAVA_LONG, c + 16 + 16L * i, r.sparse.get(i)[0]);
                        a.set(JAVA_LONG, c + 24 + 16L * i, r.sparse.get(i)[1]);
                    }
                }
            }
            a.set(JAVA_INT, 4, flags);
            return 0;
        }
        if (request == VFIO_DEVICE_GET_IRQ_INFO) {
            argsz(a, VFIO_IRQ_INFO.byteSize());
            int index = a.get(JAVA_INT, 8);
            if (index < 0 || index >= VfioDevice.VFIO_PCI_NUM_IRQS) throw new SysException("irq info", SysException.EINVAL);
            a.set(JAVA_INT, 4, device.irqFlags[index]);
            a.set(JAVA_INT, 12, device.irqCounts[index]);
            return 0;
        }
        if (request == VFIO_DEVICE_SET_IRQS) return setIrqs(a);
        throw new SysException(String.format("ioctl 0x%x", request), SysException.ENOTTY);
    }

    private static final String[] INDEX = {"INTX", "MSI", "MSIX", "ERR", "REQ"};

    private int setIrqs(MemorySegment a) {
        argsz(a, VFIO_IRQ_SET.byteSize());
        int argsz = a.get(JAVA_INT, 0), flags = a.get(JAVA_INT, 4), index = a.get(JAVA_INT, 8), start = a.get(JAVA_INT, 12), count = a.get(JAVA_INT, 16);
        if (index < 0 || index > 2) throw new SysException("set irqs index", SysException.EINVAL);
        int data = flags & 7, action = flags & 0x38;
        if (Integer.bitCount(data) != 1 || Integer.bitCount(action) != 1) throw new SysException("set irqs flags", SysException.EINVAL);
        if (start < 0 || count < 0 || (long) start + count > device.irqCounts[index]) throw new SysException("set irqs range", SysException.EINVAL);
        int[] efds = new int[data == VFIO_IRQ_SET_DATA_EVENTFD ? count : 0];
        if (argsz < VFIO_IRQ_SET.byteSize() + 4L * efds.length) throw new SysException("set irqs argsz", SysException.EINVAL);
        for (int i = 0; i < efds.length; i++) efds[i] = a.get(JAVA_INT, VFIO_IRQ_SET.byteSize() + 4L * i);
        String what = action == VFIO_IRQ_SET_ACTION_TRIGGER ? "trigger" : action == VFIO_IRQ_SET_ACTION_UNMASK ? "unmask" : "mask";
        irqLog.add(INDEX[index] + " " + what + (data == VFIO_IRQ_SET_DATA_NONE ? " none" : "") + " start " + start
                + (efds.length > 0 ? " fds " + java.util.Arrays.toString(efds) : " count " + count));
        if (action == VFIO_IRQ_SET_ACTION_TRIGGER) {
            if (data == VFIO_IRQ_SET_DATA_NONE && count == 0) {
                if (irqType == index) {
                    irqType = -1;
                    triggerFds = new int[0];
                    intxUnmaskFd = -1;
                }
                return 0;
            }
            if (data != VFIO_IRQ_SET_DATA_EVENTFD) throw new SysException("set irqs", SysException.EINVAL);
            if (irqType != -1 && irqType != index) throw new SysException("set irqs: another type is on", SysException.EINVAL);
            if (irqType == -1) {
                irqType = index;
                triggerFds = new int[index == 0 ? 1 : start + count];
                java.util.Arrays.fill(triggerFds, -1);
                intxMasked = false;
            } else if (start + count > triggerFds.length) {
                throw new SysException("set irqs: resizing", SysException.EINVAL);
            }
            System.arraycopy(efds, 0, triggerFds, start, count);
            return 0;
        }
        if (index != 0 || irqType != 0) throw new SysException("mask/unmask of what is not INTx on", SysException.EINVAL);
        if (action == VFIO_IRQ_SET_ACTION_UNMASK && data == VFIO_IRQ_SET_DATA_EVENTFD) {
            intxUnmaskFd = efds[0];
            if (intxUnmaskFd >= 0) {
                Runnable unmask = () -> intxMasked = false;
                registerUnmask.accept(intxUnmaskFd, unmask);
            }
        } else if (action == VFIO_IRQ_SET_ACTION_UNMASK) {
            intxMasked = false;
        } else {
            intxMasked = true;
        }
        return 0;
    }

    /** How the fake learns to run code when an eventfd is signalled (the fake VM's eventfds support it). */
    public java.util.function.BiConsumer<Integer, Runnable> registerUnmask = (fd, r) -> {};

    /** The device raises vector {@code v} of the interrupt type that is on: its trigger eventfd is signalled. */
    public boolean fire(int index, int v) {
        if (irqType != index || v >= triggerFds.length || triggerFds[v] < 0) return false;
        if (index == 0) {
            if (intxMasked) return false;
            intxMasked = true; // INTx is automasked until unmasked (by the resample eventfd)
        }
        signaller.apply(triggerFds[v]).run();
        return true;
    }

    @Override
    public long pread(int fd, MemorySegment buf, long offset) {
        FakePciDevice.Region r = region(fd, offset, buf.byteSize());
        long off = offset & ((1L << 40) - 1);
        int index = (int) (offset >>> 40);
        if (index == VfioDevice.VFIO_PCI_CONFIG_REGION_INDEX) device.configRead(off, buf);
        else MemorySegment.copy(r.backing, off, buf, 0, buf.byteSize());
        return buf.byteSize();
    }

    @Override
    public long pwrite(int fd, MemorySegment buf, long offset) {
        FakePciDevice.Region r = region(fd, offset, buf.byteSize());
        if ((r.flags & VfioDevice.VFIO_REGION_INFO_FLAG_WRITE) == 0) throw new SysException("pwrite", SysException.EINVAL);
        long off = offset & ((1L << 40) - 1);
        int index = (int) (offset >>> 40);
        if (index == VfioDevice.VFIO_PCI_CONFIG_REGION_INDEX) device.configWrite(off, buf);
        else MemorySegment.copy(buf, 0, r.backing, off, buf.byteSize());
        device.accesses.add((index == VfioDevice.VFIO_PCI_CONFIG_REGION_INDEX ? "config" : "region " + index) + " write @0x"
                + Long.toHexString(off) + "/" + buf.byteSize());
        return buf.byteSize();
    }

    private FakePciDevice.Region region(int fd, long offset, long len) {
        if (gone) throw new SysException("rw", SysException.ENODEV);
        if (!(fds.get(fd) instanceof DeviceFd)) throw new SysException("rw", SysException.EBADF);
        int index = (int) (offset >>> 40);
        long off = offset & ((1L << 40) - 1);
        if (index < 0 || index >= VfioDevice.VFIO_PCI_NUM_REGIONS || device.regions[index] == null) throw new SysException("rw", SysException.EINVAL);
        FakePciDevice.Region r = device.regions[index];
        if (off + len > r.size) throw new SysException("rw past the region", SysException.EINVAL);
        return r;
    }

    @Override
    public MemorySegment mmap(int fd, long offset, long length) {
        FakePciDevice.Region r = region(fd, offset, length);
        long off = offset & ((1L << 40) - 1);
        if ((r.flags & VfioDevice.VFIO_REGION_INFO_FLAG_MMAP) == 0 || off % 4096 != 0) throw new SysException("mmap", SysException.EINVAL);
        if (r.sparse != null && r.sparse.stream().noneMatch(s -> off >= s[0] && off + length <= s[0] + s[1]))
            throw new SysException("mmap outside the sparse areas", SysException.EINVAL);
        device.mmaps.add(new long[] {offset >>> 40, off, length});
        return r.backing.asSlice(off, length);
    }

    @Override
    public void munmap(MemorySegment mapping) {
        device.munmaps++;
    }

    @Override
    public void close(int fd) {
        Object o = fds.remove(fd);
        if (o instanceof Group g && g.container != null) {
            g.container.groupSet = false;
            g.container = null;
        }
        if (o instanceof DeviceFd) {
            irqType = -1;
            triggerFds = new int[0];
        }
    }

    /** Unused bytes from the arena are freed with the test's JVM; the fake keeps them for mmaps. */
    Arena arena() {
        return arena;
    }

    static byte[] bytes(MemorySegment s) {
        return s.toArray(JAVA_BYTE);
    }
}
