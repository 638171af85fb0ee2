package vmm.emu.internal.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * x87 control, FXSAVE/FXRSTOR, MXCSR and the CR0/CR4 rules of SSE; what the differential test
 * against the host cannot show (faults, system state). Data at {@link #DATA} (16-byte aligned).
 */
class FpuAndSseTest {
    static final long DATA = 0x9000;
    /** RDI = DATA: mov edi, 0x9000. */
    static final int[] EDI = {0xBF, 0x00, 0x90, 0x00, 0x00};

    private static int[] code(int[]... parts) {
        int n = 0;
        for (int[] p : parts) n += p.length;
        int[] all = new int[n];
        int at = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return all;
    }

    private static Harness sse(int... code) {
        Harness h = Harness.long64(code(EDI, code));
        h.c.cr4 |= Cpu.CR4_OSFXSR | Cpu.CR4_OSXMMEXCPT;
        h.c.cr0 |= Cpu.CR0_MP | Cpu.CR0_NE;
        return h;
    }

    @Test
    void sseWithoutOsfxsrIsUndefinedAndWithTsIsDeviceNotAvailable() {
        int[] pxor = {0x66, 0x0F, 0xEF, 0xC0};                                  // pxor xmm0, xmm0
        try (Harness h = Harness.long64(pxor)) {
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.UD);
        }
        try (Harness h = sse(0xF0, 0x66, 0x0F, 0xEF, 0x07)) {                  // lock pxor xmm0, [rdi]
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.UD);
        }
        try (Harness h = sse(pxor)) {
            h.c.cr0 |= Cpu.CR0_TS;
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.NM);
        }
        try (Harness h = sse(pxor)) {
            h.c.cr0 |= Cpu.CR0_EM;                                              // EM: #UD before TS's #NM
            h.c.cr0 |= Cpu.CR0_TS;
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.UD);
        }
    }

    @Test
    void x87ControlWordsAndTheirFaults() {
        // fninit; fnstcw [rdi]; fldcw [rdi+2]; fnstcw [rdi+4]; fnstsw ax; fnclex
        try (Harness h = sse(0xDB, 0xE3, 0xD9, 0x3F, 0xD9, 0x6F, 0x02, 0xD9, 0x7F, 0x04, 0xDF, 0xE0, 0xDB, 0xE2)) {
            h.memory.writeU16(DATA + 2, 0x027F);
            h.c.r[Cpu.RAX] = -1;
            h.runToHalt();
            assertThat(h.memory.readU16(DATA)).isEqualTo(0x037F);
            assertThat(h.memory.readU16(DATA + 4)).isEqualTo(0x027F);
            assertThat(h.reg(Cpu.RAX) & 0xFFFF).isZero();
        }
        try (Harness h = sse(0xDB, 0xE3)) {                                     // fninit under CR0.TS
            h.c.cr0 |= Cpu.CR0_TS;
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.NM);
        }
        try (Harness h = sse(0x9B)) {                                           // fwait under TS and MP
            h.c.cr0 |= Cpu.CR0_TS;
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.NM);
        }
        try (Harness h = sse(0xD8, 0xC1)) {                                     // fadd st, st(1): no x87 arithmetic
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.UD);
        }
    }

    @Test
    void fxsave64LaysOutTheLegacyAreaAndFxrstorLoadsIt() {
        // movdqu xmm15, [rdi+0x200]; ldmxcsr [rdi+0x210]; fninit; fxsave64 [rdi]
        try (Harness h = sse(0xF3, 0x44, 0x0F, 0x6F, 0xBF, 0x00, 0x02, 0, 0, 0x0F, 0xAE, 0x97, 0x10, 0x02, 0, 0, 0xDB,
                0xE3, 0x48, 0x0F, 0xAE, 0x07)) {
            h.memory.writeU64(DATA + 0x200, 0x1122334455667788L);
            h.memory.writeU64(DATA + 0x208, 0x99AABBCCDDEEFF00L);
            h.memory.writeU32(DATA + 0x210, 0x3F80 | FpuState.PE);
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(-1);
            assertThat(h.memory.readU16(DATA)).isEqualTo(0x037F);               // FCW
            assertThat(h.memory.readU8(DATA + 4)).isZero();                     // abridged tags: all empty
            assertThat(h.memory.readU32(DATA + 24)).isEqualTo(0x3F80 | FpuState.PE);
            assertThat(h.memory.readU32(DATA + 28)).isEqualTo(0xFFFF);          // MXCSR_MASK: DAZ supported
            assertThat(h.memory.readU64(DATA + 160 + 16 * 15)).isEqualTo(0x1122334455667788L);
            assertThat(h.memory.readU64(DATA + 160 + 16 * 15 + 8)).isEqualTo(0x99AABBCCDDEEFF00L);
        }
        // fxrstor64 [rdi]; movdqu [rdi+0x300], xmm3; stmxcsr [rdi+0x310]
        try (Harness h = sse(0x48, 0x0F, 0xAE, 0x0F, 0xF3, 0x0F, 0x7F, 0x9F, 0x00, 0x03, 0, 0, 0x0F, 0xAE, 0x9F, 0x10,
                0x03, 0, 0)) {
            h.memory.writeU16(DATA, 0x037F);
            h.memory.writeU32(DATA + 24, 0x9FC0);
            h.memory.writeU64(DATA + 160 + 48, 0xCAFEL);
            h.memory.writeU64(DATA + 160 + 56, 0xBEEFL);
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(-1);
            assertThat(h.memory.readU64(DATA + 0x300)).isEqualTo(0xCAFEL);
            assertThat(h.memory.readU64(DATA + 0x308)).isEqualTo(0xBEEFL);
            assertThat(h.memory.readU32(DATA + 0x310)).isEqualTo(0x9FC0);
        }
    }

    @Test
    void fxsaveNeedsAlignmentAndFxrstorRefusesReservedMxcsrBits() {
        try (Harness h = sse(0x0F, 0xAE, 0x47, 0x08)) {                         // fxsave [rdi+8]
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.GP);
        }
        try (Harness h = sse(0x0F, 0xAE, 0x0F)) {                               // fxrstor [rdi]
            h.memory.writeU32(DATA + 24, 0x10000);
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.GP);
        }
        try (Harness h = sse(0x0F, 0xAE, 0x17)) {                               // ldmxcsr [rdi]
            h.memory.writeU32(DATA, 0x1F80 | 1 << 16);
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.GP);
        }
    }

    @Test
    void anUnmaskedDivideByZeroRaisesXmAndLeavesTheDestination() {
        // ldmxcsr [rdi]; movsd xmm0, [rdi+8]; xorpd xmm1, xmm1; divsd xmm0, xmm1
        int[] prog = {0x0F, 0xAE, 0x17, 0xF2, 0x0F, 0x10, 0x47, 0x08, 0x66, 0x0F, 0x57, 0xC9, 0xF2, 0x0F, 0x5E, 0xC1};
        try (Harness h = sse(prog)) {
            h.memory.writeU32(DATA, 0x1F80 & ~(FpuState.ZE << FpuState.MASK_SHIFT));
            h.memory.writeU64(DATA + 8, Double.doubleToLongBits(3.0));
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(SseFloat.XM);
            assertThat(h.c.fpu.xmm[0]).isEqualTo(Double.doubleToLongBits(3.0));
            assertThat(h.c.fpu.mxcsr & FpuState.FLAGS).isEqualTo(FpuState.ZE);
        }
        try (Harness h = sse(prog)) {
            h.c.cr4 &= ~Cpu.CR4_OSXMMEXCPT;
            h.memory.writeU32(DATA, 0x1F80 & ~(FpuState.ZE << FpuState.MASK_SHIFT));
            h.memory.writeU64(DATA + 8, Double.doubleToLongBits(3.0));
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.UD);
        }
    }

    @Test
    void roundingControlAndFlagsOfMaskedExceptions() {
        // ldmxcsr [rdi]; movsd xmm0, [rdi+8]; divsd xmm0, [rdi+16]; movsd [rdi+24], xmm0; stmxcsr [rdi+32]
        int[] prog = {0x0F, 0xAE, 0x17, 0xF2, 0x0F, 0x10, 0x47, 0x08, 0xF2, 0x0F, 0x5E, 0x47, 0x10, 0xF2, 0x0F, 0x11,
            0x47, 0x18, 0x0F, 0xAE, 0x5F, 0x20};
        for (int rc = 0; rc < 4; rc++) {
            try (Harness h = sse(prog)) {
                h.memory.writeU32(DATA, 0x1F80 | rc << FpuState.RC_SHIFT);
                h.memory.writeU64(DATA + 8, Double.doubleToLongBits(1.0));
                h.memory.writeU64(DATA + 16, Double.doubleToLongBits(3.0));
                h.runToHalt();
                double q = Double.longBitsToDouble(h.memory.readU64(DATA + 24));
                double nearest = 1.0 / 3.0;                                     // rounded down, as it happens
                assertThat(q).isEqualTo(rc == FpuState.RC_UP ? Math.nextUp(nearest) : nearest);
                assertThat(h.memory.readU32(DATA + 32) & FpuState.FLAGS).isEqualTo(FpuState.PE);
            }
        }
    }

    @Test
    void cmpxchg16bComparesAndSwapsSixteenAlignedBytes() {
        // lock cmpxchg16b [rdi]
        try (Harness h = sse(0xF0, 0x48, 0x0F, 0xC7, 0x0F)) {
            h.memory.writeU64(DATA, 1);
            h.memory.writeU64(DATA + 8, 2);
            h.c.r[Cpu.RAX] = 1;
            h.c.r[Cpu.RDX] = 2;
            h.c.r[Cpu.RBX] = 3;
            h.c.r[Cpu.RCX] = 4;
            h.runToHalt();
            assertThat(h.memory.readU64(DATA)).isEqualTo(3);
            assertThat(h.memory.readU64(DATA + 8)).isEqualTo(4);
            assertThat(h.flags() & Cpu.ZF).isEqualTo(Cpu.ZF);
        }
        try (Harness h = sse(0xF0, 0x48, 0x0F, 0xC7, 0x0F)) {
            h.memory.writeU64(DATA, 5);
            h.memory.writeU64(DATA + 8, 6);
            h.runToHalt();
            assertThat(h.reg(Cpu.RAX)).isEqualTo(5);
            assertThat(h.reg(Cpu.RDX)).isEqualTo(6);
            assertThat(h.flags() & Cpu.ZF).isZero();
        }
        try (Harness h = sse(0x48, 0x0F, 0xC7, 0x4F, 0x08)) {                   // cmpxchg16b [rdi+8]: misaligned
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.GP);
        }
    }

    @Test
    void cpuidAdvertisesExactlyTheImplementedFeatures() {
        int[] l1 = CpuidModel.leaf(1, 0, 0, 1, true);
        int edx = l1[3], ecx = l1[2];
        for (int bit : new int[] {0, 4, 5, 6, 8, 9, 12, 13, 15, 16, 19, 23, 24, 25, 26}) {
            assertThat(edx & 1 << bit).as("leaf 1 EDX bit %d", bit).isNotZero();
        }
        for (int bit : new int[] {11}) assertThat(edx & 1 << bit).as("leaf 1 EDX bit %d", bit).isZero();
        assertThat(ecx).as("only CX16 and the hypervisor bit").isEqualTo(1 << 13 | 1 << 31);
        assertThat(l1[1] >>> 8 & 0xFF).as("CLFLUSH line size in 8-byte units").isEqualTo(8);
        int ext = CpuidModel.leaf(0x80000001, 0, 0, 1, true)[3];
        for (int bit : new int[] {11, 20, 27, 29}) assertThat(ext & 1 << bit).as("ext EDX bit %d", bit).isNotZero();
        assertThat(CpuidModel.leaf(0x80000007, 0, 0, 2, true)[3]).as("the invariant TSC, only").isEqualTo(1 << 8);
    }

    @Test
    void mtrrAndPatMsrsAreATableWithTheHardwaresChecks() {
        try (Harness h = sse()) {
            Machine m = h.machine;
            assertThat(m.readMsr(MtrrMsrs.MTRRCAP)).isEqualTo(0x508L);
            assertThat(m.readMsr(MtrrMsrs.PAT)).isEqualTo(MtrrMsrs.PAT_RESET);
            assertThat(m.readMsr(0x251)).as("not an MTRR").isNull();
            assertThat(m.writeMsr(MtrrMsrs.PAT, 0x0007010600070406L)).isTrue();
            assertThat(m.writeMsr(MtrrMsrs.PAT, 0x0007020600070406L)).as("type 2 is reserved").isFalse();
            assertThat(m.writeMsr(MtrrMsrs.PHYSBASE0, 0x80000006L)).isTrue();
            assertThat(m.writeMsr(MtrrMsrs.PHYSBASE0 + 1, 0xFF80000800L)).isTrue();
            assertThat(m.writeMsr(MtrrMsrs.PHYSBASE0 + 1, 0x10000000800L)).as("beyond 40 address bits").isFalse();
            assertThat(m.writeMsr(MtrrMsrs.FIX4K_C0000, 0x0505050505050505L)).isTrue();
            assertThat(m.writeMsr(MtrrMsrs.FIX4K_C0000, 0x0505050505050507L)).as("UC- is not an MTRR type").isFalse();
            assertThat(m.writeMsr(MtrrMsrs.DEF_TYPE, 0xC06)).isTrue();
            assertThat(m.readMsr(MtrrMsrs.DEF_TYPE)).isEqualTo(0xC06L);
            assertThat(m.writeMsr(MtrrMsrs.MTRRCAP, 0)).as("read-only").isFalse();
            assertThat(m.readMsr(SystemOps.HWCR)).isZero();
            assertThat(m.writeMsr(SystemOps.HWCR, 0x40)).isTrue();
            assertThat(m.readMsr(SystemOps.SYSCFG)).as("Linux's MTRR code reads it unchecked on AMD").isZero();
            assertThat(m.readMsr(SystemOps.INT_PENDING_MSG)).as("Linux reads it unchecked for erratum 400").isZero();
        }
    }

    @Test
    void clflushChecksItsAddressOnly() {
        try (Harness h = sse(0x0F, 0xAE, 0x3F)) {                               // clflush [rdi]
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(-1);
        }
        try (Harness h = sse(0x48, 0x0F, 0xBA, 0xEF, 0x3F, 0x0F, 0xAE, 0x3F)) {  // bts rdi, 63; clflush [rdi]
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.GP);
        }
    }

    @Test
    void syscallFromCompatibilityModeEntersAtCstar() {
        try (Harness h = Harness.long64(0x0F, 0x05)) {                         // syscall, in 32-bit code
            h.c.setSegment(Cpu.CS, vmm.core.hypervisor.Segment.flat32(Harness.CODE32, true));
            h.c.efer |= Cpu.EFER_SCE;
            h.machine.writeMsr(SystemOps.STAR, (long) Harness.CODE64 << 32);
            h.machine.writeMsr(SystemOps.LSTAR, 0x6000);
            h.machine.writeMsr(SystemOps.CSTAR, 0x4000);
            h.machine.stateChanged();
            h.machine.step(h.ports, h.mmio, 1);
            assertThat(h.c.rip).isEqualTo(0x4000);
            assertThat(h.c.codeBits).isEqualTo(64);
            assertThat(h.reg(Cpu.RCX)).isEqualTo(Harness.CODE + 2);
        }
    }

    @Test
    void linuxsFxsaveLeakWorkaroundRunsAndFxsaveStoresTheStackInOrder() {
        // fnclex; emms; fild dword [rdi+0x200]; fild dword [rdi+0x204]; fxsave [rdi]
        try (Harness h = sse(0xDB, 0xE2, 0x0F, 0x77, 0xDB, 0x87, 0x00, 0x02, 0, 0, 0xDB, 0x87, 0x04, 0x02, 0, 0, 0x0F,
                0xAE, 0x07)) {
            h.memory.writeU32(DATA + 0x200, 1);
            h.memory.writeU32(DATA + 0x204, -6);
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(-1);
            assertThat(h.memory.readU16(DATA + 2) >>> 11 & 7).as("TOP after two pushes").isEqualTo(6);
            assertThat(h.memory.readU8(DATA + 4)).as("R6 and R7 in use").isEqualTo(0xC0);
            // ST(0) = -6 = -1.5 * 2^2: mantissa 0xC000..., exponent 16385 with the sign
            assertThat(h.memory.readU64(DATA + 32)).isEqualTo(0xC000000000000000L);
            assertThat(h.memory.readU16(DATA + 40)).isEqualTo(0x8000 | 16385);
            // ST(1) = 1
            assertThat(h.memory.readU64(DATA + 48)).isEqualTo(0x8000000000000000L);
            assertThat(h.memory.readU16(DATA + 56)).isEqualTo(16383);
        }
        try (Harness h = sse(0x0F, 0x77)) {                                     // emms under CR0.TS
            h.c.cr0 |= Cpu.CR0_TS;
            h.runToHalt();
            assertThat(h.vectorTaken()).isEqualTo(CpuFault.NM);
        }
    }

    @Test
    void overflowTowardZeroIsSignalledOnlyWhenTheExactSumReachesTwoToThe1024() {
        long max = Double.doubleToLongBits(Double.MAX_VALUE), halfUlp = Double.doubleToLongBits(0x1p970);
        SseFloat nearest = new SseFloat(0x1F80);
        assertThat(nearest.binop(SseFloat.ADD, max, halfUlp, true)).isEqualTo(Double.doubleToLongBits(
                Double.POSITIVE_INFINITY));
        assertThat(nearest.flags).isEqualTo(FpuState.OE | FpuState.PE);
        SseFloat towardZero = new SseFloat(0x1F80 | FpuState.RC_ZERO << FpuState.RC_SHIFT);
        assertThat(towardZero.binop(SseFloat.ADD, max, halfUlp, true)).isEqualTo(max);
        assertThat(towardZero.flags).as("below 2^1024: no overflow").isEqualTo(FpuState.PE);
        SseFloat towardZero2 = new SseFloat(0x1F80 | FpuState.RC_ZERO << FpuState.RC_SHIFT);
        assertThat(towardZero2.binop(SseFloat.ADD, max, max, true)).isEqualTo(max);
        assertThat(towardZero2.flags).isEqualTo(FpuState.OE | FpuState.PE);
    }
}
