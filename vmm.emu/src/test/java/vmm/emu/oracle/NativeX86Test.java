package vmm.emu.oracle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static vmm.emu.oracle.X86State.*;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The host oracle itself, on results computed by hand from the SDM's definitions. */
class NativeX86Test {
    private static NativeX86 cpu;

    @BeforeAll
    static void open() {
        String why = NativeX86.unavailableReason();
        assumeTrue(why == null, () -> "no native oracle: " + why);
        cpu = NativeX86.open();
    }

    @AfterAll
    static void close() {
        if (cpu != null) cpu.close();
    }

    private static byte[] b(int... bytes) {
        byte[] out = new byte[bytes.length];
        for (int i = 0; i < bytes.length; i++) out[i] = (byte) bytes[i];
        return out;
    }

    @Test
    void add32WrapsToZeroWithCarryZeroAuxAndParityAndClearsTheUpperHalf() {
        X86State in = new X86State();
        in.gpr[RAX] = 0x1234_5678_FFFF_FFFFL;
        in.gpr[RCX] = 1;
        X86State out = cpu.run(b(0x01, 0xC8), in);                 // add eax,ecx
        assertThat(out.gpr[RAX]).isZero();
        assertThat(out.rflags & Flags.STATUS).isEqualTo(Flags.CF | Flags.PF | Flags.AF | Flags.ZF);
    }

    @Test
    void add8SignedOverflowSetsOverflowAndSignAndLeavesTheRestOfTheRegister() {
        X86State in = new X86State();
        in.gpr[RAX] = 0xAAAA_007FL;
        in.gpr[RCX] = 1;
        in.rflags = Flags.CF | Flags.ZF;                             // inputs an ADD must overwrite
        X86State out = cpu.run(b(0x00, 0xC8), in);                 // add al,cl
        assertThat(out.gpr[RAX]).isEqualTo(0xAAAA_0080L);
        assertThat(out.rflags & Flags.STATUS).isEqualTo(Flags.OF | Flags.SF | Flags.AF);
    }

    @Test
    void adcAddsTheCarryInputAndEveryOtherRegisterSurvives() {
        X86State in = new X86State();
        for (int r = 0; r < 16; r++) in.gpr[r] = 0x0101_0101_0101_0101L * r;
        in.gpr[RAX] = 1;
        in.gpr[RCX] = 1;
        in.rflags = Flags.CF;
        X86State out = cpu.run(b(0x48, 0x11, 0xC8), in);           // adc rax,rcx
        assertThat(out.gpr[RAX]).isEqualTo(3);
        for (int r = 1; r < 16; r++) {
            if (r != RSP) assertThat(out.gpr[r]).as(NAMES[r]).isEqualTo(in.gpr[r]);
        }
        assertThat(out.rflags & Flags.STATUS).isEqualTo(Flags.PF);  // 3 has two bits set
    }

    @Test
    void rdiAndR15AreOperandsLikeAnyOther() {
        X86State in = new X86State();
        in.gpr[RDI] = 40;
        in.gpr[15] = 2;
        X86State out = cpu.run(b(0x4C, 0x01, 0xFF), in);           // add rdi,r15
        assertThat(out.gpr[RDI]).isEqualTo(42);
        assertThat(out.gpr[15]).isEqualTo(2);
    }

    @Test
    void memoryOperandsReachTheScratchBufferAtItsLinearAddress() {
        X86State in = new X86State();
        in.gpr[RBX] = cpu.scratchAddress() + 8;
        in.gpr[RAX] = 0x0000_0001;
        in.scratch[8] = (byte) 0xFF;
        in.scratch[9] = (byte) 0xFF;
        X86State out = cpu.run(b(0x01, 0x03), in);                 // add [rbx],eax
        assertThat(out.scratch[8]).isZero();
        assertThat(out.scratch[9]).isZero();
        assertThat(out.scratch[10]).isEqualTo((byte) 1);
        assertThat(out.rflags & Flags.CF).isZero();
    }

    @Test
    void repStosbFillsScratchAndTheDirectionFlagRoundTrips() {
        X86State in = new X86State();
        in.gpr[RDI] = cpu.scratchAddress() + 16;
        in.gpr[RCX] = 5;
        in.gpr[RAX] = 0xAB;
        X86State out = cpu.run(b(0xF3, 0xAA), in);                 // rep stosb
        assertThat(out.scratch).startsWith(new byte[16]);
        for (int i = 16; i < 21; i++) assertThat(out.scratch[i]).isEqualTo((byte) 0xAB);
        assertThat(out.scratch[21]).isZero();
        assertThat(out.gpr[RDI]).isEqualTo(cpu.scratchAddress() + 21);
        assertThat(out.gpr[RCX]).isZero();

        assertThat(cpu.run(b(0xFD), new X86State()).rflags & Flags.DF).isEqualTo(Flags.DF);   // std
        X86State down = new X86State();
        down.rflags = Flags.DF;
        assertThat(cpu.run(b(0xFC), down).rflags & Flags.DF).isZero();                          // cld
    }

    @Test
    void theTrampolineIsTheDocumentedPrologueAndEpilogue() {
        byte[] t = NativeX86.trampoline(b(0x90));
        // push rbx, rbp, r12..r15, rdi; push qword [rdi+0x80]; popfq
        assertThat(t).startsWith(b(0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57, 0x57,
                0xFF, 0xB7, 0x80, 0, 0, 0, 0x9D, 0x48, 0x8B, 0x87, 0, 0, 0, 0));
        assertThat(t).endsWith(b(0x9C, 0x8F, 0x87, 0x80, 0, 0, 0, 0x58, 0x48, 0x89, 0x87, 0x38, 0, 0, 0,
                0xFC, 0x41, 0x5F, 0x41, 0x5E, 0x41, 0x5D, 0x41, 0x5C, 0x5D, 0x5B, 0xC3));
    }

    @Test
    void in32BitCode0x40IsIncNotRexAndTheCarrySurvives() {
        assumeTrue(cpu.unavailable32Reason() == null, () -> "no 32-bit path: " + cpu.unavailable32Reason());
        X86State in = new X86State();
        in.gpr[RAX] = 0xFFFF_FFFFL;
        in.gpr[RBX] = 0x1234_5678_9ABC_DEF0L;                      // only the low half reaches the CPU
        in.rflags = Flags.CF;
        X86State out = cpu.run32(b(0x40), in);                      // inc eax
        assertThat(out.gpr[RAX]).isZero();
        assertThat(out.gpr[RBX]).isEqualTo(0x9ABC_DEF0L);
        assertThat(out.rflags & Flags.STATUS).isEqualTo(Flags.CF | Flags.ZF | Flags.PF | Flags.AF);
    }

    @Test
    void bcdAdjustsRunIn32BitCodeAsTheSdmWorksThem() {
        assumeTrue(cpu.unavailable32Reason() == null, () -> "no 32-bit path: " + cpu.unavailable32Reason());
        X86State in = new X86State();
        in.gpr[RAX] = 0x9A;                                          // DAA: low nibble > 9 adds 6, AL > 0x99 adds 0x60
        X86State daa = cpu.run32(b(0x27), in);
        assertThat(daa.gpr[RAX] & 0xFF).isZero();
        long four = Flags.CF | Flags.AF | Flags.ZF | Flags.PF;
        assertThat(daa.rflags & four).isEqualTo(four);
        in.gpr[RAX] = 63;
        X86State aam = cpu.run32(b(0xD4, 0x0A), in);                // AAM 10: AH = 63 / 10, AL = 63 % 10
        assertThat(aam.gpr[RAX] & 0xFFFF).isEqualTo(0x0603);
    }
}
