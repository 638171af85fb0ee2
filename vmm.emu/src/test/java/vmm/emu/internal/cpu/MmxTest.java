package vmm.emu.internal.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * MMX: the registers are the x87 registers' significands (an MMX instruction tags all eight valid with
 * TOP 0, a write sets the sign and exponent to ones, EMMS empties them), CR0.EM and CR0.TS fault as for x87,
 * CR4.OSFXSR is not needed; and a few results worked out by hand (the lane operations are SSE2's, which the
 * differential test checks against the host).
 */
class MmxTest {
    static final long DATA = 0x9000;
    static final long A = 0x0102030405060708L, B = 0xFF01010101010101L;

    private static Harness mmx(int... code) {
        int[] all = new int[5 + code.length];
        all[0] = 0xBF;                                                           // mov edi, DATA
        all[1] = 0x00;
        all[2] = 0x90;
        System.arraycopy(code, 0, all, 5, code.length);
        Harness h = Harness.long64(all);
        h.memory.writeU64(DATA, A);
        h.memory.writeU64(DATA + 8, B);
        return h;
    }

    @Test
    void mmxComputesOnTheX87RegistersAndTagsThemValidWithTopZero() {
        try (Harness h = mmx(
                0x0F, 0x6F, 0x07,                                               // movq mm0, [rdi]
                0x0F, 0x6F, 0x4F, 0x08,                                         // movq mm1, [rdi+8]
                0x0F, 0x6F, 0x1F,                                               // movq mm3, [rdi]
                0x0F, 0xFC, 0xC1,                                               // paddb mm0, mm1
                0x0F, 0x7F, 0x47, 0x10,                                         // movq [rdi+16], mm0
                0x0F, 0x60, 0xD9,                                               // punpcklbw mm3, mm1
                0x0F, 0x7F, 0x5F, 0x18,                                         // movq [rdi+24], mm3
                0x0F, 0x73, 0xD1, 0x08,                                         // psrlq mm1, 8
                0x0F, 0x7F, 0x4F, 0x20,                                         // movq [rdi+32], mm1
                0x0F, 0xD7, 0xC1,                                               // pmovmskb eax, mm1
                0x0F, 0x70, 0xE0, 0x1B,                                         // pshufw mm4, mm0, 0x1b
                0x0F, 0x7F, 0x67, 0x28,                                         // movq [rdi+40], mm4
                0x48, 0x0F, 0x7E, 0xE3,                                         // movq rbx, mm4
                0x48, 0x0F, 0xAE, 0x87, 0x00, 0x01, 0x00, 0x00)) {              // fxsave64 [rdi+0x100]
            h.c.fpu.fsw = 0x3800;                                               // TOP 7 before
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(-1);
            assertThat(h.memory.readU64(DATA + 16)).isEqualTo(0x0003040506070809L);   // bytes wrap
            assertThat(h.memory.readU64(DATA + 24)).isEqualTo(0x0105010601070108L);   // low halves interleaved
            assertThat(h.memory.readU64(DATA + 32)).isEqualTo(0x00FF010101010101L);
            assertThat(h.reg(Cpu.RAX)).isEqualTo(0x40);                                // byte 6's top bit
            assertThat(h.memory.readU64(DATA + 40)).isEqualTo(0x0809060704050003L);   // words reversed
            assertThat(h.reg(Cpu.RBX)).isEqualTo(0x0809060704050003L);
            assertThat(h.memory.readU16(DATA + 0x100 + 2) & 0x3800).as("TOP").isZero();
            assertThat(h.memory.readU8(DATA + 0x100 + 4)).as("abridged tags").isEqualTo(0xFF);
            assertThat(h.memory.readU64(DATA + 0x100 + 32)).as("ST0 = R0 = MM0").isEqualTo(0x0003040506070809L);
            assertThat(h.memory.readU16(DATA + 0x100 + 40)).as("MM0's sign and exponent").isEqualTo(0xFFFF);
        }
    }

    @Test
    void emmsEmptiesTheTagsAgain() {
        try (Harness h = mmx(0x0F, 0x6F, 0x07, 0x0F, 0x77, 0x48, 0x0F, 0xAE, 0x87, 0x00, 0x01, 0x00, 0x00)) {
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(-1);
            assertThat(h.memory.readU8(DATA + 0x100 + 4)).isZero();
            assertThat(h.memory.readU64(DATA + 0x100 + 32)).isEqualTo(A);
        }
    }

    @Test
    void mmxFaultsAsX87UnderEmAndTsAndLeavesTheStateAlone() {
        int[] pxor = {0x0F, 0xEF, 0xC0};                                        // pxor mm0, mm0
        try (Harness h = mmx(pxor)) {
            h.c.cr0 |= Cpu.CR0_EM | Cpu.CR0_TS;
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.UD);
        }
        try (Harness h = mmx(pxor)) {
            h.c.cr0 |= Cpu.CR0_TS;
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.NM);
            assertThat(h.c.fpu.ftw).isEqualTo(0xFFFF);
        }
        try (Harness h = mmx(0x0F, 0x73, 0xF8, 0x01)) {                          // psllq mm0 /7: PSLLDQ has no MMX form
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.UD);
        }
    }
}
