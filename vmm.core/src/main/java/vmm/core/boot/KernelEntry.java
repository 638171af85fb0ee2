package vmm.core.boot;

import vmm.core.hypervisor.DescriptorTable;
import vmm.core.hypervisor.Registers;
import vmm.core.hypervisor.Segment;
import vmm.core.hypervisor.SpecialRegisters;
import vmm.core.hypervisor.Vcpu;

/**
 * The state the boot vCPU enters a loaded kernel in: flat 32-bit protected
 * mode without paging (PVH) or 64-bit long mode on identity page tables
 * (the 64-bit boot protocol), with the boot information's address in EBX
 * (PVH) or RSI (zero page). The GDT and page tables it names are already in
 * guest memory.
 *
 * @param mode     which entry
 * @param rip      the entry point
 * @param bootInfo the address of {@code hvm_start_info} or of the zero page
 * @param gdt      the GDT the VMM wrote
 * @param cr3      the page tables' root (long mode), else 0
 */
public record KernelEntry(Mode mode, long rip, long bootInfo, DescriptorTable gdt, long cr3) {
    /** The two entries. */
    public enum Mode {
        /** PVH: 32-bit protected mode, paging off, EBX = {@code hvm_start_info}. */
        PVH_32,
        /** 64-bit boot protocol: long mode, identity-mapped, RSI = zero page. */
        LONG_64
    }

    /** Selectors in the boot GDT (the kernel's own {@code __BOOT_CS}/{@code __BOOT_DS}). */
    public static final int BOOT_CS = 0x10, BOOT_DS = 0x18;
    /** A stack below the boot structures; neither entry relies on it, but a sane RSP costs nothing. */
    public static final long STACK_TOP = 0x9000;

    /** The general-purpose registers at entry. */
    public Registers registers() {
        Registers r = new Registers().rip(rip).rsp(STACK_TOP);
        return r.set(mode == Mode.PVH_32 ? Registers.Reg.RBX : Registers.Reg.RSI, bootInfo);
    }

    /**
     * {@code current} (the vCPU's own special registers, so the host's
     * APIC base and interrupt bitmap stay) changed to this entry state.
     */
    public SpecialRegisters specialRegisters(SpecialRegisters current) {
        SpecialRegisters s = current.gdt(gdt).idt(new DescriptorTable(0, 0))
                .dataSegments(Segment.flat32(BOOT_DS, false));
        if (mode == Mode.PVH_32) {
            return s.segment(SpecialRegisters.Seg.CS, Segment.flat32(BOOT_CS, true))
                    .cr0(SpecialRegisters.CR0_PE | SpecialRegisters.CR0_ET).cr3(0).cr4(0).efer(0);
        }
        return s.segment(SpecialRegisters.Seg.CS, Segment.code64(BOOT_CS))
                .cr3(cr3).cr4(SpecialRegisters.CR4_PAE)
                .cr0(SpecialRegisters.CR0_PE | SpecialRegisters.CR0_ET | SpecialRegisters.CR0_PG)
                .efer(SpecialRegisters.EFER_LME | SpecialRegisters.EFER_LMA);
    }

    /** Puts {@code vcpu} (not running) in this entry state. */
    public void applyTo(Vcpu vcpu) {
        vcpu.setSpecialRegisters(specialRegisters(vcpu.specialRegisters()));
        vcpu.setRegisters(registers());
    }
}
