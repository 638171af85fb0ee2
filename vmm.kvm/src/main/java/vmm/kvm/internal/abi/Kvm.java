package vmm.kvm.internal.abi;

import static vmm.kvm.internal.abi.Ioc.io;
import static vmm.kvm.internal.abi.Ioc.ior;
import static vmm.kvm.internal.abi.Ioc.iow;
import static vmm.kvm.internal.abi.Ioc.iowr;


/**
 * Constants and ioctl request numbers of {@code linux/kvm.h}, named as there.
 * Request numbers are computed from {@code _IO/_IOR/_IOW/_IOWR} with the
 * sizes of the layouts in {@link KvmStructs}, as the header defines them.
 */
public final class Kvm {
    private Kvm() {}

    public static final int KVMIO = 0xAE;
    public static final int KVM_API_VERSION = 12;

    // system ioctls
    public static final long KVM_GET_API_VERSION = io(KVMIO, 0x00);
    public static final long KVM_CREATE_VM = io(KVMIO, 0x01);
    public static final long KVM_CHECK_EXTENSION = io(KVMIO, 0x03);
    public static final long KVM_GET_VCPU_MMAP_SIZE = io(KVMIO, 0x04);
    public static final long KVM_GET_SUPPORTED_CPUID = iowr(KVMIO, 0x05, KvmStructs.KVM_CPUID2.byteSize());
    /** {@code struct kvm_msr_list} is a {@code __u32 nmsrs} followed by the flexible {@code indices[]}: 4 bytes. */
    public static final long KVM_GET_MSR_INDEX_LIST = iowr(KVMIO, 0x02, 4);

    // VM ioctls
    public static final long KVM_CREATE_VCPU = io(KVMIO, 0x41);
    public static final long KVM_SET_USER_MEMORY_REGION = iow(KVMIO, 0x46, KvmStructs.KVM_USERSPACE_MEMORY_REGION.byteSize());
    public static final long KVM_SET_TSS_ADDR = io(KVMIO, 0x47);
    public static final long KVM_SET_IDENTITY_MAP_ADDR = iow(KVMIO, 0x48, 8);
    public static final long KVM_CREATE_IRQCHIP = io(KVMIO, 0x60);
    public static final long KVM_IRQ_LINE = iow(KVMIO, 0x61, KvmStructs.KVM_IRQ_LEVEL.byteSize());
    /** {@code struct kvm_irqchip}: u32 chip_id, u32 pad, a 512-byte union (PIC or IOAPIC state). */
    public static final int KVM_IRQCHIP_SIZE = 520;
    public static final long KVM_GET_IRQCHIP = iowr(KVMIO, 0x62, KVM_IRQCHIP_SIZE);
    public static final long KVM_SET_IRQCHIP = ior(KVMIO, 0x63, KVM_IRQCHIP_SIZE); // _IOR in the uapi header, as here
    /** {@code struct kvm_pit_state2}: three 24-byte channel states, u32 flags, u32 reserved[9]. */
    public static final int KVM_PIT_STATE2_SIZE = 112;
    public static final long KVM_GET_PIT2 = ior(KVMIO, 0x9f, KVM_PIT_STATE2_SIZE);
    public static final long KVM_SET_PIT2 = iow(KVMIO, 0xa0, KVM_PIT_STATE2_SIZE);
    public static final long KVM_SET_GSI_ROUTING = iow(KVMIO, 0x6a, KvmStructs.KVM_IRQ_ROUTING.byteSize());
    public static final long KVM_IRQFD = iow(KVMIO, 0x76, KvmStructs.KVM_IRQFD.byteSize());
    public static final long KVM_CREATE_PIT2 = iow(KVMIO, 0x77, KvmStructs.KVM_PIT_CONFIG.byteSize());
    public static final long KVM_IOEVENTFD = iow(KVMIO, 0x79, KvmStructs.KVM_IOEVENTFD.byteSize());
    public static final long KVM_SIGNAL_MSI = iow(KVMIO, 0xa5, KvmStructs.KVM_MSI.byteSize());

    // vCPU ioctls
    public static final long KVM_RUN = io(KVMIO, 0x80);
    public static final long KVM_GET_REGS = ior(KVMIO, 0x81, KvmStructs.KVM_REGS.byteSize());
    public static final long KVM_SET_REGS = iow(KVMIO, 0x82, KvmStructs.KVM_REGS.byteSize());
    public static final long KVM_GET_SREGS = ior(KVMIO, 0x83, KvmStructs.KVM_SREGS.byteSize());
    public static final long KVM_SET_SREGS = iow(KVMIO, 0x84, KvmStructs.KVM_SREGS.byteSize());
    public static final long KVM_TRANSLATE = iowr(KVMIO, 0x85, KvmStructs.KVM_TRANSLATION.byteSize());
    public static final long KVM_GET_MSRS = iowr(KVMIO, 0x88, KvmStructs.KVM_MSRS.byteSize());
    public static final long KVM_SET_MSRS = iow(KVMIO, 0x89, KvmStructs.KVM_MSRS.byteSize());
    public static final long KVM_GET_FPU = ior(KVMIO, 0x8c, KvmStructs.KVM_FPU.byteSize());
    public static final long KVM_SET_FPU = iow(KVMIO, 0x8d, KvmStructs.KVM_FPU.byteSize());
    public static final long KVM_GET_LAPIC = ior(KVMIO, 0x8e, KvmStructs.KVM_LAPIC_STATE.byteSize());
    public static final long KVM_SET_LAPIC = iow(KVMIO, 0x8f, KvmStructs.KVM_LAPIC_STATE.byteSize());
    public static final long KVM_SET_CPUID2 = iow(KVMIO, 0x90, KvmStructs.KVM_CPUID2.byteSize());
    public static final long KVM_GET_MP_STATE = ior(KVMIO, 0x98, KvmStructs.KVM_MP_STATE.byteSize());
    public static final long KVM_SET_MP_STATE = iow(KVMIO, 0x99, KvmStructs.KVM_MP_STATE.byteSize());
    public static final long KVM_GET_VCPU_EVENTS = ior(KVMIO, 0x9f, KvmStructs.KVM_VCPU_EVENTS.byteSize());
    public static final long KVM_SET_VCPU_EVENTS = iow(KVMIO, 0xa0, KvmStructs.KVM_VCPU_EVENTS.byteSize());

    // capabilities (KVM_CHECK_EXTENSION)
    public static final int KVM_CAP_IRQCHIP = 0;
    public static final int KVM_CAP_HLT = 1;
    public static final int KVM_CAP_USER_MEMORY = 3;
    public static final int KVM_CAP_SET_TSS_ADDR = 4;
    public static final int KVM_CAP_EXT_CPUID = 7;
    public static final int KVM_CAP_NR_VCPUS = 9;
    public static final int KVM_CAP_NR_MEMSLOTS = 10;
    public static final int KVM_CAP_MP_STATE = 14;
    public static final int KVM_CAP_IRQ_ROUTING = 25;
    public static final int KVM_CAP_IRQ_INJECT_STATUS = 26;
    public static final int KVM_CAP_IRQFD = 32;
    public static final int KVM_CAP_PIT2 = 33;
    public static final int KVM_CAP_IOEVENTFD = 36;
    public static final int KVM_CAP_SET_IDENTITY_MAP_ADDR = 37;
    public static final int KVM_CAP_VCPU_EVENTS = 41;
    public static final int KVM_CAP_XSAVE = 55;
    public static final int KVM_CAP_MAX_VCPUS = 66;
    public static final int KVM_CAP_SIGNAL_MSI = 77;
    public static final int KVM_CAP_READONLY_MEM = 81;
    public static final int KVM_CAP_IRQFD_RESAMPLE = 82;
    public static final int KVM_CAP_IMMEDIATE_EXIT = 136;

    // exit reasons
    public static final int KVM_EXIT_UNKNOWN = 0;
    public static final int KVM_EXIT_EXCEPTION = 1;
    public static final int KVM_EXIT_IO = 2;
    public static final int KVM_EXIT_HYPERCALL = 3;
    public static final int KVM_EXIT_DEBUG = 4;
    public static final int KVM_EXIT_HLT = 5;
    public static final int KVM_EXIT_MMIO = 6;
    public static final int KVM_EXIT_IRQ_WINDOW_OPEN = 7;
    public static final int KVM_EXIT_SHUTDOWN = 8;
    public static final int KVM_EXIT_FAIL_ENTRY = 9;
    public static final int KVM_EXIT_INTR = 10;
    public static final int KVM_EXIT_NMI = 16;
    public static final int KVM_EXIT_INTERNAL_ERROR = 17;
    public static final int KVM_EXIT_SYSTEM_EVENT = 24;
    public static final int KVM_EXIT_IOAPIC_EOI = 26;

    private static final String[] EXIT_NAMES = {
            "KVM_EXIT_UNKNOWN", "KVM_EXIT_EXCEPTION", "KVM_EXIT_IO", "KVM_EXIT_HYPERCALL", "KVM_EXIT_DEBUG",
            "KVM_EXIT_HLT", "KVM_EXIT_MMIO", "KVM_EXIT_IRQ_WINDOW_OPEN", "KVM_EXIT_SHUTDOWN", "KVM_EXIT_FAIL_ENTRY",
            "KVM_EXIT_INTR", "KVM_EXIT_SET_TPR", "KVM_EXIT_TPR_ACCESS", "KVM_EXIT_S390_SIEIC", "KVM_EXIT_S390_RESET",
            "KVM_EXIT_DCR", "KVM_EXIT_NMI", "KVM_EXIT_INTERNAL_ERROR", "KVM_EXIT_OSI", "KVM_EXIT_PAPR_HCALL",
            "KVM_EXIT_S390_UCONTROL", "KVM_EXIT_WATCHDOG", "KVM_EXIT_S390_TSCH", "KVM_EXIT_EPR",
            "KVM_EXIT_SYSTEM_EVENT", "KVM_EXIT_S390_STSI", "KVM_EXIT_IOAPIC_EOI", "KVM_EXIT_HYPERV",
            "KVM_EXIT_ARM_NISV", "KVM_EXIT_X86_RDMSR", "KVM_EXIT_X86_WRMSR", "KVM_EXIT_DIRTY_RING_FULL",
            "KVM_EXIT_AP_RESET_HOLD", "KVM_EXIT_X86_BUS_LOCK", "KVM_EXIT_XEN", "KVM_EXIT_RISCV_SBI",
            "KVM_EXIT_RISCV_CSR", "KVM_EXIT_NOTIFY"};

    /** The header's name of exit reason {@code reason}. */
    public static String exitName(int reason) {
        return reason >= 0 && reason < EXIT_NAMES.length ? EXIT_NAMES[reason] : "exit reason " + reason;
    }

    public static final int KVM_EXIT_IO_IN = 0;
    public static final int KVM_EXIT_IO_OUT = 1;

    public static final int KVM_INTERNAL_ERROR_EMULATION = 1;
    public static final int KVM_INTERNAL_ERROR_SIMUL_EX = 2;
    public static final int KVM_INTERNAL_ERROR_DELIVERY_EV = 3;
    public static final int KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON = 4;

    public static final int KVM_SYSTEM_EVENT_SHUTDOWN = 1;
    public static final int KVM_SYSTEM_EVENT_RESET = 2;
    public static final int KVM_SYSTEM_EVENT_CRASH = 3;

    public static final int KVM_MEM_LOG_DIRTY_PAGES = 1;
    public static final int KVM_MEM_READONLY = 2;

    public static final int KVM_IRQCHIP_PIC_MASTER = 0;
    public static final int KVM_IRQCHIP_PIC_SLAVE = 1;
    public static final int KVM_IRQCHIP_IOAPIC = 2;
    public static final int KVM_IOAPIC_NUM_PINS = 24;
    public static final int KVM_IRQ_ROUTING_IRQCHIP = 1;
    public static final int KVM_IRQ_ROUTING_MSI = 2;

    public static final int KVM_IOEVENTFD_FLAG_DATAMATCH = 1;
    public static final int KVM_IOEVENTFD_FLAG_PIO = 2;
    public static final int KVM_IOEVENTFD_FLAG_DEASSIGN = 4;
    public static final int KVM_IRQFD_FLAG_DEASSIGN = 1;
    public static final int KVM_IRQFD_FLAG_RESAMPLE = 1 << 1;

    public static final int KVM_PIT_SPEAKER_DUMMY = 1;
    public static final int KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1;

    public static final int KVM_MP_STATE_RUNNABLE = 0;
    public static final int KVM_MP_STATE_UNINITIALIZED = 1;
    public static final int KVM_MP_STATE_INIT_RECEIVED = 2;
    public static final int KVM_MP_STATE_HALTED = 3;
    public static final int KVM_MP_STATE_SIPI_RECEIVED = 4;

    /** The most CPUID entries asked for at once; the kernel's own limit is 256. */
    public static final int KVM_MAX_CPUID_ENTRIES = 256;
}
