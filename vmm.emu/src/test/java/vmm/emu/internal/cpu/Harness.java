package vmm.emu.internal.cpu;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.hypervisor.Segment;
import vmm.core.hypervisor.VcpuExit;
import vmm.core.memory.GuestMemory;

/**
 * One software CPU over 2 MiB of RAM, without the SPI, for instruction tests:
 * code at {@link #CODE}, a stack below 0x8000, and helpers for the three modes.
 * In protected and long mode the IDT at {@link #IDT} sends vector v to
 * {@code HANDLERS + 16 v}, where a HLT stops the run.
 */
final class Harness implements AutoCloseable {
    static final long CODE = 0x1000, GDT = 0x500, IDT = 0x3000, HANDLERS = 0x5000, STACK = 0x8000;
    static final int CODE32 = 0x08, DATA32 = 0x10, CODE64 = 0x18, CODE16 = 0x20, DATA16 = 0x28;
    static final long PML4 = 0x10000, PDPT = 0x11000, PD = 0x12000;

    final GuestMemory memory = GuestMemory.ofSize(0x200000);
    final PhysicalMemory phys = new PhysicalMemory(memory);
    final Machine machine;
    final Cpu c;
    final IoPortBus ports = new IoPortBus();
    final MmioBus mmio = new MmioBus();

    Harness(boolean waitsForInterrupts) {
        machine = new Machine(0, 1, phys, VirtualClock.host(), waitsForInterrupts);
        c = machine.cpu();
    }

    Harness() {
        this(false);
    }

    /** Real mode, segments 0, RIP at {@link #CODE}, the code followed by HLT. */
    static Harness real(int... code) {
        Harness h = new Harness();
        h.load(CODE, code);
        h.load(CODE + code.length, 0xF4);
        for (int i = 0; i < 6; i++) h.c.setSegment(i, Segment.realMode(0, i == Cpu.CS));
        h.c.rip = CODE;
        h.c.r[Cpu.RSP] = STACK;
        h.machine.stateChanged();
        return h;
    }

    /** Flat 32-bit protected mode at ring 0 with the IDT of HLT handlers. */
    static Harness protected32(int... code) {
        return protected32(false, code);
    }

    /** Flat 32-bit protected mode; {@code waits}: HLT waits for an interrupt from the source instead of exiting. */
    static Harness protected32(boolean waits, int... code) {
        Harness h = new Harness(waits);
        h.gdtAndIdt(false);
        h.load(CODE, code);
        h.load(CODE + code.length, 0xF4);
        h.c.cr0 = Cpu.CR0_PE | Cpu.CR0_ET;
        h.c.setSegment(Cpu.CS, Segment.flat32(CODE32, true));
        for (int s : new int[] {Cpu.DS, Cpu.ES, Cpu.FS, Cpu.GS, Cpu.SS})
            h.c.setSegment(s, Segment.flat32(DATA32, false));
        h.c.rip = CODE;
        h.c.r[Cpu.RSP] = STACK;
        h.machine.stateChanged();
        return h;
    }

    /** 64-bit mode, the first 1 GiB identity-mapped with 2 MiB pages, IDT of HLT handlers. */
    static Harness long64(int... code) {
        Harness h = new Harness();
        h.gdtAndIdt(true);
        h.load(CODE, code);
        h.load(CODE + code.length, 0xF4);
        h.memory.writeU64(PML4, PDPT | 7);
        h.memory.writeU64(PDPT, PD | 7);
        for (int i = 0; i < 512; i++) h.memory.writeU64(PD + 8L * i, (long) i << 21 | 0x87);
        h.c.cr3 = PML4;
        h.c.cr4 = Cpu.CR4_PAE;
        h.c.efer = Cpu.EFER_LME | Cpu.EFER_LMA;
        h.c.cr0 = Cpu.CR0_PE | Cpu.CR0_ET | Cpu.CR0_PG;
        h.c.setSegment(Cpu.CS, Segment.code64(CODE64));
        for (int s : new int[] {Cpu.DS, Cpu.ES, Cpu.FS, Cpu.GS, Cpu.SS})
            h.c.setSegment(s, Segment.flat32(DATA32, false));
        h.c.rip = CODE;
        h.c.r[Cpu.RSP] = STACK;
        h.machine.stateChanged();
        return h;
    }

    private void gdtAndIdt(boolean longMode) {
        memory.writeU64(GDT, 0);
        memory.writeU64(GDT + CODE32, 0x00CF9A000000FFFFL);
        memory.writeU64(GDT + DATA32, 0x00CF92000000FFFFL);
        memory.writeU64(GDT + CODE64, 0x00AF9A000000FFFFL);
        memory.writeU64(GDT + CODE16, 0x00009A000000FFFFL);
        memory.writeU64(GDT + DATA16, 0x000092000000FFFFL);
        c.gdtBase = GDT;
        c.gdtLimit = 6 * 8 - 1;
        for (int v = 0; v < 32; v++) {
            long handler = HANDLERS + 16L * v;
            memory.writeU8(handler, 0xF4);
            if (longMode) {
                long lo = (handler & 0xFFFF) | (long) CODE64 << 16 | 0x8E00L << 32 | (handler & 0xFFFF0000L) << 32;
                memory.writeU64(IDT + 16L * v, lo);
                memory.writeU64(IDT + 16L * v + 8, handler >>> 32);
            } else {
                long lo = (handler & 0xFFFF) | (long) CODE32 << 16 | 0x8E00L << 32 | (handler & 0xFFFF0000L) << 32;
                memory.writeU64(IDT + 8L * v, lo);
            }
        }
        c.idtBase = IDT;
        c.idtLimit = (longMode ? 16 : 8) * 32 - 1;
    }

    void load(long at, int... bytes) {
        for (int i = 0; i < bytes.length; i++) memory.writeU8(at + i, bytes[i]);
    }

    /** Runs until the guest halts or another exit; fails on a run that never ends. */
    VcpuExit run() {
        VcpuExit e = machine.step(ports, mmio, 50_000_000);
        if (e == null) throw new AssertionError("the guest did not stop within 50 million instructions");
        return e;
    }

    /** Runs to the HLT and returns the CPU. */
    Cpu runToHalt() {
        VcpuExit e = run();
        if (!(e instanceof VcpuExit.Halted)) throw new AssertionError("expected a halt, got " + e.describe());
        return c;
    }

    long reg(int n) {
        return c.r[n];
    }

    /** The arithmetic flags. */
    long flags() {
        return c.rflags() & Cpu.ARITH;
    }

    /** Which exception handler the guest halted in (after protected or long mode delivery), or -1. */
    int vectorTaken() {
        long at = c.rip - 1 - HANDLERS;
        return at >= 0 && at % 16 == 0 && at / 16 < 32 ? (int) (at / 16) : -1;
    }

    @Override
    public void close() {
        memory.close();
    }
}
