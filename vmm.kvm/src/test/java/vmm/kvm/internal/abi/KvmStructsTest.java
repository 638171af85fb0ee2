package vmm.kvm.internal.abi;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;

import org.junit.jupiter.api.Test;

/**
 * Pins every layout to {@code sizeof} and {@code offsetof} as the kernel's
 * uapi headers give them on x86-64 (values printed by a C program compiled
 * against {@code /usr/include/linux/kvm.h} of Linux 6.x).
 */
class KvmStructsTest {

    private static long off(MemoryLayout l, String... path) {
        PathElement[] p = new PathElement[path.length];
        for (int i = 0; i < path.length; i++) p[i] = groupElement(path[i]);
        return l.byteOffset(p);
    }

    @Test
    void kvmRunMatchesTheHeader() {
        var l = KvmStructs.KVM_RUN;
        assertThat(l.byteSize()).isEqualTo(2352);
        assertThat(off(l, "request_interrupt_window")).isEqualTo(0);
        assertThat(off(l, "immediate_exit")).isEqualTo(1);
        assertThat(off(l, "exit_reason")).isEqualTo(8);
        assertThat(off(l, "ready_for_interrupt_injection")).isEqualTo(12);
        assertThat(off(l, "if_flag")).isEqualTo(13);
        assertThat(off(l, "flags")).isEqualTo(14);
        assertThat(off(l, "cr8")).isEqualTo(16);
        assertThat(off(l, "apic_base")).isEqualTo(24);
        assertThat(off(l, "exit")).isEqualTo(32);
        assertThat(off(l, "kvm_valid_regs")).isEqualTo(288);
        assertThat(off(l, "kvm_dirty_regs")).isEqualTo(296);
        assertThat(off(l, "s")).isEqualTo(304);
    }

    @Test
    void kvmRunExitUnionsMatchTheHeader() {
        var l = KvmStructs.KVM_RUN;
        assertThat(off(l, "exit", "io", "direction")).isEqualTo(32);
        assertThat(off(l, "exit", "io", "size")).isEqualTo(33);
        assertThat(off(l, "exit", "io", "port")).isEqualTo(34);
        assertThat(off(l, "exit", "io", "count")).isEqualTo(36);
        assertThat(off(l, "exit", "io", "data_offset")).isEqualTo(40);
        assertThat(off(l, "exit", "mmio", "phys_addr")).isEqualTo(32);
        assertThat(off(l, "exit", "mmio", "data")).isEqualTo(40);
        assertThat(off(l, "exit", "mmio", "len")).isEqualTo(48);
        assertThat(off(l, "exit", "mmio", "is_write")).isEqualTo(52);
        assertThat(off(l, "exit", "fail_entry", "hardware_entry_failure_reason")).isEqualTo(32);
        assertThat(off(l, "exit", "fail_entry", "cpu")).isEqualTo(40);
        assertThat(off(l, "exit", "internal", "suberror")).isEqualTo(32);
        assertThat(off(l, "exit", "internal", "ndata")).isEqualTo(36);
        assertThat(off(l, "exit", "internal", "data")).isEqualTo(40);
        assertThat(off(l, "exit", "system_event", "type")).isEqualTo(32);
        assertThat(off(l, "exit", "system_event", "ndata")).isEqualTo(36);
        assertThat(off(l, "exit", "system_event", "data")).isEqualTo(40);
        assertThat(KvmStructs.KVM_RUN_EXIT.byteSize()).isEqualTo(256);
    }

    @Test
    void registerStructsMatchTheHeader() {
        assertThat(KvmStructs.KVM_REGS.byteSize()).isEqualTo(144);
        assertThat(off(KvmStructs.KVM_REGS, "rip")).isEqualTo(128);
        assertThat(off(KvmStructs.KVM_REGS, "rflags")).isEqualTo(136);

        var seg = KvmStructs.KVM_SEGMENT;
        assertThat(seg.byteSize()).isEqualTo(24);
        assertThat(off(seg, "base")).isEqualTo(0);
        assertThat(off(seg, "limit")).isEqualTo(8);
        assertThat(off(seg, "selector")).isEqualTo(12);
        assertThat(off(seg, "type")).isEqualTo(14);
        assertThat(off(seg, "present")).isEqualTo(15);
        assertThat(off(seg, "dpl")).isEqualTo(16);
        assertThat(off(seg, "db")).isEqualTo(17);
        assertThat(off(seg, "s")).isEqualTo(18);
        assertThat(off(seg, "l")).isEqualTo(19);
        assertThat(off(seg, "g")).isEqualTo(20);
        assertThat(off(seg, "avl")).isEqualTo(21);
        assertThat(off(seg, "unusable")).isEqualTo(22);

        assertThat(KvmStructs.KVM_DTABLE.byteSize()).isEqualTo(16);
        assertThat(off(KvmStructs.KVM_DTABLE, "limit")).isEqualTo(8);

        var s = KvmStructs.KVM_SREGS;
        assertThat(s.byteSize()).isEqualTo(312);
        String[] segs = {"cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt"};
        for (int i = 0; i < segs.length; i++) assertThat(off(s, segs[i])).as(segs[i]).isEqualTo(24L * i);
        assertThat(off(s, "gdt")).isEqualTo(192);
        assertThat(off(s, "idt")).isEqualTo(208);
        assertThat(off(s, "cr0")).isEqualTo(224);
        assertThat(off(s, "cr2")).isEqualTo(232);
        assertThat(off(s, "cr3")).isEqualTo(240);
        assertThat(off(s, "cr4")).isEqualTo(248);
        assertThat(off(s, "cr8")).isEqualTo(256);
        assertThat(off(s, "efer")).isEqualTo(264);
        assertThat(off(s, "apic_base")).isEqualTo(272);
        assertThat(off(s, "interrupt_bitmap")).isEqualTo(280);

        var f = KvmStructs.KVM_FPU;
        assertThat(f.byteSize()).isEqualTo(416);
        assertThat(off(f, "fcw")).isEqualTo(128);
        assertThat(off(f, "fsw")).isEqualTo(130);
        assertThat(off(f, "ftwx")).isEqualTo(132);
        assertThat(off(f, "last_opcode")).isEqualTo(134);
        assertThat(off(f, "last_ip")).isEqualTo(136);
        assertThat(off(f, "last_dp")).isEqualTo(144);
        assertThat(off(f, "xmm")).isEqualTo(152);
        assertThat(off(f, "mxcsr")).isEqualTo(408);
        assertThat(off(f, "pad2")).isEqualTo(412);

        assertThat(KvmStructs.KVM_LAPIC_STATE.byteSize()).isEqualTo(1024);

        var e = KvmStructs.KVM_VCPU_EVENTS;
        assertThat(e.byteSize()).isEqualTo(64);
        assertThat(off(e, "exception")).isEqualTo(0);
        assertThat(off(e, "interrupt")).isEqualTo(8);
        assertThat(off(e, "nmi")).isEqualTo(12);
        assertThat(off(e, "sipi_vector")).isEqualTo(16);
        assertThat(off(e, "flags")).isEqualTo(20);
        assertThat(off(e, "smi")).isEqualTo(24);
        assertThat(off(e, "triple_fault")).isEqualTo(28);
        assertThat(off(e, "reserved")).isEqualTo(29);
        assertThat(off(e, "exception_has_payload")).isEqualTo(55);
        assertThat(off(e, "exception_payload")).isEqualTo(56);

        assertThat(KvmStructs.KVM_MP_STATE.byteSize()).isEqualTo(4);
        assertThat(KvmStructs.KVM_TRANSLATION.byteSize()).isEqualTo(24);
    }

    @Test
    void cpuidAndMsrStructsMatchTheHeader() {
        var c = KvmStructs.KVM_CPUID_ENTRY2;
        assertThat(c.byteSize()).isEqualTo(40);
        String[] fields = {"function", "index", "flags", "eax", "ebx", "ecx", "edx"};
        for (int i = 0; i < fields.length; i++) assertThat(off(c, fields[i])).as(fields[i]).isEqualTo(4L * i);
        assertThat(KvmStructs.KVM_CPUID2.byteSize()).as("kvm_cpuid2 up to entries[]").isEqualTo(8);
        assertThat(KvmStructs.KVM_MSRS.byteSize()).as("kvm_msrs up to entries[]").isEqualTo(8);
        assertThat(KvmStructs.KVM_MSR_ENTRY.byteSize()).isEqualTo(16);
        assertThat(off(KvmStructs.KVM_MSR_ENTRY, "data")).isEqualTo(8);
    }

    @Test
    void vmStructsMatchTheHeader() {
        var m = KvmStructs.KVM_USERSPACE_MEMORY_REGION;
        assertThat(m.byteSize()).isEqualTo(32);
        assertThat(off(m, "flags")).isEqualTo(4);
        assertThat(off(m, "guest_phys_addr")).isEqualTo(8);
        assertThat(off(m, "memory_size")).isEqualTo(16);
        assertThat(off(m, "userspace_addr")).isEqualTo(24);

        assertThat(KvmStructs.KVM_IRQ_LEVEL.byteSize()).isEqualTo(8);
        assertThat(off(KvmStructs.KVM_IRQ_LEVEL, "level")).isEqualTo(4);

        var msi = KvmStructs.KVM_MSI;
        assertThat(msi.byteSize()).isEqualTo(32);
        assertThat(off(msi, "address_hi")).isEqualTo(4);
        assertThat(off(msi, "data")).isEqualTo(8);
        assertThat(off(msi, "flags")).isEqualTo(12);
        assertThat(off(msi, "devid")).isEqualTo(16);

        assertThat(KvmStructs.KVM_IRQ_ROUTING.byteSize()).as("kvm_irq_routing up to entries[]").isEqualTo(8);
        var r = KvmStructs.KVM_IRQ_ROUTING_ENTRY;
        assertThat(r.byteSize()).isEqualTo(48);
        assertThat(off(r, "type")).isEqualTo(4);
        assertThat(off(r, "flags")).isEqualTo(8);
        assertThat(off(r, "u")).isEqualTo(16);
        assertThat(KvmStructs.KVM_IRQ_ROUTING_IRQCHIP.byteSize()).isEqualTo(8);
        assertThat(KvmStructs.KVM_IRQ_ROUTING_MSI.byteSize()).isEqualTo(16);

        var io = KvmStructs.KVM_IOEVENTFD;
        assertThat(io.byteSize()).isEqualTo(64);
        assertThat(off(io, "addr")).isEqualTo(8);
        assertThat(off(io, "len")).isEqualTo(16);
        assertThat(off(io, "fd")).isEqualTo(20);
        assertThat(off(io, "flags")).isEqualTo(24);
        assertThat(off(io, "pad")).isEqualTo(28);

        var irqfd = KvmStructs.KVM_IRQFD;
        assertThat(irqfd.byteSize()).isEqualTo(32);
        assertThat(off(irqfd, "gsi")).isEqualTo(4);
        assertThat(off(irqfd, "flags")).isEqualTo(8);
        assertThat(off(irqfd, "resamplefd")).isEqualTo(12);
        assertThat(off(irqfd, "pad")).isEqualTo(16);

        assertThat(KvmStructs.KVM_PIT_CONFIG.byteSize()).isEqualTo(64);
    }

    @Test
    void ioctlNumbersMatchTheHeader() {
        assertThat(Kvm.KVM_GET_API_VERSION).isEqualTo(0xae00L);
        assertThat(Kvm.KVM_CREATE_VM).isEqualTo(0xae01L);
        assertThat(Kvm.KVM_CHECK_EXTENSION).isEqualTo(0xae03L);
        assertThat(Kvm.KVM_GET_VCPU_MMAP_SIZE).isEqualTo(0xae04L);
        assertThat(Kvm.KVM_GET_SUPPORTED_CPUID).isEqualTo(0xc008ae05L);
        assertThat(Kvm.KVM_GET_MSR_INDEX_LIST).isEqualTo(0xc004ae02L);
        assertThat(Kvm.KVM_CREATE_VCPU).isEqualTo(0xae41L);
        assertThat(Kvm.KVM_SET_USER_MEMORY_REGION).isEqualTo(0x4020ae46L);
        assertThat(Kvm.KVM_SET_TSS_ADDR).isEqualTo(0xae47L);
        assertThat(Kvm.KVM_SET_IDENTITY_MAP_ADDR).isEqualTo(0x4008ae48L);
        assertThat(Kvm.KVM_CREATE_IRQCHIP).isEqualTo(0xae60L);
        assertThat(Kvm.KVM_IRQ_LINE).isEqualTo(0x4008ae61L);
        assertThat(Kvm.KVM_SET_GSI_ROUTING).isEqualTo(0x4008ae6aL);
        assertThat(Kvm.KVM_IRQFD).isEqualTo(0x4020ae76L);
        assertThat(Kvm.KVM_CREATE_PIT2).isEqualTo(0x4040ae77L);
        assertThat(Kvm.KVM_IOEVENTFD).isEqualTo(0x4040ae79L);
        assertThat(Kvm.KVM_SIGNAL_MSI).isEqualTo(0x4020aea5L);
        assertThat(Kvm.KVM_RUN).isEqualTo(0xae80L);
        assertThat(Kvm.KVM_GET_REGS).isEqualTo(0x8090ae81L);
        assertThat(Kvm.KVM_SET_REGS).isEqualTo(0x4090ae82L);
        assertThat(Kvm.KVM_GET_SREGS).isEqualTo(0x8138ae83L);
        assertThat(Kvm.KVM_SET_SREGS).isEqualTo(0x4138ae84L);
        assertThat(Kvm.KVM_TRANSLATE).isEqualTo(0xc018ae85L);
        assertThat(Kvm.KVM_GET_MSRS).isEqualTo(0xc008ae88L);
        assertThat(Kvm.KVM_SET_MSRS).isEqualTo(0x4008ae89L);
        assertThat(Kvm.KVM_GET_FPU).isEqualTo(0x81a0ae8cL);
        assertThat(Kvm.KVM_SET_FPU).isEqualTo(0x41a0ae8dL);
        assertThat(Kvm.KVM_GET_LAPIC).isEqualTo(0x8400ae8eL);
        assertThat(Kvm.KVM_SET_LAPIC).isEqualTo(0x4400ae8fL);
        assertThat(Kvm.KVM_SET_CPUID2).isEqualTo(0x4008ae90L);
        assertThat(Kvm.KVM_GET_MP_STATE).isEqualTo(0x8004ae98L);
        assertThat(Kvm.KVM_SET_MP_STATE).isEqualTo(0x4004ae99L);
        assertThat(Kvm.KVM_GET_VCPU_EVENTS).isEqualTo(0x8040ae9fL);
        assertThat(Kvm.KVM_SET_VCPU_EVENTS).isEqualTo(0x4040aea0L);
    }

    @Test
    void iocRefusesAnArgumentTooLargeForItsSizeField() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Ioc.iow(Kvm.KVMIO, 1, 1 << 14))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
