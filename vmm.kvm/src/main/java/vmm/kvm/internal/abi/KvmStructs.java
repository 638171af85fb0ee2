package vmm.kvm.internal.abi;

import static java.lang.foreign.MemoryLayout.paddingLayout;
import static java.lang.foreign.MemoryLayout.sequenceLayout;
import static java.lang.foreign.MemoryLayout.structLayout;
import static java.lang.foreign.MemoryLayout.unionLayout;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;

/**
 * The KVM structures of {@code linux/kvm.h} and {@code asm/kvm.h} (x86-64),
 * written once, field by field, with the headers' names and explicit padding.
 * {@code KvmStructsTest} pins every size and offset to the header's values.
 * Unsigned C types map to the Java type of the same width.
 */
public final class KvmStructs {
    private KvmStructs() {}

    private static ValueLayout.OfByte u8(String n) { return JAVA_BYTE.withName(n); }
    private static ValueLayout.OfShort u16(String n) { return JAVA_SHORT.withName(n); }
    private static ValueLayout.OfInt u32(String n) { return JAVA_INT.withName(n); }
    private static ValueLayout.OfLong u64(String n) { return JAVA_LONG.withName(n); }
    private static MemoryLayout bytes(String n, long count) { return sequenceLayout(count, JAVA_BYTE).withName(n); }
    private static MemoryLayout u32s(String n, long count) { return sequenceLayout(count, JAVA_INT).withName(n); }
    private static MemoryLayout u64s(String n, long count) { return sequenceLayout(count, JAVA_LONG).withName(n); }

    // ---- struct kvm_run and its exit unions ----

    /** {@code kvm_run.io}: KVM_EXIT_IO. The data lives in the mapping at {@code data_offset}. */
    public static final StructLayout KVM_RUN_IO = structLayout(
            u8("direction"), u8("size"), u16("port"), u32("count"), u64("data_offset")).withName("io");

    /** {@code kvm_run.mmio}: KVM_EXIT_MMIO. */
    public static final StructLayout KVM_RUN_MMIO = structLayout(
            u64("phys_addr"), bytes("data", 8), u32("len"), u8("is_write"), paddingLayout(3)).withName("mmio");

    /** {@code kvm_run.fail_entry}: KVM_EXIT_FAIL_ENTRY. */
    public static final StructLayout KVM_RUN_FAIL_ENTRY = structLayout(
            u64("hardware_entry_failure_reason"), u32("cpu"), paddingLayout(4)).withName("fail_entry");

    /** {@code kvm_run.internal}: KVM_EXIT_INTERNAL_ERROR. */
    public static final StructLayout KVM_RUN_INTERNAL = structLayout(
            u32("suberror"), u32("ndata"), u64s("data", 16)).withName("internal");

    /** {@code kvm_run.system_event}: KVM_EXIT_SYSTEM_EVENT (the {@code flags}/{@code data[0]} union read as data). */
    public static final StructLayout KVM_RUN_SYSTEM_EVENT = structLayout(
            u32("type"), u32("ndata"), u64s("data", 16)).withName("system_event");

    public static final GroupLayout KVM_RUN_EXIT = unionLayout(
            KVM_RUN_IO, KVM_RUN_MMIO, KVM_RUN_FAIL_ENTRY, KVM_RUN_INTERNAL, KVM_RUN_SYSTEM_EVENT,
            bytes("padding", 256)).withName("exit");

    /** {@code struct kvm_run}, the per-vCPU page(s) shared with the kernel. */
    public static final StructLayout KVM_RUN = structLayout(
            u8("request_interrupt_window"), u8("immediate_exit"), bytes("padding1", 6),
            u32("exit_reason"), u8("ready_for_interrupt_injection"), u8("if_flag"), u16("flags"),
            u64("cr8"), u64("apic_base"),
            KVM_RUN_EXIT,
            u64("kvm_valid_regs"), u64("kvm_dirty_regs"),
            bytes("s", 2048)).withName("kvm_run");

    // ---- registers ----

    /** {@code struct kvm_regs}: rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8..r15, rip, rflags. */
    public static final StructLayout KVM_REGS = structLayout(
            u64("rax"), u64("rbx"), u64("rcx"), u64("rdx"), u64("rsi"), u64("rdi"), u64("rsp"), u64("rbp"),
            u64("r8"), u64("r9"), u64("r10"), u64("r11"), u64("r12"), u64("r13"), u64("r14"), u64("r15"),
            u64("rip"), u64("rflags")).withName("kvm_regs");

    /** {@code struct kvm_segment}. */
    public static final StructLayout KVM_SEGMENT = structLayout(
            u64("base"), u32("limit"), u16("selector"), u8("type"), u8("present"), u8("dpl"), u8("db"), u8("s"),
            u8("l"), u8("g"), u8("avl"), u8("unusable"), u8("padding")).withName("kvm_segment");

    /** {@code struct kvm_dtable}. */
    public static final StructLayout KVM_DTABLE = structLayout(
            u64("base"), u16("limit"), sequenceLayout(3, JAVA_SHORT).withName("padding")).withName("kvm_dtable");

    /** {@code struct kvm_sregs}. */
    public static final StructLayout KVM_SREGS = structLayout(
            KVM_SEGMENT.withName("cs"), KVM_SEGMENT.withName("ds"), KVM_SEGMENT.withName("es"),
            KVM_SEGMENT.withName("fs"), KVM_SEGMENT.withName("gs"), KVM_SEGMENT.withName("ss"),
            KVM_SEGMENT.withName("tr"), KVM_SEGMENT.withName("ldt"),
            KVM_DTABLE.withName("gdt"), KVM_DTABLE.withName("idt"),
            u64("cr0"), u64("cr2"), u64("cr3"), u64("cr4"), u64("cr8"), u64("efer"), u64("apic_base"),
            u64s("interrupt_bitmap", 4)).withName("kvm_sregs");

    /** {@code struct kvm_fpu}. */
    public static final StructLayout KVM_FPU = structLayout(
            bytes("fpr", 8 * 16), u16("fcw"), u16("fsw"), u8("ftwx"), u8("pad1"), u16("last_opcode"),
            u64("last_ip"), u64("last_dp"), bytes("xmm", 16 * 16), u32("mxcsr"), u32("pad2")).withName("kvm_fpu");

    /** {@code struct kvm_lapic_state}: the APIC register page. */
    public static final StructLayout KVM_LAPIC_STATE = structLayout(bytes("regs", 1024)).withName("kvm_lapic_state");

    /** {@code struct kvm_vcpu_events}. */
    public static final StructLayout KVM_VCPU_EVENTS = structLayout(
            structLayout(u8("injected"), u8("nr"), u8("has_error_code"), u8("pending"), u32("error_code")).withName("exception"),
            structLayout(u8("injected"), u8("nr"), u8("soft"), u8("shadow")).withName("interrupt"),
            structLayout(u8("injected"), u8("pending"), u8("masked"), u8("pad")).withName("nmi"),
            u32("sipi_vector"), u32("flags"),
            structLayout(u8("smm"), u8("pending"), u8("smm_inside_nmi"), u8("latched_init")).withName("smi"),
            structLayout(u8("pending")).withName("triple_fault"),
            bytes("reserved", 26), u8("exception_has_payload"), u64("exception_payload")).withName("kvm_vcpu_events");

    /** {@code struct kvm_mp_state}. */
    public static final StructLayout KVM_MP_STATE = structLayout(u32("mp_state")).withName("kvm_mp_state");

    /** {@code struct kvm_translation}. */
    public static final StructLayout KVM_TRANSLATION = structLayout(
            u64("linear_address"), u64("physical_address"), u8("valid"), u8("writeable"), u8("usermode"),
            paddingLayout(5)).withName("kvm_translation");

    // ---- CPUID and MSRs (headers followed by a flexible array) ----

    /** {@code struct kvm_cpuid_entry2}. */
    public static final StructLayout KVM_CPUID_ENTRY2 = structLayout(
            u32("function"), u32("index"), u32("flags"), u32("eax"), u32("ebx"), u32("ecx"), u32("edx"),
            u32s("padding", 3)).withName("kvm_cpuid_entry2");

    /** {@code struct kvm_cpuid2} without its {@code entries[]}. */
    public static final StructLayout KVM_CPUID2 = structLayout(u32("nent"), u32("padding")).withName("kvm_cpuid2");

    /** {@code struct kvm_msr_entry}. */
    public static final StructLayout KVM_MSR_ENTRY = structLayout(u32("index"), u32("reserved"), u64("data")).withName("kvm_msr_entry");

    /** {@code struct kvm_msrs} without its {@code entries[]}. */
    public static final StructLayout KVM_MSRS = structLayout(u32("nmsrs"), u32("pad")).withName("kvm_msrs");

    // ---- VM ----

    /** {@code struct kvm_userspace_memory_region}. */
    public static final StructLayout KVM_USERSPACE_MEMORY_REGION = structLayout(
            u32("slot"), u32("flags"), u64("guest_phys_addr"), u64("memory_size"), u64("userspace_addr"))
            .withName("kvm_userspace_memory_region");

    /** {@code struct kvm_irq_level} (the {@code irq}/{@code status} union read as irq). */
    public static final StructLayout KVM_IRQ_LEVEL = structLayout(u32("irq"), u32("level")).withName("kvm_irq_level");

    /** {@code struct kvm_msi}. */
    public static final StructLayout KVM_MSI = structLayout(
            u32("address_lo"), u32("address_hi"), u32("data"), u32("flags"), u32("devid"), bytes("pad", 12))
            .withName("kvm_msi");

    /** {@code struct kvm_irq_routing_irqchip}. */
    public static final StructLayout KVM_IRQ_ROUTING_IRQCHIP = structLayout(u32("irqchip"), u32("pin")).withName("irqchip");

    /** {@code struct kvm_irq_routing_msi} (the {@code pad}/{@code devid} union read as devid). */
    public static final StructLayout KVM_IRQ_ROUTING_MSI = structLayout(
            u32("address_lo"), u32("address_hi"), u32("data"), u32("devid")).withName("msi");

    /** {@code struct kvm_irq_routing_entry}; {@code u} is a 32-byte union. */
    public static final StructLayout KVM_IRQ_ROUTING_ENTRY = structLayout(
            u32("gsi"), u32("type"), u32("flags"), u32("pad"),
            unionLayout(KVM_IRQ_ROUTING_IRQCHIP, KVM_IRQ_ROUTING_MSI, u32s("pad", 8)).withName("u"))
            .withName("kvm_irq_routing_entry");

    /** {@code struct kvm_irq_routing} without its {@code entries[]}. */
    public static final StructLayout KVM_IRQ_ROUTING = structLayout(u32("nr"), u32("flags")).withName("kvm_irq_routing");

    /** {@code struct kvm_ioeventfd}. */
    public static final StructLayout KVM_IOEVENTFD = structLayout(
            u64("datamatch"), u64("addr"), u32("len"), u32("fd"), u32("flags"), bytes("pad", 36)).withName("kvm_ioeventfd");

    /** {@code struct kvm_irqfd}. */
    public static final StructLayout KVM_IRQFD = structLayout(
            u32("fd"), u32("gsi"), u32("flags"), u32("resamplefd"), bytes("pad", 16)).withName("kvm_irqfd");

    /** {@code struct kvm_pit_config}. */
    public static final StructLayout KVM_PIT_CONFIG = structLayout(u32("flags"), u32s("pad", 15)).withName("kvm_pit_config");
}
