package vmm.emu.internal.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import vmm.core.bus.IoHandler;
import vmm.core.hypervisor.Segment;
import vmm.core.hypervisor.VcpuExit;

/** External interrupts from an {@link InterruptSource}, HLT waiting, the STI shadow, LOCK and self-modifying code. */
class InterruptsAndConcurrencyTest {
    /** One pending vector at a time, as a controller would present it. */
    static final class OneVector implements InterruptSource {
        final AtomicInteger pending = new AtomicInteger(-1);

        @Override public boolean hasInterrupt() { return pending.get() >= 0; }
        @Override public int acknowledge() { return pending.getAndSet(-1); }
    }

    static final class Recorder implements IoHandler {
        final BlockingQueue<Long> values = new LinkedBlockingQueue<>();
        @Override public long read(long offset, int size) { return 0; }
        @Override public void write(long offset, int size, long value) { values.add(value); }

        long next() throws InterruptedException {
            Long v = values.poll(20, TimeUnit.SECONDS);
            if (v == null) throw new AssertionError("the guest wrote nothing within 20 s");
            return v;
        }
    }

    /** A gate for vector 0x40 to a handler that reports BL on port 0xE0 and returns. */
    private static void handler40(Harness h) {
        h.load(0x6000, 0x88, 0xD8, 0xE6, 0xE0, 0xCF);             // mov al,bl; out 0xe0,al; iretd
        h.c.idtLimit = 0x41 * 8 - 1;
        h.memory.writeU64(Harness.IDT + 0x40 * 8, 0x6000 | (long) Harness.CODE32 << 16 | 0x8E00L << 32);
    }

    @Test
    void haltWaitsForAnInterruptWhichRunsTheHandlerAndReturnsAfterTheHalt() throws Exception {
        // sti; l: hlt; jmp l   -- the handler counts in BL and reports it
        try (Harness h = Harness.protected32(true, 0xFB, 0xF4, 0xEB, 0xFD)) {
            handler40(h);
            h.load(0x6000, 0xFE, 0xC3, 0x88, 0xD8, 0xE6, 0xE0, 0xCF); // inc bl; mov al,bl; out 0xe0,al; iretd
            OneVector src = new OneVector();
            h.machine.setInterruptSource(src);
            Recorder out = new Recorder();
            h.ports.register("out", 0xE0, 1, out);
            CompletableFuture<VcpuExit> exit = CompletableFuture.supplyAsync(() -> h.machine.run(h.ports, h.mmio),
                    r -> Thread.ofPlatform().start(r));
            src.pending.set(0x40);
            h.machine.wake();
            assertThat(out.next()).isEqualTo(1);
            src.pending.set(0x40);
            h.machine.wake();
            assertThat(out.next()).isEqualTo(2);
            h.machine.kick();
            assertThat(exit.get(20, TimeUnit.SECONDS)).isInstanceOf(VcpuExit.Interrupted.class);
        }
    }

    @Test
    void theInstructionAfterStiRunsBeforeAPendingInterrupt() throws Exception {
        // sti; mov bl,1; hlt
        try (Harness h = Harness.protected32(0xFB, 0xB3, 0x01)) {
            handler40(h);
            OneVector src = new OneVector();
            src.pending.set(0x40);
            h.machine.setInterruptSource(src);
            Recorder out = new Recorder();
            h.ports.register("out", 0xE0, 1, out);
            assertThat(h.machine.step(h.ports, h.mmio, 1)).isNull(); // the STI
            assertThat(src.pending.get()).isEqualTo(0x40);         // still pending: in the shadow
            assertThat(h.machine.step(h.ports, h.mmio, 1)).isNull(); // mov bl,1 runs first
            h.machine.step(h.ports, h.mmio, 3);                    // now the interrupt: handler's mov, out
            assertThat(out.next()).isEqualTo(1);
        }
    }

    /** IVT[8] = 0000:2000 (inc bx; iret), and vector 8 pending at the CPU. */
    private static OneVector pendingVector8IncrementsBx(Harness h) {
        h.memory.writeU32(8 * 4, 0x2000);
        h.load(0x2000, 0x43, 0xCF);
        OneVector src = new OneVector();
        src.pending.set(8);
        h.machine.setInterruptSource(src);
        return src;
    }

    @Test
    void aRealModeInterruptGoesThroughTheIvtAndIretResumes() {
        // sti; nop; nop; mov cl,1  -- IVT[8] = 0000:2000: inc bx; iret
        try (Harness h = Harness.real(0xFB, 0x90, 0x90, 0xB1, 0x01)) {
            OneVector src = pendingVector8IncrementsBx(h);
            h.machine.step(h.ports, h.mmio, 1);                    // sti
            assertThat(src.pending.get()).isEqualTo(8);            // held: the next instruction is in its shadow
            h.machine.step(h.ports, h.mmio, 1);                    // the nop, then the interrupt is taken
            assertThat(src.pending.get()).isEqualTo(-1);
            assertThat(h.c.seg[Cpu.CS].selector()).isZero();
            assertThat(h.c.rip).isEqualTo(0x2000);
            assertThat(h.memory.readU16(Harness.STACK - 2) & Cpu.IF).isEqualTo(Cpu.IF); // FLAGS as they were: IF on
            assertThat(h.memory.readU16(Harness.STACK - 6)).isEqualTo((int) Harness.CODE + 2); // return IP: 2nd nop
            h.runToHalt();
            assertThat(h.reg(Cpu.RBX) & 0xFF).isEqualTo(1);
            assertThat(h.reg(Cpu.RCX) & 0xFF).isEqualTo(1);
            assertThat(h.c.rflags() & Cpu.IF).isNotZero();
        }
    }

    @Test
    void aPendingInterruptIsTakenInTheOneInstructionWindowThatStiOpensBeforeCli() {
        // sti; nop; nop; cli; hlt  -- iPXE reads the BIOS tick count this way; IVT[8] = 0000:2000: inc bx; iret
        try (Harness h = Harness.real(0xFB, 0x90, 0x90, 0xFA, 0xF4)) {
            pendingVector8IncrementsBx(h);

            h.runToHalt();

            assertThat(h.reg(Cpu.RBX) & 0xFFFF).isEqualTo(1);
            assertThat(h.memory.readU16(Harness.STACK - 6)).isEqualTo((int) Harness.CODE + 2); // after the first nop
        }
    }

    @Test
    void aPendingInterruptIsTakenRightAfterPopfSetsIfNotAtTheEndOfTheBlock() {
        // push 0x202; popf; nop; cli; hlt  -- popf opens no shadow: the interrupt comes before the nop
        try (Harness h = Harness.real(0x68, 0x02, 0x02, 0x9D, 0x90, 0xFA, 0xF4)) {
            pendingVector8IncrementsBx(h);

            h.runToHalt();

            assertThat(h.reg(Cpu.RBX) & 0xFFFF).isEqualTo(1);
            assertThat(h.memory.readU16(Harness.STACK - 6)).isEqualTo((int) Harness.CODE + 4); // the nop's address
        }
    }

    @Test
    void lockedIncrementsFromTwoCpusOnTwoThreadsAreAtomic() throws Exception {
        int n = 100_000;
        // mov ecx,n; l: lock inc dword [0x9000]; loop l; hlt
        int[] code = {0xB9, n & 0xFF, (n >> 8) & 0xFF, (n >> 16) & 0xFF, 0,
            0xF0, 0xFF, 0x05, 0x00, 0x90, 0, 0, 0xE2, 0xF7};
        try (Harness a = Harness.protected32(code)) {
            Machine b = new Machine(1, 2, a.phys, VirtualClock.host(), false);
            Cpu bc = b.cpu();
            bc.cr0 = a.c.cr0;
            bc.gdtBase = a.c.gdtBase;
            bc.gdtLimit = a.c.gdtLimit;
            bc.setSegment(Cpu.CS, Segment.flat32(Harness.CODE32, true));
            for (int s : new int[] {Cpu.DS, Cpu.ES, Cpu.SS}) bc.setSegment(s, Segment.flat32(Harness.DATA32, false));
            bc.rip = Harness.CODE;
            bc.r[Cpu.RSP] = 0x7000;
            b.stateChanged();
            CompletableFuture<VcpuExit> other = CompletableFuture.supplyAsync(() -> b.step(a.ports, a.mmio, 10_000_000),
                    r -> Thread.ofPlatform().start(r));
            a.runToHalt();
            assertThat(other.get(60, TimeUnit.SECONDS)).isInstanceOf(VcpuExit.Halted.class);
            assertThat(a.memory.readU32(0x9000)).isEqualTo(2L * n);
        }
    }

    @Test
    void lockedIncrementsOnOneCpuCountOnce() {
        int n = 1000;
        int[] code = {0xB9, n & 0xFF, (n >> 8) & 0xFF, (n >> 16) & 0xFF, 0,
            0xF0, 0xFF, 0x05, 0x00, 0x90, 0, 0, 0xE2, 0xF7};
        try (Harness a = Harness.protected32(code)) {
            a.runToHalt();
            assertThat(a.memory.readU32(0x9000)).isEqualTo(n);
        }
    }

    @Test
    void codeWrittenByTheGuestRunsInItsNewForm() {
        // mov byte [0x1008],0x43 (turns the inc ax below into inc bx); nop; nop; inc ax
        try (Harness h = Harness.real(0xC6, 0x06, 0x08, 0x10, 0x43, 0x90, 0x90, 0x90, 0x40)) {
            h.runToHalt();
            assertThat(h.reg(Cpu.RAX) & 0xFFFF).isZero();
            assertThat(h.reg(Cpu.RBX) & 0xFFFF).isEqualTo(1);
        }
    }

    @Test
    void codeChangedBehindTheCpusBackIsNoticedOnTheNextEntry() {
        // l: inc ax; hlt; jmp l  -- run, patch 'inc ax' to 'inc bx' through GuestMemory (as DMA would), run again
        try (Harness h = Harness.real(0x40, 0xF4, 0xEB, 0xFC)) {
            h.runToHalt();
            h.memory.writeU8(Harness.CODE, 0x43);
            h.runToHalt();
            assertThat(h.reg(Cpu.RAX) & 0xFFFF).isEqualTo(1);
            assertThat(h.reg(Cpu.RBX) & 0xFFFF).isEqualTo(1);
        }
    }

    @Test
    void aRepeatedStringInstructionIsInterruptibleAndResumes() {
        // mov cx,0xffff; rep lodsb (65535 elements > one chunk): steps leave RIP on it until done
        try (Harness h = Harness.real(0xB9, 0xFF, 0xFF, 0xF3, 0xAC)) {
            h.machine.step(h.ports, h.mmio, 2);
            assertThat(h.c.rip).isEqualTo(Harness.CODE + 3);
            assertThat(h.reg(Cpu.RCX) & 0xFFFF).isEqualTo(0xFFFF - StringOps.CHUNK);
            h.runToHalt();
            assertThat(h.reg(Cpu.RCX) & 0xFFFF).isZero();
        }
    }
}
