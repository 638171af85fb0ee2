package vmm.emu.internal.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * The integer instructions in real mode, with results and flags worked out by
 * hand from the manuals' definitions. AF is masked where the manuals leave it
 * undefined (logic and shift results).
 */
class IntegerInstructionsTest {
    static final long CF = Cpu.CF, PF = Cpu.PF, AF = Cpu.AF, ZF = Cpu.ZF, SF = Cpu.SF, OF = Cpu.OF;

    private static Harness run(int... code) {
        Harness h = Harness.real(code);
        h.runToHalt();
        return h;
    }

    private static long al(Harness h) {
        return h.reg(Cpu.RAX) & 0xFF;
    }

    @Test
    void addThatWrapsToZeroSetsCarryZeroAuxiliaryAndParity() {
        try (Harness h = run(0xB0, 0xFF, 0x04, 0x01)) {             // mov al,0xff; add al,1
            assertThat(al(h)).isZero();
            assertThat(h.flags()).isEqualTo(CF | ZF | AF | PF);
        }
    }

    @Test
    void addIntoTheSignBitOverflows() {
        try (Harness h = run(0xB0, 0x7F, 0x04, 0x01)) {             // mov al,0x7f; add al,1
            assertThat(al(h)).isEqualTo(0x80);
            assertThat(h.flags()).isEqualTo(OF | SF | AF);
        }
    }

    @Test
    void subBelowZeroBorrows() {
        try (Harness h = run(0xB0, 0x00, 0x2C, 0x01)) {             // mov al,0; sub al,1
            assertThat(al(h)).isEqualTo(0xFF);
            assertThat(h.flags()).isEqualTo(CF | SF | AF | PF);
        }
    }

    @Test
    void adcAndSbbUseTheCarry() {
        try (Harness h = run(0xF9, 0xB0, 0xFF, 0x14, 0x00)) {       // stc; mov al,0xff; adc al,0
            assertThat(al(h)).isZero();
            assertThat(h.flags()).isEqualTo(CF | ZF | AF | PF);
        }
        try (Harness h = run(0xF9, 0xB0, 0x00, 0x1C, 0x00)) {       // stc; mov al,0; sbb al,0
            assertThat(al(h)).isEqualTo(0xFF);
            assertThat(h.flags()).isEqualTo(CF | SF | AF | PF);
        }
        try (Harness h = run(0xF9, 0xB0, 0x05, 0x1C, 0xFF)) {       // stc; mov al,5; sbb al,0xff: 5-255-1
            assertThat(al(h)).isEqualTo(0x05);
            assertThat(h.flags() & CF).isEqualTo(CF);
        }
    }

    @Test
    void incAndDecKeepTheCarry() {
        try (Harness h = run(0xF9, 0xB0, 0xFF, 0xFE, 0xC0)) {       // stc; mov al,0xff; inc al
            assertThat(al(h)).isZero();
            assertThat(h.flags()).isEqualTo(CF | ZF | AF | PF);
        }
        try (Harness h = run(0xF8, 0xB0, 0x80, 0xFE, 0xC8)) {       // clc; mov al,0x80; dec al
            assertThat(al(h)).isEqualTo(0x7F);
            assertThat(h.flags()).isEqualTo(OF | AF);
        }
    }

    @Test
    void negCmpAndLogic() {
        try (Harness h = run(0xB0, 0x01, 0xF6, 0xD8)) {             // mov al,1; neg al
            assertThat(al(h)).isEqualTo(0xFF);
            assertThat(h.flags()).isEqualTo(CF | SF | AF | PF);
        }
        try (Harness h = run(0xB0, 0x05, 0x3C, 0x07)) {             // mov al,5; cmp al,7
            assertThat(al(h)).isEqualTo(5);
            assertThat(h.flags()).isEqualTo(CF | SF | AF);
        }
        try (Harness h = run(0xF9, 0xB0, 0xF0, 0x24, 0x0F)) {       // stc; mov al,0xf0; and al,0x0f
            assertThat(al(h)).isZero();
            assertThat(h.flags() & ~AF).isEqualTo(ZF | PF);
        }
    }

    @Test
    void sixteenAndThirtyTwoBitOperandsByPrefix() {
        // mov ax,0xffff; add ax,1; mov edx,0x7fffffff; add edx,1 (66 prefix in 16-bit code)
        try (Harness h = run(0xB8, 0xFF, 0xFF, 0x05, 0x01, 0x00, 0x66, 0xBA, 0xFF, 0xFF, 0xFF, 0x7F, 0x66, 0x83, 0xC2,
                0x01)) {
            assertThat(h.reg(Cpu.RAX) & 0xFFFF).isZero();
            assertThat(h.reg(Cpu.RDX)).isEqualTo(0x80000000L);
            assertThat(h.flags()).isEqualTo(OF | SF | AF | PF);
        }
    }

    @Test
    void shiftsAndRotatesByOne() {
        long[][] cases = {
            // {opcode modrm byte, result, flags (AF masked)}
            {0xE0, 0x02, CF | OF},           // shl al,1 of 0x81
            {0xE8, 0x40, CF | OF},           // shr al,1
            {0xF8, 0xC0, CF | SF | PF},      // sar al,1
            {0xC0, 0x03, CF | OF | PF},      // rol al,1 (PF kept from mov: none set) -> checked below without PF
            {0xC8, 0xC0, CF},                // ror al,1
            {0xD0, 0x02, CF | OF},           // rcl al,1 with CF clear
        };
        for (long[] k : cases) {
            try (Harness h = run(0xF8, 0xB0, 0x81, 0xD0, (int) k[0])) {
                assertThat(al(h)).as("D0 %02x", k[0]).isEqualTo(k[1]);
                assertThat(h.flags() & (CF | OF)).as("D0 %02x flags", k[0]).isEqualTo(k[2] & (CF | OF));
            }
        }
        try (Harness h = run(0xF9, 0xB0, 0x01, 0xD0, 0xD8)) {       // stc; mov al,1; rcr al,1
            assertThat(al(h)).isEqualTo(0x80);
            assertThat(h.flags() & (CF | OF)).isEqualTo(CF | OF);
        }
        try (Harness h = run(0xF8, 0xB0, 0x81, 0xB1, 0x04, 0xD2, 0xD0)) { // clc; mov al,0x81; mov cl,4; rcl al,cl
            // 9-bit rotate of CF:1000_0001 left by 4: 0001_0000 with CF=0, then ...0100
            assertThat(al(h)).isEqualTo(0x14);
            assertThat(h.flags() & CF).isZero();
        }
    }

    @Test
    void multiplyAndDivide() {
        try (Harness h = run(0xB0, 0x80, 0xB3, 0x02, 0xF6, 0xE3)) { // mov al,0x80; mov bl,2; mul bl
            assertThat(h.reg(Cpu.RAX) & 0xFFFF).isEqualTo(0x100);
            assertThat(h.flags() & (CF | OF)).isEqualTo(CF | OF);
        }
        try (Harness h = run(0xB0, 0xFF, 0xB3, 0x02, 0xF6, 0xEB)) { // mov al,-1; mov bl,2; imul bl
            assertThat(h.reg(Cpu.RAX) & 0xFFFF).isEqualTo(0xFFFE);
            assertThat(h.flags() & (CF | OF)).isZero();
        }
        try (Harness h = run(0xB8, 0x01, 0x01, 0xB3, 0x02, 0xF6, 0xF3)) { // mov ax,0x101; mov bl,2; div bl
            assertThat(h.reg(Cpu.RAX) & 0xFFFF).isEqualTo(0x0180);
        }
        // mov eax,-7; cdq; mov ecx,2; idiv ecx -> eax=-3, edx=-1
        try (Harness h = run(0x66, 0xB8, 0xF9, 0xFF, 0xFF, 0xFF, 0x66, 0x99, 0x66, 0xB9, 0x02, 0, 0, 0, 0x66, 0xF7,
                0xF9)) {
            assertThat(h.reg(Cpu.RAX)).isEqualTo(0xFFFFFFFDL);
            assertThat(h.reg(Cpu.RDX)).isEqualTo(0xFFFFFFFFL);
        }
        // imul cx, ax, 300 with ax=200 (69 /r iw): 60000 does not fit a signed word
        try (Harness h = run(0xB8, 0xC8, 0x00, 0x69, 0xC8, 0x2C, 0x01)) {
            assertThat(h.reg(Cpu.RCX) & 0xFFFF).isEqualTo(60000 & 0xFFFF);
            assertThat(h.flags() & (CF | OF)).isEqualTo(CF | OF);
        }
    }

    @Test
    void divideByZeroAndQuotientOverflowRaiseDivideErrorAtTheDivide() {
        int[][] programs = {
            {0xB8, 0x01, 0x00, 0xB3, 0x00, 0xF6, 0xF3},             // mov ax,1; mov bl,0; div bl
            {0xB8, 0x00, 0x80, 0xB3, 0xFF, 0xF6, 0xFB},             // mov ax,0x8000; mov bl,-1; idiv bl
        };
        for (int[] p : programs) {
            try (Harness h = Harness.real(p)) {
                h.memory.writeU32(0, 0x2000);                       // IVT[0] = 0000:2000
                h.load(0x2000, 0xF4);
                h.runToHalt();
                assertThat(h.c.rip).isEqualTo(0x2001);
                assertThat(h.memory.readU16(Harness.STACK - 6)).isEqualTo((int) Harness.CODE + 5); // the DIV
            }
        }
    }

    @Test
    void bitTestAndScan() {
        // mov ax,0x10; bsf cx,ax; bsr dx,ax; bt ax,4; bts ax,0
        try (Harness h = run(0xB8, 0x10, 0x00, 0x0F, 0xBC, 0xC8, 0x0F, 0xBD, 0xD0, 0x0F, 0xBA, 0xE0, 0x04, 0x0F, 0xBA,
                0xE8, 0x00)) {
            assertThat(h.reg(Cpu.RCX) & 0xFFFF).isEqualTo(4);
            assertThat(h.reg(Cpu.RDX) & 0xFFFF).isEqualTo(4);
            assertThat(h.reg(Cpu.RAX) & 0xFFFF).isEqualTo(0x11);
            assertThat(h.flags() & CF).isZero(); // bit 0 was clear before BTS
        }
        // mov cx,0x1234; xor ax,ax; bsf cx,ax: ZF, CX unchanged
        try (Harness h = run(0xB9, 0x34, 0x12, 0x31, 0xC0, 0x0F, 0xBC, 0xC8)) {
            assertThat(h.reg(Cpu.RCX) & 0xFFFF).isEqualTo(0x1234);
            assertThat(h.flags() & ZF).isEqualTo(ZF);
        }
    }

    @Test
    void setccCmovccMovzxMovsx() {
        // mov al,1; cmp al,2; setb cl; setg dl; mov bx,7; cmovb si,bx; movsx di,al ... (al=1)
        try (Harness h = run(0xB0, 0x01, 0x3C, 0x02, 0x0F, 0x92, 0xC1, 0x0F, 0x9F, 0xC2, 0xBB, 0x07, 0x00, 0x0F, 0x42,
                0xF3, 0xB0, 0x80, 0x0F, 0xBE, 0xF8, 0x0F, 0xB6, 0xE8)) {
            assertThat(h.reg(Cpu.RCX) & 0xFF).isEqualTo(1);
            assertThat(h.reg(Cpu.RDX) & 0xFF).isEqualTo(0);
            assertThat(h.reg(Cpu.RSI) & 0xFFFF).isEqualTo(7);
            assertThat(h.reg(Cpu.RDI) & 0xFFFF).isEqualTo(0xFF80);
            assertThat(h.reg(Cpu.RBP) & 0xFFFF).isEqualTo(0x0080);
        }
    }

    @Test
    void signedConditionsUseOverflowAndSign() {
        // mov al,0x80; cmp al,1 (-128 - 1 overflows: OF=1, SF=0); setl dl; setg dh; seto cl; setbe ch
        try (Harness h = run(0xB0, 0x80, 0x3C, 0x01, 0x0F, 0x9C, 0xC2, 0x0F, 0x9F, 0xC6, 0x0F, 0x90, 0xC1, 0x0F, 0x96,
                0xC5)) {
            assertThat(h.reg(Cpu.RDX) & 0xFFFF).isEqualTo(0x0001);  // less, not greater
            assertThat(h.reg(Cpu.RCX) & 0xFFFF).isEqualTo(0x0001);  // overflow; not below-or-equal (0x80 > 1 unsigned)
        }
        // mov al,0x7f; inc al (OF=1, SF=1): setge dl (SF == OF)
        try (Harness h = run(0xB0, 0x7F, 0xFE, 0xC0, 0x0F, 0x9D, 0xC2)) {
            assertThat(h.reg(Cpu.RDX) & 0xFF).isEqualTo(1);
        }
    }

    @Test
    void xchgXaddCmpxchg() {
        // mov ax,1; mov bx,2; xadd ax,bx -> ax=3 bx=1; xchg cx,ax -> cx=3
        try (Harness h = run(0xB8, 0x01, 0x00, 0xBB, 0x02, 0x00, 0x0F, 0xC1, 0xD8, 0x91)) {
            assertThat(h.reg(Cpu.RCX) & 0xFFFF).isEqualTo(3);
            assertThat(h.reg(Cpu.RBX) & 0xFFFF).isEqualTo(1);
        }
        // mov ax,5; mov bx,5; mov cx,9; cmpxchg bx,cx -> bx=9 ZF; cmpxchg bx,cx again (ax=5 != 9) -> ax=9, not ZF
        try (Harness h = run(0xB8, 0x05, 0x00, 0xBB, 0x05, 0x00, 0xB9, 0x09, 0x00, 0x0F, 0xB1, 0xCB, 0x9C, 0x0F, 0xB1,
                0xCB)) {
            assertThat(h.reg(Cpu.RBX) & 0xFFFF).isEqualTo(9);
            assertThat(h.reg(Cpu.RAX) & 0xFFFF).isEqualTo(9);
            assertThat(h.memory.readU16(Harness.STACK - 2) & ZF).isEqualTo(ZF); // the first one's flags
            assertThat(h.flags() & ZF).isZero();
        }
    }

    @Test
    void stringInstructionsWithRepeats() {
        try (Harness h = Harness.real(
                0xBE, 0x00, 0x30,          // mov si,0x3000
                0xBF, 0x00, 0x40,          // mov di,0x4000
                0xB9, 0x05, 0x00,          // mov cx,5
                0xFC, 0xF3, 0xA4,          // cld; rep movsb
                0xBF, 0x00, 0x50,          // mov di,0x5000
                0xB8, 0x41, 0x42,          // mov ax,0x4241
                0xB9, 0x03, 0x00,          // mov cx,3
                0xF3, 0xAB,                // rep stosw
                0xBE, 0x00, 0x30,          // mov si,0x3000
                0xBF, 0x00, 0x60,          // mov di,0x6000
                0xB9, 0x05, 0x00,          // mov cx,5
                0xF3, 0xA6,                // repe cmpsb  (stops after the 3rd byte, which differs)
                0x89, 0xCA,                // mov dx,cx
                0xBF, 0x00, 0x30,          // mov di,0x3000
                0xB0, 0x64,                // mov al,'d'
                0xB9, 0x05, 0x00,          // mov cx,5
                0xF2, 0xAE)) {             // repne scasb (finds 'd' at index 3)
            h.memory.write(0x3000, "abcde".getBytes(), 0, 5);
            h.memory.write(0x6000, "abXde".getBytes(), 0, 5);
            h.runToHalt();
            byte[] b = new byte[5];
            h.memory.read(0x4000, b, 0, 5);
            assertThat(new String(b)).isEqualTo("abcde");
            h.memory.read(0x5000, b, 0, 5);
            assertThat(new String(b, 0, 5)).isEqualTo("ABABA");
            assertThat(h.reg(Cpu.RDX) & 0xFFFF).isEqualTo(2);
            assertThat(h.reg(Cpu.RDI) & 0xFFFF).isEqualTo(0x3004);
            assertThat(h.reg(Cpu.RCX) & 0xFFFF).isEqualTo(1);
        }
    }

    @Test
    void largeRepStosAndMovsCoverEveryByteAcrossPages() {
        // mov di,0x1800 es=0x1000: rep stosd 0x2000 dwords of 0x11223344 at 0x11800, then rep movsb 0x6000 bytes
        try (Harness h = Harness.real(
                0xB8, 0x00, 0x10, 0x8E, 0xC0,          // mov ax,0x1000; mov es,ax
                0xBF, 0x00, 0x18,                      // mov di,0x1800
                0x66, 0xB8, 0x44, 0x33, 0x22, 0x11,    // mov eax,0x11223344
                0xB9, 0x00, 0x20, 0xF3, 0x66, 0xAB,    // mov cx,0x2000; rep stosd
                0xB8, 0x00, 0x30, 0x8E, 0xC0,          // mov ax,0x3000; mov es,ax
                0xB8, 0x00, 0x10, 0x8E, 0xD8,          // mov ax,0x1000; mov ds,ax
                0xBE, 0x00, 0x18, 0xBF, 0x00, 0x00,    // mov si,0x1800; mov di,0
                0xB9, 0x00, 0x60, 0xF3, 0xA4)) {       // mov cx,0x6000; rep movsb
            h.runToHalt();
            for (long a = 0x11800; a < 0x11800 + 0x8000; a += 4) assertThat(h.memory.readU32(a)).isEqualTo(0x11223344L);
            assertThat(h.memory.readU32(0x11800 + 0x8000)).isZero();
            for (long a = 0x30000; a < 0x36000; a += 4) assertThat(h.memory.readU32(a)).isEqualTo(0x11223344L);
            assertThat(h.memory.readU32(0x36000)).isZero();
            assertThat(h.reg(Cpu.RCX) & 0xFFFF).isZero();
        }
    }

    @Test
    void stackFramesPushaPopaEnterLeave() {
        try (Harness h = run(
                0xB8, 0x11, 0x11, 0xBB, 0x22, 0x22, 0x60,  // mov ax; mov bx; pusha
                0x31, 0xC0, 0x31, 0xDB, 0x61,              // xor ax,ax; xor bx,bx; popa
                0xC8, 0x10, 0x00, 0x00,                    // enter 16,0
                0x89, 0xE1,                                // mov cx,sp
                0xC9)) {                                   // leave
            assertThat(h.reg(Cpu.RAX) & 0xFFFF).isEqualTo(0x1111);
            assertThat(h.reg(Cpu.RBX) & 0xFFFF).isEqualTo(0x2222);
            assertThat(h.reg(Cpu.RCX) & 0xFFFF).isEqualTo(Harness.STACK - 2 - 16);
            assertThat(h.reg(Cpu.RSP) & 0xFFFF).isEqualTo(Harness.STACK);
        }
    }

    @Test
    void callRetLoopAndJcxz() {
        try (Harness h = run(
                0xB9, 0x05, 0x00,          // mov cx,5
                0x31, 0xC0,                // xor ax,ax
                0x40,                      // l: inc ax
                0xE2, 0xFD,                // loop l
                0xE3, 0x02,                // jcxz +2
                0xB0, 0x63,                // (skipped) mov al,99
                0xE8, 0x01, 0x00,          // call +1
                0xF4,                      // hlt (after return)
                0x43, 0xC3)) {             // inc bx; ret
            assertThat(h.reg(Cpu.RAX) & 0xFFFF).isEqualTo(5);
            assertThat(h.reg(Cpu.RBX) & 0xFFFF).isEqualTo(1);
            assertThat(h.c.rip).isEqualTo(Harness.CODE + 16);
        }
    }

    @Test
    void decimalAndAsciiAdjust() {
        try (Harness h = run(0xB0, 0x79, 0x04, 0x35, 0x27)) {       // mov al,0x79; add al,0x35; daa
            assertThat(al(h)).isEqualTo(0x14);
            assertThat(h.flags() & CF).isEqualTo(CF);
        }
        try (Harness h = run(0xB0, 0x35, 0x2C, 0x47, 0x2F)) {       // mov al,0x35; sub al,0x47; das
            assertThat(al(h)).isEqualTo(0x88);
            assertThat(h.flags() & CF).isEqualTo(CF);
        }
        try (Harness h = run(0xB8, 0x09, 0x00, 0x04, 0x01, 0x37)) { // mov ax,9; add al,1; aaa
            assertThat(h.reg(Cpu.RAX) & 0xFFFF).isEqualTo(0x0100);
            assertThat(h.flags() & (CF | AF)).isEqualTo(CF | AF);
        }
        try (Harness h = run(0xB0, 0x4F, 0xD4, 0x0A)) {             // mov al,79; aam
            assertThat(h.reg(Cpu.RAX) & 0xFFFF).isEqualTo(0x0709);
        }
        try (Harness h = run(0xB8, 0x09, 0x07, 0xD5, 0x0A)) {       // mov ax,0x0709; aad
            assertThat(h.reg(Cpu.RAX) & 0xFFFF).isEqualTo(0x004F);
        }
    }

    @Test
    void conversionsFlagsTransfersXlatAndBswap() {
        try (Harness h = Harness.real(0xB0, 0x80, 0x98,             // mov al,0x80; cbw
                0x99,                                               // cwd
                0xB4, 0xD5, 0x9E,                                   // mov ah,0xd5; sahf
                0x9F,                                               // lahf
                0xBB, 0x00, 0x30, 0xB0, 0x02, 0xD7,                 // mov bx,0x3000; mov al,2; xlat
                0x66, 0xB9, 0x11, 0x22, 0x33, 0x44, 0x66, 0x0F, 0xC9)) { // mov ecx,0x44332211; bswap ecx
            h.memory.write(0x3000, new byte[] {10, 20, 30}, 0, 3);
            h.runToHalt();
            assertThat(h.reg(Cpu.RDX) & 0xFFFF).isEqualTo(0xFFFF);
            assertThat((h.reg(Cpu.RAX) >> 8) & 0xFF).isEqualTo(0xD7); // SF ZF AF PF CF with bit 1
            assertThat(al(h)).isEqualTo(30);
            assertThat(h.reg(Cpu.RCX)).isEqualTo(0x11223344L);
        }
    }

    @Test
    void cpuidDescribesTheModel() {
        try (Harness h = run(0x66, 0x31, 0xC0, 0x0F, 0xA2)) {       // xor eax,eax; cpuid
            assertThat(h.reg(Cpu.RBX)).isEqualTo(0x68747541L);      // "Auth"
            assertThat(h.reg(Cpu.RDX)).isEqualTo(0x69746E65L);      // "enti"
            assertThat(h.reg(Cpu.RCX)).isEqualTo(0x444D4163L);      // "cAMD"
            assertThat(h.reg(Cpu.RAX)).isLessThan(0x15);            // leaves 0x15/0x16 hidden
        }
        try (Harness h = run(0x66, 0xB8, 0x01, 0, 0, 0, 0x0F, 0xA2)) { // mov eax,1; cpuid
            assertThat(h.reg(Cpu.RCX) & (1L << 31)).isNotZero();     // hypervisor
            assertThat(h.reg(Cpu.RDX) & 1 << 23).isNotZero();        // MMX (glibc's x86-64 baseline needs it)
            assertThat(h.reg(Cpu.RBX) >>> 24).isZero();              // APIC ID = vCPU 0
        }
    }

    @Test
    void rdtscRunsForwardAndMsrsRoundTrip() {
        // rdtsc; mov esi,eax; rdtsc; wrmsr/rdmsr of IA32_SYSENTER_CS (0x174)
        try (Harness h = run(0x0F, 0x31, 0x66, 0x89, 0xC6, 0x66, 0x89, 0xD7, 0x0F, 0x31,
                0x66, 0xB9, 0x74, 0x01, 0, 0, 0x66, 0xB8, 0x78, 0x56, 0x34, 0x12, 0x66, 0x31, 0xD2, 0x0F, 0x30,
                0x66, 0x31, 0xC0, 0x0F, 0x32, 0x66, 0x89, 0xC3)) {
            long first = h.reg(Cpu.RDI) << 32 | h.reg(Cpu.RSI);
            assertThat(h.reg(Cpu.RBX)).isEqualTo(0x12345678L);
            assertThat(first).isGreaterThanOrEqualTo(0);
        }
    }

    @Test
    void undefinedOpcodesRaiseInvalidOpcode() {
        for (int[] p : new int[][] {{0x0F, 0x0B}, {0x0F, 0xFF, 0xC0}, {0xD9, 0xE8}, {0x0F, 0x10, 0xC0}}) {
            try (Harness h = Harness.real(p)) {
                h.memory.writeU32(6 * 4, 0x2000);                   // IVT[6] = 0000:2000
                h.load(0x2000, 0xF4);
                h.runToHalt();
                assertThat(h.c.rip).as("%02x %02x", p[0], p[1]).isEqualTo(0x2001);
                assertThat(h.memory.readU16(Harness.STACK - 6)).isEqualTo((int) Harness.CODE);
            }
        }
    }

    @Test
    void bigRealModeKeepsTheSegmentLimitFromProtectedMode() {
        // ds cache: base 0, limit 4 GiB (as after a switch to protected mode and back); then mov ds,ax keeps it
        try (Harness h = Harness.real(0x31, 0xC0, 0x8E, 0xD8,       // xor ax,ax; mov ds,ax
                0x66, 0xBB, 0x00, 0x00, 0x10, 0x00,                 // mov ebx,0x100000
                0x67, 0x66, 0xC7, 0x03, 0x78, 0x56, 0x34, 0x12)) {  // mov dword [ebx],0x12345678
            h.c.setSegment(Cpu.DS, new vmm.core.hypervisor.Segment(0, 0xFFFFFFFF, 0, 3, true, 0, true, true, false,
                    true, false, false));
            h.runToHalt();
            assertThat(h.memory.readU32(0x100000)).isEqualTo(0x12345678L);
        }
    }
}
