package vmm.emu.internal.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** 64-bit mode: REX, RIP-relative operands, 64-bit stack, IDT gates and IRETQ, SYSCALL/SYSRET. */
class LongModeTest {
    @Test
    void ripRelativeLoadsAndSixtyFourBitArithmetic() {
        // mov rax,[rip+0x10]; mov r9,rax; shl r9,4; add r9,1 ; data at CODE+7+0x10
        try (Harness h = Harness.long64(0x48, 0x8B, 0x05, 0x10, 0, 0, 0, 0x49, 0x89, 0xC1, 0x49, 0xC1, 0xE1, 0x04, 0x49,
                0x83, 0xC1, 0x01)) {
            h.memory.writeU64(Harness.CODE + 7 + 0x10, 0x0123456789ABCDEFL);
            h.runToHalt();
            assertThat(h.reg(Cpu.RAX)).isEqualTo(0x0123456789ABCDEFL);
            assertThat(h.reg(9)).isEqualTo(0x123456789ABCDEF1L);
        }
    }

    @Test
    void thirtyTwoBitWritesZeroTheUpperHalf() {
        // mov rax,-1; mov eax,1; mov rbx,-1; mov bx,2
        try (Harness h = Harness.long64(0x48, 0xC7, 0xC0, 0xFF, 0xFF, 0xFF, 0xFF, 0xB8, 0x01, 0, 0, 0, 0x48, 0xC7, 0xC3,
                0xFF, 0xFF, 0xFF, 0xFF, 0x66, 0xBB, 0x02, 0x00)) {
            h.runToHalt();
            assertThat(h.reg(Cpu.RAX)).isEqualTo(1);
            assertThat(h.reg(Cpu.RBX)).isEqualTo(0xFFFFFFFFFFFF0002L);
        }
    }

    @Test
    void anExceptionGoesThroughASixteenByteGateAndIretqReturns() {
        // int3 -> vector 3 handler (hlt at HANDLERS+48); replace it with: inc rbx; iretq
        try (Harness h = Harness.long64(0xCC, 0x48, 0xFF, 0xC1)) { // int3; inc rcx
            h.load(Harness.HANDLERS + 3 * 16, 0x48, 0xFF, 0xC3, 0x48, 0xCF);
            h.runToHalt();
            assertThat(h.reg(Cpu.RBX)).isEqualTo(1);
            assertThat(h.reg(Cpu.RCX)).isEqualTo(1);
            assertThat(h.reg(Cpu.RSP)).isEqualTo(Harness.STACK);
        }
    }

    @Test
    void aNonCanonicalAddressIsAGeneralProtectionFault() {
        // mov rax,0x0000800000000000; mov rbx,[rax]
        try (Harness h = Harness.long64(0x48, 0xB8, 0, 0, 0, 0, 0, 0x80, 0, 0, 0x48, 0x8B, 0x18)) {
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.GP);
        }
    }

    @Test
    void aPageFaultForAnInstructionFetchFromAnNxPageSaysSo() {
        // jmp to 0x200000 (the second 2 MiB page, made NX)
        try (Harness h = Harness.long64(0xE9, 0xFB, 0xEF, 0x1F, 0x00)) { // jmp rel32 to 0x200000
            h.c.efer |= Cpu.EFER_NXE;
            h.memory.writeU64(Harness.PD + 8, 0x200000L | 0x87 | 1L << 63);
            h.machine.stateChanged();
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.PF);
            assertThat(h.memory.readU64(h.reg(Cpu.RSP))).isEqualTo(Mmu.PF_P | Mmu.PF_I);
            assertThat(h.c.cr2).isEqualTo(0x200000);
        }
    }

    @Test
    void syscallAndSysretSwitchPrivilege() {
        try (Harness h = Harness.long64(0x0F, 0x05)) {             // syscall
            h.c.efer |= Cpu.EFER_SCE;
            h.machine.writeMsr(SystemOps.STAR, (long) (0x10 | 3) << 48 | (long) 0x18 << 32);
            h.machine.writeMsr(SystemOps.LSTAR, 0x4000);
            h.load(0x4000, 0x48, 0x0F, 0x07);                      // sysretq
            h.load(Harness.CODE + 2, 0x90, 0x0F, 0x05);             // back at ring 3: nop; syscall again
            h.load(0x4003, 0xF4);
            h.machine.step(h.ports, h.mmio, 3);
            assertThat(h.c.cpl).isEqualTo(3);
            assertThat(h.c.rip).isEqualTo(Harness.CODE + 3);
            assertThat(h.c.seg[Cpu.CS].selector()).isEqualTo(0x23);
        }
    }
}
