package vmm.emu.internal.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Multi-bit shifts, double shifts, 64-bit multiply and divide, and segment limits, with hand-worked results. */
class WiderOperandsTest {
    static final long CF = Cpu.CF, OF = Cpu.OF, ZF = Cpu.ZF, SF = Cpu.SF, PF = Cpu.PF;

    @Test
    void shiftByCountTakesTheLastBitOutAsCarry() {
        // mov eax,0x80000001; mov cl,4; shl eax,cl -> 0x00000010, CF = bit 28 of the source = 0
        try (Harness h = Harness.protected32(0xB8, 0x01, 0, 0, 0x80, 0xB1, 0x04, 0xD3, 0xE0)) {
            h.runToHalt();
            assertThat(h.reg(Cpu.RAX)).isEqualTo(0x10);
            assertThat(h.flags() & (CF | ZF | SF)).isZero();
        }
        // mov eax,0x80000000; sar eax,31 -> 0xffffffff, CF = bit 30 = 0; sar again by 1: CF=1
        try (Harness h = Harness.protected32(0xB8, 0, 0, 0, 0x80, 0xC1, 0xF8, 0x1F, 0xD1, 0xF8)) {
            h.runToHalt();
            assertThat(h.reg(Cpu.RAX)).isEqualTo(0xFFFFFFFFL);
            assertThat(h.flags() & (CF | SF | PF)).isEqualTo(CF | SF | PF);
        }
        // a count of zero changes nothing, flags included: stc; mov cl,0; shl eax,cl
        try (Harness h = Harness.protected32(0xF9, 0xB8, 5, 0, 0, 0, 0xB1, 0x00, 0xD3, 0xE0)) {
            h.runToHalt();
            assertThat(h.reg(Cpu.RAX)).isEqualTo(5);
            assertThat(h.flags() & CF).isEqualTo(CF);
        }
    }

    @Test
    void doubleShiftsFillFromTheOtherRegister() {
        // mov eax,0x12345678; mov edx,0x9abcdef0; shld eax,edx,8 -> 0x3456789a; shrd edx,eax,4 -> 0xa9abcdef
        try (Harness h = Harness.protected32(0xB8, 0x78, 0x56, 0x34, 0x12, 0xBA, 0xF0, 0xDE, 0xBC, 0x9A,
                0x0F, 0xA4, 0xD0, 0x08, 0x0F, 0xAC, 0xC2, 0x04)) {
            h.runToHalt();
            assertThat(h.reg(Cpu.RAX)).isEqualTo(0x3456789AL);
            assertThat(h.reg(Cpu.RDX)).isEqualTo(0xA9ABCDEFL);
        }
    }

    @Test
    void sixtyFourBitMultiplyAndDivide() {
        // mov rax,-1; mov rcx,2; mul rcx -> rdx:rax = 0x1_ffff...fffe; div rcx -> rax = -1, rdx = 0
        try (Harness h = Harness.long64(0x48, 0xC7, 0xC0, 0xFF, 0xFF, 0xFF, 0xFF, 0x48, 0xC7, 0xC1, 0x02, 0, 0, 0,
                0x48, 0xF7, 0xE1, 0x49, 0x89, 0xC0, 0x49, 0x89, 0xD1, 0x48, 0xF7, 0xF1)) {
            h.runToHalt();
            assertThat(h.reg(8)).isEqualTo(0xFFFFFFFFFFFFFFFEL);
            assertThat(h.reg(9)).isEqualTo(1);
            assertThat(h.reg(Cpu.RAX)).isEqualTo(-1L);
            assertThat(h.reg(Cpu.RDX)).isZero();
        }
        // mov rax,-9; cqo; mov rcx,4; idiv rcx -> rax=-2, rdx=-1; imul rax,rax,3 -> -6
        try (Harness h = Harness.long64(0x48, 0xC7, 0xC0, 0xF7, 0xFF, 0xFF, 0xFF, 0x48, 0x99, 0x48, 0xC7, 0xC1, 0x04,
                0, 0, 0, 0x48, 0xF7, 0xF9, 0x48, 0x6B, 0xC0, 0x03)) {
            h.runToHalt();
            assertThat(h.reg(Cpu.RAX)).isEqualTo(-6L);
            assertThat(h.reg(Cpu.RDX)).isEqualTo(-1L);
        }
        // a 64-bit quotient that does not fit: rdx=1, rax=0, div by 1 -> #DE
        try (Harness h = Harness.long64(0xBA, 1, 0, 0, 0, 0x31, 0xC0, 0xB9, 1, 0, 0, 0, 0x48, 0xF7, 0xF1)) {
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.DE);
        }
    }

    @Test
    void realModeOffsetsPastTheSegmentLimitFault() {
        // mov ebx,0x10000; mov al,[ebx] (a32): beyond the 64 KiB limit of DS -> #GP, through IVT[13]
        try (Harness h = Harness.real(0x66, 0xBB, 0x00, 0x00, 0x01, 0x00, 0x67, 0x8A, 0x03)) {
            h.memory.writeU32(13 * 4, 0x2000);
            h.load(0x2000, 0xF4);
            h.runToHalt();
            assertThat(h.c.rip).isEqualTo(0x2001);
            assertThat(h.memory.readU16(Harness.STACK - 6)).isEqualTo((int) Harness.CODE + 6);
        }
    }

    @Test
    void sixteenBitAddressesWrapAroundTheSegment() {
        // mov bx,0xffff; mov si,2; mov byte [bx+si],0x5a -> offset 0x0001, not 0x10001
        try (Harness h = Harness.real(0xBB, 0xFF, 0xFF, 0xBE, 0x02, 0x00, 0xC6, 0x00, 0x5A)) {
            h.runToHalt();
            assertThat(h.memory.readU8(1)).isEqualTo(0x5A);
            assertThat(h.memory.readU8(0x10001)).isZero();
        }
    }

    @Test
    void paePagingWithTwoMegabytePagesAndAUserModeFault() {
        // In PAE: PDPT at 0x20000, PD at 0x21000; PD[0] = 2 MiB supervisor page at 0. A ring-3 read of it faults
        // with P|U (5); the kernel's own read works.
        try (Harness h = Harness.protected32(0xA1, 0x00, 0x40, 0, 0)) { // mov eax,[0x4000]
            h.memory.writeU64(0x20000, 0x21000 | 1);
            h.memory.writeU64(0x21000, 0x83);                      // present, writable, 2 MiB, supervisor
            h.memory.writeU32(0x4000, 0xABCD);
            h.c.cr3 = 0x20000;
            h.c.cr4 |= Cpu.CR4_PAE;
            h.c.cr0 |= Cpu.CR0_PG;
            h.machine.stateChanged();
            h.runToHalt();
            assertThat(h.reg(Cpu.RAX)).isEqualTo(0xABCD);
            assertThat(h.machine.translate(0x1F_FFFF)).hasValue(0x1F_FFFF);
            assertThat(h.machine.translate(0x20_0000)).isEmpty();
            h.c.cpl = 3;
            try {
                h.machine.mmu.read(0x4000, 4, true);
                throw new AssertionError("a user read of a supervisor page must fault");
            } catch (CpuFault f) {
                assertThat(f.vector).isEqualTo(CpuFault.PF);
                assertThat(f.errorCode).isEqualTo(Mmu.PF_P | Mmu.PF_U);
            }
        }
    }
}
