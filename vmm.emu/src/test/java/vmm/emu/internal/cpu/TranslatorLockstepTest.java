package vmm.emu.internal.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import org.junit.jupiter.api.Test;

import vmm.core.hypervisor.VcpuExit;
import vmm.emu.internal.jit.Jit;

/**
 * The bytecode translator against the interpreter, its reference: the same guest program on two CPUs, one
 * interpreting and one with every translatable block compiled at its first run, stepped by the same random
 * instruction counts and compared after each step (registers, RIP, RFLAGS, instruction count, CR2, the data
 * page). Random loops of the forms the translator compiles, mixed with forms it leaves to the interpreter, in
 * real, 32-bit and 64-bit mode; then precise page faults, self-modifying code inside a translated loop, and a
 * kick that stops a translated endless loop.
 */
class TranslatorLockstepTest {
    private static final long DATA = 0x6000;

    /** A program in the three modes' harnesses, with the translator or without. */
    private enum Mode {
        REAL(16, Harness::real), PROT32(32, Harness::protected32), LONG64(64, Harness::long64);

        final int bits;
        final Function<int[], Harness> make;

        Mode(int bits, Function<int[], Harness> make) {
            this.bits = bits;
            this.make = make;
        }
    }

    private static Harness make(Mode mode, int[] code, Jit jit) {
        Harness h = mode.make.apply(code);
        h.phys.setTranslator(jit);
        return h;
    }

    private static int[] ints(byte[] b) {
        int[] r = new int[b.length];
        for (int i = 0; i < b.length; i++) r[i] = b[i] & 0xFF;
        return r;
    }

    /** Random loops: one program per seed, run in lockstep with and without the translator. */
    @Test
    void randomLoopsAgreeWithTheInterpreterAtEveryStep() {
        Jit jit = new Jit(0);
        long instructions = 0;
        for (Mode mode : Mode.values()) {
            for (int seed = 0; seed < 150; seed++) {
                Random rnd = new Random(seed * 31L + mode.ordinal());
                int[] code = ints(new Program(mode.bits, rnd).build());
                instructions += lockstep(mode, code, jit, rnd, "mode " + mode + " seed " + seed);
            }
        }
        System.out.println("lockstep: " + jit.compiledBlocks() + " blocks compiled (" + jit.compiledInstructions()
                + " instructions), " + jit.rejectedBlocks() + " left interpreted, " + instructions
                + " guest instructions compared");
        assertThat(jit.failedBlocks()).isZero();
        assertThat(jit.compiledBlocks()).isGreaterThan(1000);
    }

    /** Runs both CPUs to their HLT (or 200,000 instructions) in random steps, comparing after each. */
    private static long lockstep(Mode mode, int[] code, Jit jit, Random rnd, String what) {
        try (Harness ref = make(mode, code, null); Harness jitted = make(mode, code, jit)) {
            for (int i = 0; i < 512; i++) {
                long v = rnd.nextLong();
                ref.memory.writeU64(DATA + 8L * i, v);
                jitted.memory.writeU64(DATA + 8L * i, v);
            }
            while (ref.machine.instructions() < 200_000) {
                long n = rnd.nextInt(8) == 0 ? 100_000 : 1 + rnd.nextInt(40);
                VcpuExit a = ref.machine.step(ref.ports, ref.mmio, n);
                VcpuExit b = jitted.machine.step(jitted.ports, jitted.mmio, n);
                String at = what + " after " + ref.machine.instructions() + " instructions";
                assertThat(state(jitted)).as(at).isEqualTo(state(ref));
                assertThat(b == null ? null : b.getClass()).as(at).isEqualTo(a == null ? null : a.getClass());
                if (a != null) break;
            }
            return ref.machine.instructions();
        }
    }

    private static String state(Harness h) {
        Cpu c = h.c;
        byte[] data = new byte[4096];
        h.memory.read(DATA, data, 0, data.length);
        return "regs " + Arrays.toString(c.r) + " rip " + Long.toHexString(c.rip) + " rflags "
                + Long.toHexString(c.rflags()) + " icount " + h.machine.instructions() + " cr2 "
                + Long.toHexString(c.cr2) + " data " + Arrays.hashCode(data);
    }

    @Test
    void aPageFaultInATranslatedLoopIsPrecise() {
        // 64-bit: rbx walks up by 4 KiB from 16 KiB below the end of the mapped 1 GiB; the load past it faults.
        //   mov rbx, 0x3FFFC000 ; mov ecx, 100 ; l: mov rax, [rbx] ; add rax, rcx ; add rbx, 0x1000 ; dec ecx ;
        //   jnz l ; hlt
        int[] code = {0x48, 0xBB, 0x00, 0xC0, 0xFF, 0x3F, 0, 0, 0, 0, 0xB9, 100, 0, 0, 0,
                0x48, 0x8B, 0x03, 0x48, 0x01, 0xC8, 0x48, 0x81, 0xC3, 0x00, 0x10, 0, 0, 0xFF, 0xC9, 0x75, 0xEF};
        Jit jit = new Jit(0);
        try (Harness ref = make(Mode.LONG64, code, null); Harness jitted = make(Mode.LONG64, code, jit)) {
            ref.runToHalt();
            jitted.runToHalt();
            assertThat(jitted.vectorTaken()).isEqualTo(14);
            assertThat(jitted.c.cr2).isEqualTo(0x40000000L);
            // The #PF frame's RIP is the faulting load; RBX and RCX as they were before it.
            long frameRip = jitted.memory.readU64(jitted.c.r[Cpu.RSP] + 8); // above the error code
            assertThat(frameRip).isEqualTo(Harness.CODE + 15);
            assertThat(jitted.c.r[Cpu.RBX]).isEqualTo(0x40000000L);
            assertThat(jitted.c.r[Cpu.RCX]).isEqualTo(96);
            assertThat(state(jitted)).isEqualTo(state(ref));
            assertThat(jit.compiledBlocks()).isPositive();
        }
    }

    @Test
    void aLoopThatRewritesItsOwnCodeSeesTheNewBytes() {
        // 32-bit: each pass stores ecx into the immediate of its own "add edx, imm32", which must add the new value:
        //   xor edx, edx ; mov ecx, 50 ; l: mov [imm], ecx ; add edx, imm32 ; dec ecx ; jnz l ; hlt
        long loop = Harness.CODE + 7, imm = loop + 6 + 2;
        int[] code = {0x31, 0xD2, 0xB9, 50, 0, 0, 0,
                0x89, 0x0D, (int) imm & 0xFF, (int) (imm >>> 8) & 0xFF, 0, 0,
                0x81, 0xC2, 0, 0, 0, 0, 0x49, 0x75, 0xF1};
        Jit jit = new Jit(0);
        try (Harness ref = make(Mode.PROT32, code, null); Harness jitted = make(Mode.PROT32, code, jit)) {
            ref.runToHalt();
            jitted.runToHalt();
            assertThat(state(jitted)).isEqualTo(state(ref));
            assertThat(jitted.c.r[Cpu.RDX]).isEqualTo(50 * 51 / 2);
            assertThat(jit.compiledBlocks()).isPositive();
        }
    }

    @Test
    void aLongBlockIsSplitToStayWellUnderHotSpotsMethodSizeLimit() {
        // 64-bit: 63 times "add [rbx+rsi*4+0x12345678], r9" (8 bytes each, with the write-back check), then HLT,
        // under a limit of 2,000 bytecode bytes (about 25 of these instructions) instead of the default 6,000.
        int[] code = new int[63 * 8];
        for (int i = 0; i < 63; i++)
            System.arraycopy(new int[] {0x4C, 0x01, 0x8C, 0xB3, 0x78, 0x56, 0x34, 0x12}, 0, code, 8 * i, 8);
        Jit jit = new Jit(0, 2000);
        try (Harness ref = make(Mode.LONG64, code, null); Harness jitted = make(Mode.LONG64, code, jit)) {
            for (Harness h : new Harness[] {ref, jitted}) {
                h.c.r[Cpu.RBX] = DATA - 0x12345678L;
                h.c.r[9] = 0x0102030405060708L;
            }
            ref.runToHalt();
            jitted.runToHalt();
            assertThat(state(jitted)).isEqualTo(state(ref));
            assertThat(jitted.memory.readU64(DATA)).isEqualTo(63 * 0x0102030405060708L);
            assertThat(jit.failedBlocks()).isZero();
            assertThat(jit.compiledBlocks()).isGreaterThan(1);   // the 63 instructions in more than one method
            assertThat(jit.largestMethodBytes()).isBetween(1000, 2000);
        }
    }

    @Test
    void callsAndReturnsInATranslatedLoopAgreeWithTheInterpreter() {
        // 32-bit: mov ecx, 1000 ; l: call f ; dec ecx ; jnz l ; hlt ; f: push ecx ; add eax, [esp] ; pop edx ; ret
        int[] code = {0xB9, 0xE8, 0x03, 0, 0, 0xE8, 0x04, 0, 0, 0, 0x49, 0x75, 0xF8, 0xF4,
                0x51, 0x03, 0x04, 0x24, 0x5A, 0xC3};
        Jit jit = new Jit(0);
        try (Harness ref = make(Mode.PROT32, code, null); Harness jitted = make(Mode.PROT32, code, jit)) {
            ref.runToHalt();
            jitted.runToHalt();
            assertThat(state(jitted)).isEqualTo(state(ref));
            assertThat(jitted.c.r[Cpu.RAX]).isEqualTo(1000 * 1001 / 2);
            assertThat(jitted.c.r[Cpu.RSP]).isEqualTo(Harness.STACK);
            assertThat(jit.compiledBlocks()).isGreaterThanOrEqualTo(3);
            assertThat(jit.failedBlocks()).isZero();
        }
    }

    @Test
    void aJccTakenInsideASuperblockLeavesItThereAndOneNotTakenGoesOn() {
        // 32-bit: mov ecx, 100 ; xor eax, eax ; xor ebx, ebx ; l: inc eax ; test al, 1 ; jz s ; inc ebx ;
        // s: dec ecx ; jnz l ; hlt. The block at l goes on past its jz (a side exit, taken every other pass).
        int[] code = {0xB9, 100, 0, 0, 0, 0x31, 0xC0, 0x31, 0xDB, 0x40, 0xA8, 0x01, 0x74, 0x01, 0x43, 0x49, 0x75, 0xF7,
                0xF4};
        Jit jit = new Jit(0);
        try (Harness ref = make(Mode.PROT32, code, null); Harness jitted = make(Mode.PROT32, code, jit)) {
            ref.runToHalt();
            jitted.runToHalt();
            assertThat(ref.c.r[Cpu.RAX]).isEqualTo(100);
            assertThat(ref.c.r[Cpu.RBX]).isEqualTo(50); // odd EAX: jz not taken, inc ebx ran
            assertThat(ref.c.rip).isEqualTo(Harness.CODE + code.length);
            assertThat(state(jitted)).isEqualTo(state(ref));
            assertThat(jit.failedBlocks()).isZero();
        }
    }

    @Test
    void aKickStopsATranslatedEndlessLoop() throws Exception {
        // Real mode: l: inc ax ; jmp l
        Jit jit = new Jit(0);
        try (Harness h = make(Mode.REAL, new int[] {0x40, 0xEB, 0xFD}, jit)) {
            CompletableFuture<VcpuExit> exit = CompletableFuture.supplyAsync(() -> h.machine.run(h.ports, h.mmio));
            // The loop is compiled at its first run, on the vCPU thread, which then runs it as bytecode: kick then.
            while (jit.compiledBlocks() == 0) Thread.onSpinWait();
            h.machine.kick();
            assertThat(exit.get(60, TimeUnit.SECONDS)).isInstanceOf(VcpuExit.Interrupted.class);
            assertThat(h.c.rip).isIn(Harness.CODE, Harness.CODE + 1);
        }
    }

    @Test
    void aHotBlockIsCompiledOnTheCompilerThreadWhileItRunsInterpreted() {
        // 32-bit: an endless counting loop (inc eax ; jmp l), stepped until the compiler thread installed it.
        Jit jit = new Jit(3);
        try (Harness h = make(Mode.PROT32, new int[] {0x40, 0xEB, 0xFD}, jit)) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120); // a hang guard only
            while (jit.compiledBlocks() == 0 && System.nanoTime() < deadline) h.machine.step(h.ports, h.mmio, 10);
            assertThat(jit.compiledBlocks()).isEqualTo(1);
            h.machine.step(h.ports, h.mmio, 1_000_000);
            assertThat(h.c.r[Cpu.RAX]).isEqualTo(h.machine.instructions() / 2);
        }
    }

    /** A random loop over registers and the data page, as bytes. */
    private static final class Program {
        private final int bits;
        private final Random rnd;
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Program(int bits, Random rnd) {
            this.bits = bits;
            this.rnd = rnd;
        }

        byte[] build() {
            // Registers: random values, except BX (the data page), SI (a small index) and CX (the counter).
            for (int r : new int[] {0, 2, 5, 7}) movImm(r, rnd.nextLong());
            if (bits == 64) for (int r = 8; r < 16; r++) movImm(r, rnd.nextLong());
            movImm(3, DATA);
            movImm(6, rnd.nextInt(64));
            movImm(1, 1 + rnd.nextInt(200));
            int loop = out.size();
            int body = 1 + rnd.nextInt(24);
            for (int i = 0; i < body; i++) {
                if (rnd.nextInt(6) == 0) {
                    byte[] next = instruction();
                    emit(0x70 | rnd.nextInt(16), next.length); // Jcc over the next instruction
                    out.writeBytes(next);
                } else {
                    out.writeBytes(instruction());
                }
            }
            // dec (e)cx ; jnz loop ; hlt follows (the harness puts it there)
            if (bits == 64) emit(0xFF, 0xC9);
            else emit(0x49);
            int rel8 = loop - (out.size() + 2);
            if (rel8 >= -128) {
                emit(0x75, rel8 & 0xFF);
            } else {
                int rel = loop - (out.size() + (bits == 16 ? 4 : 6));
                emit(0x0F, 0x85, rel & 0xFF, rel >>> 8 & 0xFF);
                if (bits != 16) emit(rel >>> 16 & 0xFF, rel >>> 24 & 0xFF);
            }
            return out.toByteArray();
        }

        private void emit(int... b) {
            for (int x : b) out.write(x);
        }

        private void movImm(int r, long v) {
            if (bits == 64) {
                emit(0x48 | (r >= 8 ? 1 : 0), 0xB8 | (r & 7));
                for (int i = 0; i < 8; i++) emit((int) (v >>> (8 * i)) & 0xFF);
            } else {
                emit(0xB8 | r);
                for (int i = 0; i < bits / 8; i++) emit((int) (v >>> (8 * i)) & 0xFF);
            }
        }

        /** A register the random instructions may write (never SP, BX, CX, SI). */
        private int dest() {
            int[] low = {0, 2, 5, 7};
            if (bits == 64 && rnd.nextBoolean()) return 8 + rnd.nextInt(8);
            return low[rnd.nextInt(low.length)];
        }

        /** Any register as a source. */
        private int src() {
            return rnd.nextInt(bits == 64 ? 16 : 8);
        }

        /** One instruction: prefixes, opcode, ModRM and the rest. */
        private byte[] instruction() {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            int kind = rnd.nextInt(27);
            boolean wide = bits == 64 && rnd.nextBoolean();
            boolean size16 = rnd.nextInt(4) == 0;
            boolean mem = rnd.nextInt(3) == 0;
            int reg = dest(), rm = mem ? 0 : (rnd.nextBoolean() ? dest() : src());
            boolean byteOp = false;
            int opcode;
            int immKind = 0; // 0 none, 1 imm8, 2 imm16/32 by operand size, 3 imm16/32/64 by operand size
            boolean modrm = true;
            boolean regIsDest = true;
            switch (kind) {
                case 0, 1, 2, 3 -> { // ALU r/m, r and r, r/m
                    int which = rnd.nextInt(8), form = rnd.nextInt(4);
                    byteOp = (form & 1) == 0;
                    opcode = which << 3 | form;
                    regIsDest = form >= 2;
                    if (!regIsDest) {
                        int t = reg; reg = src(); rm = mem ? 0 : t;
                    }
                }
                case 4 -> { // ALU AL/eAX, imm
                    int which = rnd.nextInt(8);
                    byteOp = rnd.nextBoolean();
                    opcode = which << 3 | (byteOp ? 4 : 5);
                    modrm = false;
                    immKind = byteOp ? 1 : 2;
                }
                case 5, 6 -> { // 80/81/83
                    int form = new int[] {0x80, 0x81, 0x83}[rnd.nextInt(3)];
                    byteOp = form == 0x80;
                    opcode = form;
                    reg = rnd.nextInt(8);
                    rm = mem ? 0 : dest();
                    immKind = form == 0x81 ? 2 : 1;
                }
                case 7 -> { // TEST
                    byteOp = rnd.nextBoolean();
                    opcode = byteOp ? 0x84 : 0x85;
                    reg = src();
                }
                case 8, 9 -> { // MOV both ways
                    int form = rnd.nextInt(4);
                    byteOp = (form & 1) == 0;
                    opcode = 0x88 | form;
                    if (form < 2) {
                        int t = reg; reg = src(); rm = mem ? 0 : t;
                    }
                }
                case 10 -> { // LEA
                    opcode = 0x8D;
                    mem = true;
                }
                case 11 -> { // MOV r, imm
                    byteOp = rnd.nextBoolean();
                    modrm = false;
                    int r = byteOp ? new int[] {0, 2}[rnd.nextInt(2)] : dest();
                    opcode = (byteOp ? 0xB0 : 0xB8) | (r & 7);
                    reg = r;
                    immKind = byteOp ? 1 : 3;
                }
                case 12 -> { // MOV r/m, imm
                    byteOp = rnd.nextBoolean();
                    opcode = byteOp ? 0xC6 : 0xC7;
                    reg = 0;
                    rm = mem ? 0 : dest();
                    immKind = byteOp ? 1 : 2;
                }
                case 13 -> { // INC/DEC r/m
                    byteOp = rnd.nextBoolean();
                    opcode = byteOp ? 0xFE : 0xFF;
                    reg = rnd.nextInt(2);
                    rm = mem ? 0 : dest();
                }
                case 14 -> { // MOVZX/MOVSX
                    int form = new int[] {0xB6, 0xB7, 0xBE, 0xBF}[rnd.nextInt(4)];
                    b.write(0x0F);
                    opcode = form;
                }
                case 15 -> { // INC/DEC r (one byte outside 64-bit mode)
                    if (bits == 64) return instruction();
                    modrm = false;
                    opcode = (rnd.nextBoolean() ? 0x40 : 0x48) | new int[] {0, 2, 5, 7}[rnd.nextInt(4)];
                }
                case 16 -> { // interpreted: CMC, STC, CLC (eager flags)
                    return new byte[] {(byte) new int[] {0xF5, 0xF9, 0xF8}[rnd.nextInt(3)]};
                }
                case 17 -> { // group 2: ROL ROR RCL RCR SHL SHR SAL SAR by 1, CL or imm8 (masked counts included)
                    byteOp = rnd.nextBoolean();
                    int form = rnd.nextInt(3);
                    opcode = (form == 0 ? 0xD0 : form == 1 ? 0xD2 : 0xC0) | (byteOp ? 0 : 1);
                    if (form == 2) immKind = 1;
                    reg = rnd.nextInt(8);
                    rm = mem ? 0 : dest();
                }
                case 18 -> { // IMUL r, r/m and r, r/m, imm
                    int form = rnd.nextInt(3);
                    if (form == 0) {
                        b.write(0x0F);
                        opcode = 0xAF;
                    } else {
                        opcode = form == 1 ? 0x6B : 0x69;
                        immKind = form == 1 ? 1 : 2;
                    }
                }
                case 25 -> { // interpreted: NEG r/m
                    byteOp = rnd.nextBoolean();
                    opcode = byteOp ? 0xF6 : 0xF7;
                    reg = 3;
                    rm = mem ? 0 : dest();
                }
                case 19 -> { // PUSH any ; POP a destination
                    int a = src(), z = dest();
                    ByteArrayOutputStream pp = new ByteArrayOutputStream();
                    if (a >= 8) pp.write(0x41);
                    pp.write(0x50 | (a & 7));
                    if (z >= 8) pp.write(0x41);
                    pp.write(0x58 | (z & 7));
                    return pp.toByteArray();
                }
                case 20 -> { // CMOVcc r, r/m
                    b.write(0x0F);
                    opcode = 0x40 | rnd.nextInt(16);
                }
                case 21 -> { // SETcc r/m8
                    b.write(0x0F);
                    opcode = 0x90 | rnd.nextInt(16);
                    byteOp = true;
                    reg = 0;
                }
                case 22 -> { // TEST r/m, imm
                    byteOp = rnd.nextBoolean();
                    opcode = byteOp ? 0xF6 : 0xF7;
                    reg = 0;
                    immKind = byteOp ? 1 : 2;
                }
                case 23 -> { // CBW/CWDE/CDQE, CWD/CDQ/CQO
                    modrm = false;
                    opcode = rnd.nextBoolean() ? 0x98 : 0x99;
                }
                case 24 -> { // MOVSXD (64-bit), else TEST AL/eAX, imm
                    if (bits == 64) {
                        opcode = 0x63;
                        wide = true;
                    } else {
                        byteOp = rnd.nextBoolean();
                        opcode = byteOp ? 0xA8 : 0xA9;
                        modrm = false;
                        immKind = byteOp ? 1 : 2;
                    }
                }
                default -> { // NOP
                    return new byte[] {(byte) 0x90};
                }
            }
            if (byteOp) {
                // Byte registers: AL, DL (and AH, DH without REX); never CL/BL/SIL/SPL, which hold the loop's state.
                int[] ok = bits == 64 ? new int[] {0, 2} : new int[] {0, 2, 4, 6};
                boolean extension = opcode == 0x80 || opcode == 0xC6 || opcode == 0xFE || opcode == 0xF6
                        || kind == 21 || kind == 17;
                if (modrm && !extension) reg = ok[rnd.nextInt(ok.length)];
                if (modrm && !mem) rm = ok[rnd.nextInt(ok.length)];
                wide = false;
            }
            int os = byteOp ? 1 : wide ? 8 : size16 ? 2 : bits == 16 ? 2 : 4;
            if (bits == 16 && size16 && !byteOp) os = 4;
            int[] imm = switch (immKind) {
                case 1 -> immediate(1);
                case 2 -> immediate(Math.min(os, 4));
                case 3 -> immediate(os);
                default -> new int[0];
            };
            ByteArrayOutputStream pre = new ByteArrayOutputStream();
            if (size16 && !byteOp) pre.write(0x66);
            int rex = 0;
            if (bits == 64) {
                if (wide && !byteOp) rex |= 8;
                if (modrm && reg >= 8) rex |= 4;
                if (modrm && !mem && rm >= 8) rex |= 1;
                if (!modrm && (opcode & 0xF0) == 0xB0 && reg >= 8) rex |= 1;
                if (rex != 0) pre.write(0x40 | rex);
            }
            byte[] p = pre.toByteArray();
            byte[] o = b.toByteArray();
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            all.writeBytes(p);
            all.writeBytes(o);
            all.write(opcode);
            if (modrm) {
                if (mem) all.writeBytes(memOperand(reg & 7));
                else all.write(0xC0 | (reg & 7) << 3 | (rm & 7));
            }
            for (int x : imm) all.write(x);
            return all.toByteArray();
        }

        private int[] immediate(int n) {
            int[] r = new int[n];
            for (int i = 0; i < n; i++) r[i] = rnd.nextInt(256);
            return r;
        }

        /** ModRM (and SIB, displacement) for [BX+disp8], [BX+SI+disp8] or, in 32/64-bit, [BX+SI*s+disp]. */
        private byte[] memOperand(int reg) {
            int disp = rnd.nextInt(128);
            if (bits == 16) {
                int rm = rnd.nextBoolean() ? 7 : 0; // [bx+d8] or [bx+si+d8]
                return new byte[] {(byte) (0x40 | reg << 3 | rm), (byte) disp};
            }
            if (rnd.nextBoolean()) return new byte[] {(byte) (0x40 | reg << 3 | 3), (byte) disp};
            int scale = rnd.nextInt(4);
            return new byte[] {(byte) (0x80 | reg << 3 | 4), (byte) (scale << 6 | 6 << 3 | 3), (byte) disp, 0, 0, 0};
        }
    }
}
