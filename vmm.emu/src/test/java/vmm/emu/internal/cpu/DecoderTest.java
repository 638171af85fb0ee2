package vmm.emu.internal.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The decoder on encodings that are easy to get wrong. */
class DecoderTest {
    private static Insn decode(int bits, int... bytes) {
        return Decoder.decode(i -> {
            if (i >= bytes.length) throw new AssertionError("read past the instruction at " + i);
            return bytes[i];
        }, bits);
    }

    @Test
    void legacyPrefixesInAnyOrderSetSizesSegmentAndRepeat() {
        Insn d = decode(16, 0xF3, 0x2E, 0x67, 0x66, 0xA5);         // rep cs a32 o32 movsd
        assertThat(d.len).isEqualTo(5);
        assertThat(d.opSize).isEqualTo(4);
        assertThat(d.adSize).isEqualTo(4);
        assertThat(d.segOverride).isEqualTo(Cpu.CS);
        assertThat(d.rep).isEqualTo(0xF3);
        assertThat(d.op).isEqualTo(0xA5);
    }

    @Test
    void sibWithNoBaseTakesADisp32() {
        Insn d = decode(32, 0x8B, 0x04, 0x8D, 0x78, 0x56, 0x34, 0x12); // mov eax,[ecx*4+0x12345678]
        assertThat(d.len).isEqualTo(7);
        assertThat(d.base).isEqualTo(-1);
        assertThat(d.index).isEqualTo(Cpu.RCX);
        assertThat(d.scale).isEqualTo(2);
        assertThat(d.disp).isEqualTo(0x12345678L);
    }

    @Test
    void sibIndexFourMeansNoIndexAndEspBaseDefaultsToTheStack() {
        Insn d = decode(32, 0x8B, 0x44, 0x24, 0xFC);               // mov eax,[esp-4]
        assertThat(d.index).isEqualTo(-1);
        assertThat(d.base).isEqualTo(Cpu.RSP);
        assertThat(d.disp).isEqualTo(-4);
        assertThat(d.defaultSeg).isEqualTo(Cpu.SS);
    }

    @Test
    void sixteenBitBpFormsUseTheStackSegmentAndDirectAddressDoesNot() {
        Insn bp = decode(16, 0x8B, 0x42, 0x10);                    // mov ax,[bp+si+0x10]
        assertThat(bp.defaultSeg).isEqualTo(Cpu.SS);
        assertThat(bp.base).isEqualTo(Cpu.RBP);
        assertThat(bp.index).isEqualTo(Cpu.RSI);
        Insn direct = decode(16, 0x8B, 0x06, 0x34, 0x12);          // mov ax,[0x1234]
        assertThat(direct.defaultSeg).isEqualTo(Cpu.DS);
        assertThat(direct.base).isEqualTo(-1);
        assertThat(direct.disp).isEqualTo(0x1234);
        assertThat(direct.len).isEqualTo(4);
    }

    @Test
    void ripRelativeInSixtyFourBitModeAndAbsoluteOtherwise() {
        Insn d = decode(64, 0x48, 0x8B, 0x05, 0x10, 0x00, 0x00, 0x00); // mov rax,[rip+0x10]
        assertThat(d.ripRelative).isTrue();
        assertThat(d.opSize).isEqualTo(8);
        assertThat(d.len).isEqualTo(7);
        Insn abs = decode(32, 0x8B, 0x05, 0x10, 0x00, 0x00, 0x00);
        assertThat(abs.ripRelative).isFalse();
        assertThat(abs.base).isEqualTo(-1);
    }

    @Test
    void rexExtendsRegistersAndIsIgnoredBeforeALegacyPrefix() {
        Insn d = decode(64, 0x4D, 0x89, 0xC8);                     // mov r8,r9
        assertThat(d.rm).isEqualTo(8);
        assertThat(d.reg).isEqualTo(9);
        assertThat(d.opSize).isEqualTo(8);
        Insn ignored = decode(64, 0x48, 0x66, 0x89, 0xC8);         // REX.W then 66: the REX does not count
        assertThat(ignored.rex).isZero();
        assertThat(ignored.opSize).isEqualTo(2);
    }

    @Test
    void sixtyFourBitImmediatesAndByteRegistersWithRex() {
        Insn d = decode(64, 0x49, 0xBA, 1, 2, 3, 4, 5, 6, 7, 8);   // mov r10, imm64
        assertThat(d.len).isEqualTo(10);
        assertThat(d.imm).isEqualTo(0x0807060504030201L);
        Insn sil = decode(64, 0x40, 0x88, 0xF0);                   // mov al,sil (REX: SIL, not DH)
        assertThat(sil.byteReg(sil.reg)).isEqualTo(Cpu.RSI);
        Insn dh = decode(32, 0x88, 0xF0);                          // mov al,dh
        assertThat(dh.byteReg(dh.reg)).isEqualTo(16 + 2);
    }

    @Test
    void groupThreeHasAnImmediateOnlyForTest() {
        assertThat(decode(32, 0xF7, 0xC0, 1, 0, 0, 0).len).isEqualTo(6); // test eax,1
        assertThat(decode(32, 0xF7, 0xD8).len).isEqualTo(2);             // neg eax
        assertThat(decode(16, 0xF6, 0x06, 0x00, 0x10, 0x80).len).isEqualTo(5); // test byte [0x1000],0x80
    }

    @Test
    void farPointersEnterAndMoffs() {
        assertThat(decode(16, 0xEA, 0x00, 0x7C, 0x00, 0x00).len).isEqualTo(5);             // jmp 0:7c00
        assertThat(decode(32, 0xEA, 1, 0, 0, 0, 8, 0).imm2).isEqualTo(8);                 // jmp 8:1
        assertThat(decode(16, 0xC8, 0x10, 0x00, 0x01).imm2).isEqualTo(1);                 // enter 16,1
        assertThat(decode(64, 0xA1, 1, 2, 3, 4, 5, 6, 7, 8).len).isEqualTo(9);             // mov eax,[moffs64]
        assertThat(decode(64, 0x67, 0xA1, 1, 2, 3, 4).len).isEqualTo(6);                  // a32 moffs
    }

    @Test
    void threeByteOpcodesHaveTheirModrmAndImmediate() {
        Insn pshufb = decode(32, 0x66, 0x0F, 0x38, 0x00, 0x44, 0x24, 0x08); // pshufb xmm0,[esp+8]
        assertThat(pshufb.len).isEqualTo(7);
        assertThat(pshufb.op).isEqualTo(0x200);
        Insn palignr = decode(64, 0x66, 0x41, 0x0F, 0x3A, 0x0F, 0xC1, 0x04); // palignr xmm0,xmm9,4
        assertThat(palignr.len).isEqualTo(7);
        assertThat(palignr.imm).isEqualTo(4);
    }

    @Test
    void movToControlRegistersIsAlwaysTheRegisterFormAndEmmsHasNoModrm() {
        Insn mov = decode(16, 0x0F, 0x20, 0x82, 0x3C, 0xFD);        // mov edx,cr0 (mod bits ignored)
        assertThat(mov.len).isEqualTo(3);
        assertThat(mov.isRegForm()).isTrue();
        assertThat(mov.rm).isEqualTo(Cpu.RDX);
        assertThat(decode(32, 0x0F, 0x77).len).isEqualTo(2);
    }

    @Test
    void fifteenBytesIsTheLimit() {
        int[] ok = new int[15];
        java.util.Arrays.fill(ok, 0x66);
        ok[10] = 0x05;                                              // 10 prefixes, add ax, imm16 ... 3 bytes, +2 pad
        int[] fifteen = {0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x2E, 0x05, 0x34, 0x12};
        assertThat(decode(32, fifteen).len).isEqualTo(15);
        int[] sixteen = {0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x2E, 0x05, 0x34,
            0x12};
        assertThatThrownBy(() -> decode(32, sixteen)).isInstanceOfSatisfying(CpuFault.class,
                f -> assertThat(f.vector).isEqualTo(CpuFault.GP));
        int[] prefixesOnly = new int[20];
        java.util.Arrays.fill(prefixesOnly, 0xF3);
        assertThatThrownBy(() -> decode(16, prefixesOnly)).isInstanceOf(CpuFault.class);
    }

    @Test
    void twoByteOpcodesAndNearBranchesInSixtyFourBitMode() {
        Insn jcc = decode(64, 0x0F, 0x84, 0x10, 0, 0, 0);           // je rel32
        assertThat(jcc.op).isEqualTo(0x184);
        assertThat(jcc.opSize).isEqualTo(8);
        assertThat(jcc.len).isEqualTo(6);
        Insn short16 = decode(64, 0x66, 0x0F, 0x89, 0xFC, 0xB2);   // jns rel16: AMD honours 66 on near branches
        assertThat(short16.len).isEqualTo(5);
        assertThat(short16.opSize).isEqualTo(2);
        Insn push = decode(64, 0x50);
        assertThat(push.opSize).isEqualTo(8);
        Insn nop = decode(32, 0x0F, 0x1F, 0x84, 0x00, 0, 0, 0, 0);  // nopl 0x0(%eax,%eax,1)
        assertThat(nop.len).isEqualTo(8);
    }
}
