package vmm.kvm.internal;

import static vmm.kvm.internal.abi.Kvm.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntUnaryOperator;

import vmm.core.hypervisor.HypervisorException;
import vmm.kvm.CpuidEntry;
import vmm.kvm.KvmProbe;
import vmm.kvm.internal.abi.KvmStructs;
import vmm.kvm.internal.linux.Sys;
import vmm.kvm.internal.linux.SysException;

/**
 * The open {@code /dev/kvm}: system ioctls, checked once for the API version
 * and every capability this binding relies on, so a host that lacks one fails
 * at start with one message instead of at some later ioctl. Thread-safe.
 */
public final class KvmSystem implements KvmProbe, AutoCloseable {
    /**
     * {@code /dev/kvm}, or what the system property {@code vmm.kvm.device} names: tests (and
     * {@code VMM_JAVA_OPTS=-Dvmm.kvm.device=/nonexistent ./vmm run}) show what a host without KVM does.
     */
    public static final String DEFAULT_PATH = System.getProperty("vmm.kvm.device", "/dev/kvm");

    /** Capabilities this binding uses, with what it uses each for. */
    public record Requirement(int capability, String name, String purpose) {}

    public static final List<Requirement> REQUIRED = List.of(
            new Requirement(KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest RAM from user memory"),
            new Requirement(KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "setting the guest's CPUID"),
            new Requirement(KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", "real-mode guests on VT-x"),
            new Requirement(KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "stopping a running vCPU"),
            new Requirement(KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", "the in-kernel PIC, IOAPIC and LAPIC"),
            new Requirement(KVM_CAP_PIT2, "KVM_CAP_PIT2", "the in-kernel PIT"),
            new Requirement(KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING", "routing interrupts to MSIs"),
            new Requirement(KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI", "message-signalled interrupts"),
            new Requirement(KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", "device notifications without exits"),
            new Requirement(KVM_CAP_IRQFD, "KVM_CAP_IRQFD", "interrupts from device threads"),
            new Requirement(KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS", "saving pending vCPU events"),
            new Requirement(KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE", "multiprocessor start-up state"));

    private static final VarHandle CPUID_NENT = KvmStructs.KVM_CPUID2.varHandle(PathElement.groupElement("nent"));

    private final int fd;
    private final int vcpuMmapSize;
    private final List<CpuidEntry> supportedCpuid;

    private KvmSystem(int fd) {
        this.fd = fd;
        this.vcpuMmapSize = Sys.ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
        if (vcpuMmapSize < KvmStructs.KVM_RUN.byteSize())
            throw new HypervisorException("KVM's vCPU mapping is " + vcpuMmapSize + " bytes, smaller than struct kvm_run ("
                    + KvmStructs.KVM_RUN.byteSize() + "): the kernel's KVM does not match this binding");
        this.supportedCpuid = readSupportedCpuid();
    }

    /**
     * Opens {@code path}, checks the API version and the {@link #REQUIRED}
     * capabilities.
     *
     * @throws HypervisorException saying what is missing and how to fix it
     */
    public static KvmSystem open(String path) {
        int fd;
        try {
            fd = Sys.open(path, Sys.O_RDWR | Sys.O_CLOEXEC);
        } catch (SysException e) {
            throw new HypervisorException(openFailure(path, e.errno()), e);
        }
        try {
            int version = Sys.ioctl(fd, KVM_GET_API_VERSION, 0, "KVM_GET_API_VERSION");
            if (version != KVM_API_VERSION)
                throw new HypervisorException(wrongVersion(path, version));
            String missing = missingCapabilities(cap -> Sys.ioctl(fd, KVM_CHECK_EXTENSION, cap, "KVM_CHECK_EXTENSION"));
            if (missing != null) throw new HypervisorException(missing);
            return new KvmSystem(fd);
        } catch (RuntimeException e) {
            Sys.close(fd);
            if (e instanceof HypervisorException) throw e;
            throw new HypervisorException(path + ": " + e.getMessage(), e);
        }
    }

    /** The message for a failed open of the KVM device, by errno. */
    public static String openFailure(String path, int errno) {
        return switch (errno) {
            case Sys.ENOENT -> "KVM is not available: " + path + " does not exist. Load the KVM module "
                    + "(modprobe kvm_intel or modprobe kvm_amd), enable virtualization (VT-x/AMD-V) in the firmware, "
                    + "or, inside a VM, enable nested virtualization on its host";
            case Sys.EACCES, Sys.EPERM -> "KVM is not accessible: permission denied opening " + path
                    + ": add your user to group kvm (sudo usermod -aG kvm $USER, then log in again), "
                    + "or give this process read/write access to " + path;
            case Sys.ENXIO, Sys.ENODEV -> "KVM is not available: " + path + " exists but no KVM driver answers it. "
                    + "Load kvm_intel or kvm_amd and check that virtualization is enabled in the firmware";
            default -> "KVM is not available: cannot open " + path + ": " + Sys.strerror(errno) + " (errno " + errno + ")";
        };
    }

    static String wrongVersion(String path, int version) {
        return "KVM at " + path + " speaks API version " + version + ", this VMM needs version " + KVM_API_VERSION
                + ": the host kernel's KVM is incompatible";
    }

    /**
     * One message naming every {@link #REQUIRED} capability that {@code check}
     * reports absent (0), or null when none is.
     */
    public static String missingCapabilities(IntUnaryOperator check) {
        List<String> missing = new ArrayList<>();
        for (Requirement r : REQUIRED) {
            if (check.applyAsInt(r.capability()) <= 0) missing.add(r.name() + " (" + r.purpose() + ")");
        }
        if (missing.isEmpty()) return null;
        return "the host's KVM lacks " + String.join(", ", missing)
                + ". Run on a Linux kernel 4.11 or newer with KVM built in full (kvm plus kvm_intel or kvm_amd)";
    }

    public int fd() {
        return fd;
    }

    public int vcpuMmapSize() {
        return vcpuMmapSize;
    }

    @Override
    public int checkExtension(int capability) {
        return Sys.ioctl(fd, KVM_CHECK_EXTENSION, capability, "KVM_CHECK_EXTENSION");
    }

    @Override
    public List<CpuidEntry> supportedCpuid() {
        return supportedCpuid;
    }

    @Override
    public List<Integer> msrIndexList() {
        try (Arena a = Arena.ofConfined()) {
            int capacity = 1024; // KVM lists a few hundred at most; E2BIG (and the count it needs) otherwise
            MemorySegment buf = a.allocate(4L + 4L * capacity, 4);
            buf.set(java.lang.foreign.ValueLayout.JAVA_INT, 0, capacity);
            Sys.ioctl(fd, KVM_GET_MSR_INDEX_LIST, buf, "KVM_GET_MSR_INDEX_LIST");
            int n = buf.get(java.lang.foreign.ValueLayout.JAVA_INT, 0);
            if (n < 0 || n > capacity) throw new HypervisorException("KVM_GET_MSR_INDEX_LIST returned " + n + " entries");
            List<Integer> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) out.add(buf.get(java.lang.foreign.ValueLayout.JAVA_INT, 4L + 4L * i));
            return List.copyOf(out);
        }
    }

    @Override
    public String cpuVendorId() {
        for (CpuidEntry e : supportedCpuid) {
            if (e.function() == 0) {
                ByteBuffer b = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
                b.putInt(e.ebx()).putInt(e.edx()).putInt(e.ecx());
                return new String(b.array(), StandardCharsets.US_ASCII);
            }
        }
        return "unknown";
    }

    /** Creates a VM; returns the VM's file descriptor. */
    public int createVm() {
        return Sys.ioctl(fd, KVM_CREATE_VM, 0, "KVM_CREATE_VM");
    }

    private List<CpuidEntry> readSupportedCpuid() {
        try (Arena a = Arena.ofConfined()) {
            int n = KVM_MAX_CPUID_ENTRIES;
            MemorySegment buf = a.allocate(KvmStructs.KVM_CPUID2.byteSize() + n * KvmStructs.KVM_CPUID_ENTRY2.byteSize(), 8);
            CPUID_NENT.set(buf, 0L, n);
            Sys.ioctl(fd, KVM_GET_SUPPORTED_CPUID, buf, "KVM_GET_SUPPORTED_CPUID");
            int got = (int) CPUID_NENT.get(buf, 0L);
            if (got < 0 || got > n) throw new HypervisorException("KVM_GET_SUPPORTED_CPUID returned " + got + " entries");
            return Cpuid.read(buf.asSlice(KvmStructs.KVM_CPUID2.byteSize()), got);
        }
    }

    @Override
    public void close() {
        Sys.close(fd);
    }

}
