package vmm.emu.oracle;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.hypervisor.Segment;
import vmm.core.hypervisor.VcpuExit;
import vmm.core.memory.GuestMemory;
import vmm.emu.internal.cpu.BlockTranslator;
import vmm.emu.internal.cpu.Cpu;
import vmm.emu.internal.cpu.CpuFault;
import vmm.emu.internal.cpu.Decoder;
import vmm.emu.internal.cpu.Insn;
import vmm.emu.internal.cpu.Machine;
import vmm.emu.internal.cpu.PhysicalMemory;
import vmm.emu.internal.cpu.VirtualClock;

/**
 * The software CPU of {@code vmm.emu} as the CPU under test: one {@link Machine} at ring 0 in
 * real mode, flat 32-bit protected mode or 64-bit mode (4 GiB identity-mapped with 2 MiB pages),
 * with RAM in the low 128 KiB (tables, code, stack) and one page at the host oracle's scratch
 * address, so memory operands mean the same linear addresses in both. Every exception vector
 * goes (through the IVT or IDT) to a HLT of its own, so a fault is seen as where the CPU halted.
 * The low RAM is restored from its pristine image before each run of random bytes, which may
 * write anywhere. Not thread-safe.
 */
final class EmuCpu implements CpuUnderTest, AutoCloseable {
    static final long GDT = 0x500, CODE = 0x1000, IDT = 0x3000, HANDLERS = 0x5000, STACK = 0x8000;
    static final long PML4 = 0x10000, PDPT = 0x11000, PD = 0x12000, LOW = 0x20000;
    static final int CODE32 = 0x08, DATA32 = 0x10, CODE64 = 0x18;

    private final GuestMemory memory;
    private final PhysicalMemory phys;
    private final Machine machine;
    private final Cpu c;
    private final IoPortBus ports = new IoPortBus();
    private final MmioBus mmio = new MmioBus();
    private final long scratch;
    private final byte[][] pristine = new byte[Mode.values().length][];
    private Mode entered;

    /** A CPU whose scratch page holds linear (and physical) address {@code scratch}, interpreting. */
    EmuCpu(long scratch) {
        this(scratch, null);
    }

    /**
     * A CPU whose scratch page holds linear (and physical) address {@code scratch}; with {@code translator},
     * the blocks it translates run as bytecode.
     */
    EmuCpu(long scratch, BlockTranslator translator) {
        this.scratch = scratch;
        long page = scratch & ~0xFFFL;
        memory = GuestMemory.builder().ram("low", 0, LOW).ram("scratch", page, 0x2000).build();
        phys = new PhysicalMemory(memory);
        phys.setTranslator(translator);
        machine = new Machine(0, 1, phys, VirtualClock.host(), false);
        c = machine.cpu();
        for (Mode mode : Mode.values()) pristine[mode.ordinal()] = image(mode);
    }

    /** The low RAM of a machine set up for {@code mode}: GDT, IVT or IDT, HLT handlers, page tables. */
    private static byte[] image(Mode mode) {
        try (GuestMemory m = GuestMemory.ofSize(LOW)) {
            m.writeU64(GDT, 0);
            m.writeU64(GDT + CODE32, 0x00CF9A000000FFFFL);
            m.writeU64(GDT + DATA32, 0x00CF92000000FFFFL);
            m.writeU64(GDT + CODE64, 0x00AF9A000000FFFFL);
            for (int v = 0; v < 32; v++) {
                long handler = HANDLERS + 16L * v;
                m.writeU8(handler, 0xF4);
                switch (mode) {
                    case BITS16 -> m.writeU32(4L * v, handler);          // IVT: offset, segment 0
                    case BITS32 -> m.writeU64(IDT + 8L * v, gate(handler, CODE32));
                    case BITS64 -> {
                        m.writeU64(IDT + 16L * v, gate(handler, CODE64));
                        m.writeU64(IDT + 16L * v + 8, handler >>> 32);
                    }
                }
            }
            m.writeU64(PML4, PDPT | 7);
            for (int g = 0; g < 4; g++) {
                m.writeU64(PDPT + 8L * g, PD + 0x1000L * g | 7);
                for (int i = 0; i < 512; i++) {
                    m.writeU64(PD + 0x1000L * g + 8L * i, ((long) g << 30) + ((long) i << 21) | 0x87);   // 2 MiB, RW
                }
            }
            byte[] b = new byte[(int) LOW];
            m.read(0, b, 0, b.length);
            return b;
        }
    }

    /** An interrupt gate (present, DPL 0) to {@code handler} in code segment {@code selector}. */
    private static long gate(long handler, int selector) {
        return (handler & 0xFFFF) | (long) selector << 16 | 0x8E00L << 32 | (handler & 0xFFFF0000L) << 32;
    }

    /** Sets the CPU up for {@code mode}; restores the low RAM too after code that may have written anywhere. */
    private void enter(Mode mode, boolean restore) {
        if (restore || mode != entered) memory.write(0, pristine[mode.ordinal()], 0, (int) LOW);
        entered = mode;
        phys.flushCode();
        c.cr0 = Cpu.CR0_ET;
        c.cr4 = Cpu.CR4_OSFXSR | Cpu.CR4_OSXMMEXCPT;                // as Linux runs user code: SSE enabled
        c.efer = 0;
        c.gdtBase = GDT;
        c.gdtLimit = 4 * 8 - 1;
        switch (mode) {
            case BITS16 -> {
                for (int i = 0; i < 6; i++) c.setSegment(i, Segment.realMode(0, i == Cpu.CS));
                c.idtBase = 0;
                c.idtLimit = 0x3FF;
            }
            case BITS32 -> {
                c.cr0 = Cpu.CR0_PE | Cpu.CR0_ET;
                c.setSegment(Cpu.CS, Segment.flat32(CODE32, true));
                flatData();
                c.idtBase = IDT;
                c.idtLimit = 8 * 32 - 1;
            }
            case BITS64 -> {
                c.cr3 = PML4;
                c.cr4 = Cpu.CR4_PAE | Cpu.CR4_OSFXSR | Cpu.CR4_OSXMMEXCPT;
                c.efer = Cpu.EFER_LME | Cpu.EFER_LMA;
                c.cr0 = Cpu.CR0_PE | Cpu.CR0_ET | Cpu.CR0_PG;
                c.setSegment(Cpu.CS, Segment.code64(CODE64));
                flatData();
                c.idtBase = IDT;
                c.idtLimit = 16 * 32 - 1;
            }
        }
        c.rip = CODE;
        machine.setHalted(false);
    }

    private void flatData() {
        for (int s : new int[] {Cpu.DS, Cpu.ES, Cpu.FS, Cpu.GS, Cpu.SS}) c.setSegment(s, Segment.flat32(DATA32, false));
    }

    @Override
    public X86State run(Mode mode, byte[] insn, X86State in) throws Fault {
        if (mode == Mode.BITS16) throw new IllegalArgumentException("the differential forms run in 32- or 64-bit code");
        boolean legacy = mode == Mode.BITS32;
        enter(mode, false);      // the forms write only the scratch page
        memory.write(CODE, insn, 0, insn.length);
        memory.writeU8(CODE + insn.length, 0xF4);
        memory.write(scratch, in.scratch, 0, X86State.SCRATCH_SIZE);
        for (int r = 0; r < 16; r++) c.r[r] = legacy ? (r < 8 ? in.gpr[r] & 0xFFFF_FFFFL : 0) : in.gpr[r];
        c.r[Cpu.RSP] = STACK;
        c.setRflags(in.rflags & Flags.COMPARED);
        machine.stateChanged();
        VcpuExit e = machine.step(ports, mmio, 1_000);
        if (!(e instanceof VcpuExit.Halted)) {
            throw new Fault("no halt after the instruction: " + (e == null ? "still running" : e.describe()));
        }
        int vector = vectorTaken();
        if (vector >= 0) throw new Fault("exception " + vector);
        if (c.rip != CODE + insn.length + 1) throw new Fault("halted at 0x" + Long.toHexString(c.rip));
        X86State out = new X86State();
        for (int r = 0; r < 16; r++) {
            out.gpr[r] = r == Cpu.RSP || (legacy && r >= 8) ? 0 : legacy ? c.r[r] & 0xFFFF_FFFFL : c.r[r];
        }
        out.rflags = c.rflags();
        memory.read(scratch, out.scratch, 0, X86State.SCRATCH_SIZE);
        return out;
    }

    /**
     * Runs the first instruction of {@code slot} in {@code mode} with every register 0 and returns
     * the exception vector it raised, or -1 when it completed (or left with an exit: I/O, MMIO).
     */
    int exceptionOf(Mode mode, byte[] slot) {
        enter(mode, true);
        memory.write(CODE, slot, 0, slot.length);
        for (int r = 0; r < 16; r++) c.r[r] = 0;
        c.r[Cpu.RSP] = STACK;
        c.setRflags(0);
        machine.stateChanged();
        VcpuExit e = machine.step(ports, mmio, 1);
        if (e instanceof VcpuExit.Halted || e == null) {
            // one instruction ran: either the one under test, or the first of a handler after a fault
            int v = vectorTaken();
            if (v >= 0 && e instanceof VcpuExit.Halted) return v;
            if (e == null) {
                // the budget ended before a handler's HLT ran: a fault leaves RIP on a handler
                long at = c.rip - HANDLERS;
                if (at >= 0 && at % 16 == 0 && at / 16 < 32) return (int) (at / 16);
            }
        }
        return -1;
    }

    /**
     * Runs {@code code} from the code address in {@code mode} with every register 0, on freshly
     * restored low RAM, for at most {@code budget} instructions, and returns how it left: an exit
     * (HLT, I/O, MMIO, shutdown) or null when the budget ran out. Guest faults go to the HLT handlers.
     */
    VcpuExit runBytes(Mode mode, byte[] code, long budget) {
        enter(mode, true);
        memory.write(CODE, code, 0, Math.min(code.length, (int) (IDT - CODE)));
        for (int r = 0; r < 16; r++) c.r[r] = 0;
        c.r[Cpu.RSP] = STACK;
        c.setRflags(0);
        machine.stateChanged();
        return machine.step(ports, mmio, budget);
    }

    /** The length the CPU's decoder gives the first instruction of {@code slot}, or -(vector) - 1 on a fault. */
    static int decodedLength(Mode mode, byte[] slot) {
        try {
            Insn insn = Decoder.decode(i -> i < slot.length ? slot[i] & 0xFF : 0x90, mode.bits);
            return insn.len;
        } catch (CpuFault f) {
            return -f.vector - 1;
        }
    }

    private int vectorTaken() {
        long at = c.rip - 1 - HANDLERS;
        return at >= 0 && at % 16 == 0 && at / 16 < 32 ? (int) (at / 16) : -1;
    }

    @Override
    public void close() {
        memory.close();
    }
}
