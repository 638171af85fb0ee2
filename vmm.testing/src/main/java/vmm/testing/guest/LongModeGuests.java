package vmm.testing.guest;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

import vmm.core.hypervisor.DescriptorTable;
import vmm.core.hypervisor.Registers;
import vmm.core.hypervisor.Segment;
import vmm.core.hypervisor.SpecialRegisters;
import vmm.core.hypervisor.StopReport;

/** A guest started in 64-bit long mode with 4-level paging set up by the VMM. */
public interface LongModeGuests extends GuestBackEnd {
    long PML4 = 0x10000, PDPT = 0x11000, PD = 0x12000, CODE = 0x1000;
    int CODE64 = 0x18;
    long PRESENT_WRITABLE = 0x3, LARGE_PAGE = 0x80;

    @Test
    default void aLongModeGuestRunsWithPagingAndDoesPortIo() throws Exception {
        try (GuestVm t = vm(false)) {
            Ports out = new Ports();
            t.ports.register("out", 0xE0, 1, out);
            // Identity-map the first 1 GiB with 2 MiB pages: PML4[0] -> PDPT, PDPT[0] -> PD, PD[i] -> i * 2 MiB.
            t.memory.writeU64(PML4, PDPT | PRESENT_WRITABLE);
            t.memory.writeU64(PDPT, PD | PRESENT_WRITABLE);
            for (int i = 0; i < 512; i++) t.memory.writeU64(PD + 8L * i, (long) i << 21 | PRESENT_WRITABLE | LARGE_PAGE);
            Asm a = Asm.long64(CODE)
                    .movRax(0x1122334455667788L)       // mov rax, 0x1122334455667788
                    .movMem64Rax(0x3000)                // mov [0x3000], rax  ; a 64-bit store
                    .movAl(0x64).outImmAl(0xE0)         // out 0xE0, al
                    .hlt();
            t.load(CODE, a.bytes());
            t.protectedMode(t.vcpu(), CODE, 0, 0);      // writes the GDT; then switch it to long mode
            t.memory.writeU64(GuestVm.GDT + CODE64, 0x00AF9A000000FFFFL); // 64-bit code: L set, D clear
            SpecialRegisters s = t.vcpu().specialRegisters();
            s.gdt(new DescriptorTable(GuestVm.GDT, 4 * 8 - 1))
                    .segment(SpecialRegisters.Seg.CS, Segment.code64(CODE64))
                    .cr3(PML4)
                    .cr4(SpecialRegisters.CR4_PAE)
                    .cr0(SpecialRegisters.CR0_PE | SpecialRegisters.CR0_ET | SpecialRegisters.CR0_PG)
                    .efer(SpecialRegisters.EFER_LME | SpecialRegisters.EFER_LMA);
            t.vcpu().setSpecialRegisters(s);
            t.vcpu().setRegisters(new Registers().rip(CODE).rsp(0x8000));
            t.start();

            StopReport r = t.awaitStop();

            assertThat(r.cause()).as(r.describe()).isEqualTo(StopReport.Cause.ALL_HALTED);
            assertThat(out.next()).isEqualTo(0x64);
            assertThat(t.memory.readU64(0x3000)).isEqualTo(0x1122334455667788L);
            assertThat(t.vcpu().specialRegisters().efer() & SpecialRegisters.EFER_LMA).isNotZero();
            assertThat(t.vcpu().translate(0x20_0123)).hasValue(0x20_0123);
        }
    }
}
