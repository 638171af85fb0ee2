package device.pci_passthru.internal.kernel;

import static device.pci_passthru.internal.kernel.VfioAbi.*;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import device.pci_passthru.vfio.VfioException;

/**
 * Opens a host PCI function through the kernel's VFIO: checks the host's
 * setup in sysfs and {@code /dev/vfio} first, so that each thing missing is
 * one message saying what and how to fix it, then container (type1 IOMMU),
 * group and device fd.
 */
public final class VfioHost {
    private final VfioSys sys;
    private final Path dev, sys_;

    /** The host's own {@code /dev} and {@code /sys}, through libc. */
    public static VfioHost linux() {
        return new VfioHost(new LinuxVfioSys(), Path.of("/dev"), Path.of("/sys"));
    }

    VfioHost(VfioSys sys, Path dev, Path sysfs) {
        this.sys = sys;
        this.dev = dev;
        this.sys_ = sysfs;
    }

    /** What to type to give {@code a} to vfio-pci. */
    public static String bindingHelp(HostPciAddress a) {
        return "bind it to vfio-pci first (as root): modprobe vfio-pci; echo vfio-pci > /sys/bus/pci/devices/" + a
                + "/driver_override; echo " + a + " > /sys/bus/pci/devices/" + a + "/driver/unbind (if it has a driver); echo " + a
                + " > /sys/bus/pci/drivers_probe";
    }

    /**
     * Opens {@code a}.
     *
     * @throws VfioException saying what is missing (VFIO, the device, its IOMMU group, the vfio-pci binding,
     *                       a viable group) or that the device is in use, and how to fix it
     */
    public device.pci_passthru.vfio.VfioDevice open(HostPciAddress a) {
        Path device = sys_.resolve("bus/pci/devices").resolve(a.toString());
        if (!Files.exists(device))
            throw new VfioException("host PCI device " + a + " does not exist on this host (lspci -D lists the devices there are)");
        Path containerPath = dev.resolve("vfio/vfio");
        if (!Files.exists(containerPath))
            throw new VfioException("this host has no VFIO (" + containerPath + " is missing): load it with modprobe vfio-pci "
                    + "(the kernel needs CONFIG_VFIO_PCI and an IOMMU), then " + bindingHelp(a));
        Path groupLink = device.resolve("iommu_group");
        if (!Files.exists(groupLink))
            throw new VfioException("host PCI device " + a + " has no IOMMU group: turn the IOMMU on (intel_iommu=on or amd_iommu=on "
                    + "on the kernel command line, VT-d/AMD-Vi in the firmware)");
        String groupId = link(groupLink);
        String driver = Files.exists(device.resolve("driver")) ? link(device.resolve("driver")) : null;
        if (!"vfio-pci".equals(driver))
            throw new VfioException("host PCI device " + a + " is " + (driver == null ? "bound to no driver" : "bound to " + driver)
                    + ", not vfio-pci: " + bindingHelp(a));
        Path groupPath = dev.resolve("vfio").resolve(groupId);
        if (!Files.exists(groupPath))
            throw new VfioException(groupPath + " is missing although " + a + " is bound to vfio-pci: reload vfio-pci, or " + bindingHelp(a));

        int container = -1, group = -1, fd = -1;
        try {
            container = open(containerPath, a);
            int version = sys.ioctl(container, VFIO_GET_API_VERSION, 0L);
            if (version != VFIO_API_VERSION)
                throw new VfioException("this host's VFIO has API version " + version + "; this VMM speaks " + VFIO_API_VERSION);
            int iommu = sys.ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0 ? VFIO_TYPE1v2_IOMMU
                    : sys.ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) > 0 ? VFIO_TYPE1_IOMMU : -1;
            if (iommu < 0)
                throw new VfioException("this host's VFIO offers no type1 IOMMU (modprobe vfio_iommu_type1)");
            try {
                group = sys.open(groupPath.toString());
            } catch (SysException e) {
                if (e.errno == SysException.EBUSY)
                    throw new VfioException("IOMMU group " + groupId + " of " + a + " is already in use (another VMM or process has "
                            + groupPath + " open)", e.errno, e);
                throw new VfioException("cannot open " + groupPath + ": " + e.getMessage() + " (run as root or give this user the group file)", e.errno, e);
            }
            try (Arena ar = Arena.ofConfined()) {
                MemorySegment status = ar.allocate(VFIO_GROUP_STATUS);
                status.set(JAVA_INT, off(VFIO_GROUP_STATUS, "argsz"), (int) VFIO_GROUP_STATUS.byteSize());
                sys.ioctl(group, VFIO_GROUP_GET_STATUS, status);
                if ((status.get(JAVA_INT, off(VFIO_GROUP_STATUS, "flags")) & VFIO_GROUP_FLAGS_VIABLE) == 0)
                    throw new VfioException("IOMMU group " + groupId + " of " + a + " is not viable: every device in it must be bound to "
                            + "vfio-pci or to no driver; in the group: " + groupMembers(groupId) + "; for each: " + bindingHelp(a).replace(a.toString(), "ADDR"));
                MemorySegment fdArg = ar.allocate(JAVA_INT);
                fdArg.set(JAVA_INT, 0, container);
                sys.ioctl(group, VFIO_GROUP_SET_CONTAINER, fdArg);
                sys.ioctl(container, VFIO_SET_IOMMU, iommu);
                try {
                    fd = sys.ioctl(group, VFIO_GROUP_GET_DEVICE_FD, ar.allocateFrom(a.toString()));
                } catch (SysException e) {
                    if (e.errno == SysException.EBUSY)
                        throw new VfioException("host PCI device " + a + " is already in use (another VMM has it open)", e.errno, e);
                    throw new VfioException("VFIO_GROUP_GET_DEVICE_FD(" + a + "): " + e.getMessage(), e.errno, e);
                }
            }
            return new KernelVfioDevice(sys, a.toString(), container, group, fd);
        } catch (SysException e) {
            closeAll(fd, group, container);
            throw new VfioException("opening " + a + " through VFIO: " + e.getMessage(), e.errno, e);
        } catch (RuntimeException e) {
            closeAll(fd, group, container);
            throw e;
        }
    }

    private int open(Path p, HostPciAddress a) {
        try {
            return sys.open(p.toString());
        } catch (SysException e) {
            throw new VfioException("cannot open " + p + " for " + a + ": " + e.getMessage() + " (run as root)", e.errno, e);
        }
    }

    private void closeAll(int... fds) {
        for (int f : fds) if (f >= 0) sys.close(f);
    }

    private String groupMembers(String groupId) {
        Path devices = sys_.resolve("kernel/iommu_groups").resolve(groupId).resolve("devices");
        List<String> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(devices)) {
            for (Path p : s.sorted().toList()) {
                Path drv = sys_.resolve("bus/pci/devices").resolve(p.getFileName().toString()).resolve("driver");
                out.add(p.getFileName() + " (" + (Files.exists(drv) ? link(drv) : "no driver") + ")");
            }
        } catch (IOException e) {
            return "(cannot list " + devices + ")";
        }
        return String.join(", ", out);
    }

    /** The last name of the target of a sysfs link ({@code iommu_group -> ../../kernel/iommu_groups/7} gives 7). */
    private static String link(Path p) {
        try {
            return Files.readSymbolicLink(p).getFileName().toString();
        } catch (IOException | UnsupportedOperationException e) {
            try {
                return p.toRealPath().getFileName().toString();
            } catch (IOException e2) {
                throw new VfioException("cannot read " + p + ": " + e2.getMessage());
            }
        }
    }
}
