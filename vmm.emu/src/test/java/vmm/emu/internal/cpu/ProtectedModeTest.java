package vmm.emu.internal.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

import vmm.core.hypervisor.VcpuExit;

/** Exceptions through the IDT, segment checks and paging in 32-bit protected mode. */
class ProtectedModeTest {
    static final long PD = 0x20000, PT = 0x21000;

    /** The dword the handler finds at [esp + 4 * i]. */
    private static long stack(Harness h, int i) {
        return h.memory.readU32(h.c.r[Cpu.RSP] + 4L * i);
    }

    @Test
    void invalidOpcodeIsDeliveredWithTheFaultingAddress() {
        try (Harness h = Harness.protected32(0x90, 0x0F, 0x0B)) {  // nop; ud2
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.UD);
            assertThat(stack(h, 0)).isEqualTo(Harness.CODE + 1);   // EIP of the UD2
            assertThat(stack(h, 1)).isEqualTo(Harness.CODE32);
            assertThat(h.c.rflags() & Cpu.IF).isZero();
        }
    }

    @Test
    void loadingANullStackSegmentOrABadSelectorIsAGeneralProtectionFaultWithTheSelector() {
        try (Harness h = Harness.protected32(0x66, 0xB8, 0x33, 0x00, 0x8E, 0xD8)) { // mov ax,0x33; mov ds,ax
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.GP);
            assertThat(stack(h, 0)).isEqualTo(0x30);               // error code: the selector (beyond the GDT)
            assertThat(stack(h, 1)).isEqualTo(Harness.CODE + 4);
        }
        try (Harness h = Harness.protected32(0x31, 0xC0, 0x8E, 0xD0)) { // xor eax,eax; mov ss,ax
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.GP);
            assertThat(stack(h, 0)).isZero();
        }
    }

    @Test
    void writingThroughACodeSegmentOverrideFaults() {
        try (Harness h = Harness.protected32(0x2E, 0xC6, 0x05, 0x00, 0x30, 0, 0, 1)) { // mov byte cs:[0x3000],1
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.GP);
        }
    }

    @Test
    void intNThroughATrapGateKeepsInterruptsAndIretReturns() {
        // sti; int 0x20; mov bl,1; hlt  -- vector 0x20 -> handler: mov al,0x42; iretd
        try (Harness h = Harness.protected32(0xFB, 0xCD, 0x20, 0xB3, 0x01)) {
            long handler = 0x6000;
            h.load(handler, 0xB0, 0x42, 0xCF);
            h.c.idtLimit = 0x21 * 8 - 1;
            long gate = (handler & 0xFFFF) | (long) Harness.CODE32 << 16 | 0x8F00L << 32;
            h.memory.writeU64(Harness.IDT + 0x20 * 8, gate);
            h.runToHalt();
            assertThat(h.reg(Cpu.RAX) & 0xFF).isEqualTo(0x42);
            assertThat(h.reg(Cpu.RBX) & 0xFF).isEqualTo(1);
            assertThat(h.reg(Cpu.RSP)).isEqualTo(Harness.STACK);
            assertThat(h.c.rflags() & Cpu.IF).isNotZero();
        }
    }

    @Test
    void aMissingGateForAFaultBecomesADoubleFaultAndAMissingDoubleFaultGateShutsDown() {
        try (Harness h = Harness.protected32(0x31, 0xC0, 0x8E, 0xD0)) { // #GP with the #GP gate not present
            h.memory.writeU64(Harness.IDT + 13 * 8, 0);
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.DF);
            assertThat(stack(h, 0)).isZero();
        }
        try (Harness h = Harness.protected32(0x31, 0xC0, 0x8E, 0xD0)) {
            h.memory.writeU64(Harness.IDT + 13 * 8, 0);
            h.memory.writeU64(Harness.IDT + 8 * 8, 0);
            assertThat(h.run()).isInstanceOf(VcpuExit.Shutdown.class);
            assertThat(h.c.rip).isEqualTo(Harness.CODE + 2);         // at the faulting MOV SS
        }
    }

    /** Identity-maps the first 4 MiB with 4 KiB pages (flags {@code flags}) and turns paging on. */
    private static void paging(Harness h, long flags) {
        h.memory.writeU32(PD, PT | 7);
        for (int i = 0; i < 1024; i++) h.memory.writeU32(PT + 4L * i, (long) i << 12 | flags);
        h.c.cr3 = PD;
        h.c.cr0 |= Cpu.CR0_PG | Cpu.CR0_WP;
        h.machine.stateChanged();
    }

    @Test
    void pageFaultsCarryTheErrorCodeAndCr2() {
        // mov eax,[0x400000]: no page directory entry -> #PF, not present, read, supervisor
        try (Harness h = Harness.protected32(0xA1, 0x00, 0x00, 0x40, 0x00)) {
            paging(h, 3);
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.PF);
            assertThat(stack(h, 0)).isEqualTo(0);
            assertThat(stack(h, 1)).isEqualTo(Harness.CODE);
            assertThat(h.c.cr2).isEqualTo(0x400000);
        }
        // mov [0x9000],eax with page 9 read-only and CR0.WP: present + write = 3
        try (Harness h = Harness.protected32(0xA3, 0x04, 0x90, 0x00, 0x00)) {
            paging(h, 3);
            h.memory.writeU32(PT + 9 * 4, 0x9000 | 1);
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.PF);
            assertThat(stack(h, 0)).isEqualTo(3);
            assertThat(h.c.cr2).isEqualTo(0x9004);
        }
    }

    @Test
    void accessedAndDirtyBitsAreSetByTheWalk() {
        // mov eax,[0x9000]; mov [0xa000],eax
        try (Harness h = Harness.protected32(0xA1, 0x00, 0x90, 0, 0, 0xA3, 0x00, 0xA0, 0, 0)) {
            paging(h, 3);
            h.runToHalt();
            assertThat(h.memory.readU32(PT + 9 * 4) & 0x60).isEqualTo(0x20);
            assertThat(h.memory.readU32(PT + 10 * 4) & 0x60).isEqualTo(0x60);
            assertThat(h.memory.readU32(PD) & 0x20).isEqualTo(0x20);
        }
    }

    @Test
    void aPageTableChangeIsSeenAfterInvlpgAndTheStaleEntryBefore() {
        // mov eax,[0x9000]; (test remaps 0x9000 -> 0xB000 in the PTE by the guest:) mov [PT+0x24],0xB003;
        // mov ebx,[0x9000] (stale TLB: old page); invlpg [0x9000]; mov ecx,[0x9000] (new page)
        try (Harness h = Harness.protected32(0xA1, 0x00, 0x90, 0, 0,
                0xC7, 0x05, 0x24, 0x10, 0x02, 0x00, 0x03, 0xB0, 0x00, 0x00,
                0x8B, 0x1D, 0x00, 0x90, 0, 0,
                0x0F, 0x01, 0x3D, 0x00, 0x90, 0, 0,
                0x8B, 0x0D, 0x00, 0x90, 0, 0)) {
            paging(h, 3);
            h.memory.writeU32(0x9000, 0x1111);
            h.memory.writeU32(0xB000, 0x2222);
            h.runToHalt();
            assertThat(h.reg(Cpu.RBX)).isEqualTo(0x1111);
            assertThat(h.reg(Cpu.RCX)).isEqualTo(0x2222);
        }
    }

    @Test
    void aCr3LoadKeepsGlobalTranslationsAndDropsTheOthers() {
        // Pages 9 (global) and 10 are read; the guest repoints both PTEs to 0xB000, reloads CR3, reads both again.
        try (Harness h = Harness.protected32(0xA1, 0x00, 0x90, 0, 0,           // mov eax,[0x9000]
                0xA1, 0x00, 0xA0, 0, 0,                                    // mov eax,[0xa000]
                0xC7, 0x05, 0x24, 0x10, 0x02, 0x00, 0x03, 0xB0, 0x00, 0x00, // mov dword [PT+9*4],0xb003
                0xC7, 0x05, 0x28, 0x10, 0x02, 0x00, 0x03, 0xB0, 0x00, 0x00, // mov dword [PT+10*4],0xb003
                0x0F, 0x20, 0xD8, 0x0F, 0x22, 0xD8,                        // mov eax,cr3; mov cr3,eax
                0x8B, 0x1D, 0x00, 0x90, 0, 0,                              // mov ebx,[0x9000]
                0x8B, 0x0D, 0x00, 0xA0, 0, 0)) {                           // mov ecx,[0xa000]
            paging(h, 3);
            h.c.cr4 |= Cpu.CR4_PGE;
            h.memory.writeU32(PT + 9 * 4, 0x9000 | 0x103);                 // global
            h.memory.writeU32(0x9000, 0x1111);
            h.memory.writeU32(0xA000, 0x2222);
            h.memory.writeU32(0xB000, 0x3333);
            h.runToHalt();
            assertThat(h.reg(Cpu.RBX)).isEqualTo(0x1111);                  // the global entry survived
            assertThat(h.reg(Cpu.RCX)).isEqualTo(0x3333);                  // the other was walked again
        }
    }

    @Test
    void fourMegabytePagesWithPse() {
        try (Harness h = Harness.protected32(0xA1, 0x34, 0x12, 0x40, 0x00)) { // mov eax,[0x401234]
            paging(h, 3);
            h.c.cr4 |= Cpu.CR4_PSE;
            h.memory.writeU32(PD + 4, 0x83);                       // 4 MiB page at 0 for the second 4 MiB
            h.memory.writeU32(0x1234, 0xCAFE);
            h.runToHalt();
            assertThat(h.reg(Cpu.RAX)).isEqualTo(0xCAFE);
        }
    }

    @Test
    void farJumpToSixteenBitCodeAndBack() {
        // jmp 0x20:0x1010 (16-bit code segment, base 0); there: jmp dword 0x08:0x1020 (66 EA) ; at 0x1020: hlt
        try (Harness h = Harness.protected32(0xEA, 0x10, 0x10, 0, 0, 0x20, 0x00)) {
            h.load(0x1010, 0x66, 0xEA, 0x20, 0x10, 0, 0, 0x08, 0x00);
            h.load(0x1020, 0xF4);
            h.runToHalt();
            assertThat(h.c.rip).isEqualTo(0x1021);
            assertThat(h.c.codeBits).isEqualTo(32);
        }
    }

    @Test
    void aFarCallThroughACallGateReachesTheGatesTargetAndReturns() {
        try (Harness h = Harness.protected32(0x9A, 0, 0, 0, 0, 0x30, 0x00, 0xB3, 0x07)) { // call far 0x30:0; mov bl,7
            long gate = 0x6000 | (long) Harness.CODE32 << 16 | 0x8C00L << 32; // 32-bit call gate, DPL 0, to 0x08:0x6000
            h.memory.writeU64(Harness.GDT + 0x30, gate);
            h.c.gdtLimit = 0x38 - 1;
            h.load(0x6000, 0xB0, 0x05, 0xCB);                      // mov al,5; retf
            h.runToHalt();
            assertThat(h.reg(Cpu.RAX) & 0xFF).isEqualTo(5);
            assertThat(h.reg(Cpu.RBX) & 0xFF).isEqualTo(7);
            assertThat(h.reg(Cpu.RSP)).isEqualTo(Harness.STACK);
        }
    }

    @Test
    void ringThreeInterruptSwitchesToTheTssStack() {
        // A ring-3 flat code/data pair and a 32-bit TSS with SS0:ESP0 = 0x10:0x7000; the guest at ring 3 does int 0x30.
        try (Harness h = Harness.protected32()) {
            h.memory.writeU64(Harness.GDT + 0x30, 0x00CFFA000000FFFFL); // ring-3 code
            h.memory.writeU64(Harness.GDT + 0x38, 0x00CFF2000000FFFFL); // ring-3 data
            long tss = 0x7800;
            h.memory.writeU64(Harness.GDT + 0x40, 0x0000890000000067L | (tss & 0xFFFFFF) << 16);
            h.memory.writeU32(tss + 4, 0x7000);
            h.memory.writeU32(tss + 8, Harness.DATA32);
            h.c.gdtLimit = 0x48 - 1;
            h.c.tr = new vmm.core.hypervisor.Segment(tss, 0x67, 0x40, 0xB, true, 0, false, false, false, false, false,
                    false);
            long gate = (0x6000 & 0xFFFF) | (long) Harness.CODE32 << 16 | 0xEE00L << 32; // DPL 3 interrupt gate
            h.c.idtLimit = 0x31 * 8 - 1;
            h.memory.writeU64(Harness.IDT + 0x30 * 8, gate);
            h.load(0x6000, 0xF4);
            h.load(0x2000, 0xCD, 0x30);                            // int 0x30
            h.c.setSegment(Cpu.CS, new vmm.core.hypervisor.Segment(0, 0xFFFFFFFF, 0x33, 0xB, true, 3, true, true, false,
                    true, false, false));
            h.c.setSegment(Cpu.SS, new vmm.core.hypervisor.Segment(0, 0xFFFFFFFF, 0x3B, 3, true, 3, true, true, false,
                    true, false, false));
            h.c.rip = 0x2000;
            h.c.r[Cpu.RSP] = 0x5800;
            h.machine.stateChanged();
            h.runToHalt();
            assertThat(h.c.cpl).isZero();
            assertThat(h.reg(Cpu.RSP)).isEqualTo(0x7000 - 20);
            assertThat(stack(h, 0)).isEqualTo(0x2002);             // EIP
            assertThat(stack(h, 1)).isEqualTo(0x33);               // CS
            assertThat(stack(h, 3)).isEqualTo(0x5800);             // ESP
            assertThat(stack(h, 4)).isEqualTo(0x3B);               // SS
        }
    }
}
