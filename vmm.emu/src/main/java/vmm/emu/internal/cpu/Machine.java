package vmm.emu.internal.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;

import jdk.jfr.FlightRecorder;

import vmm.core.bus.IoHandler;
import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.events.VmExitEvent;
import vmm.core.hypervisor.Segment;
import vmm.core.hypervisor.VcpuExit;
import vmm.core.device.IncompatibleStateException;

/**
 * One software vCPU: the {@link Cpu} state, its MMU, and the run loop that
 * finds (or decodes) the block at RIP, executes it, delivers exceptions and
 * interrupts at block boundaries, and stops for the exits a KVM vCPU would
 * give (halt, shutdown, kick, emulation failure). {@link #run} and
 * {@link #step} are for one thread at a time; {@link #kick} and {@link #wake}
 * for any thread.
 */
public final class Machine implements InterruptTarget {
    private static final System.Logger LOG = System.getLogger("vmm.emu.cpu");
    private static final Set<String> LOGGED = ConcurrentHashMap.newKeySet();
    private static final int MAX_BLOCK = 64;
    private static final boolean[] ENDS_BLOCK = new boolean[0x200];

    static {
        for (int op : new int[] {0x07, 0x17, 0x1F, 0x8E, 0x9A, 0x9D, 0xC2, 0xC3, 0xCA, 0xCB, 0xCC, 0xCD, 0xCE, 0xCF,
                0xE0, 0xE1, 0xE2, 0xE3, 0xE8, 0xE9, 0xEA, 0xEB, 0xF1, 0xF4, 0xFA, 0xFB, 0xFF, 0x6C, 0x6D, 0x6E, 0x6F,
                0xA4, 0xA5, 0xA6, 0xA7, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF,
                0x100, 0x101, 0x105, 0x106, 0x107, 0x122, 0x130, 0x1A1, 0x1A9, 0x1B2, 0x1B4, 0x1B5})
            ENDS_BLOCK[op] = true;
    }

    /**
     * Jcc (short and near): a block goes on past one into its fall-through path (a superblock with side exits), so
     * a branch not taken costs no trip through the run loop; a taken one leaves the block there.
     */
    static boolean conditionalBranch(int op) {
        return op >= 0x70 && op <= 0x7F || op >= 0x180 && op <= 0x18F;
    }

    public final int index;
    final int vcpus;
    final Cpu cpu;
    final Mmu mmu;
    final PhysicalMemory phys;
    private final VirtualClock clock;
    private final boolean waitsForInterrupts;

    IoPortBus ports;
    MmioBus mmio;
    /** The local APIC's register page, or null without an in-VM interrupt controller. */
    IoHandler apic;
    long apicBaseMsr;
    long kernelGsBase;
    final Map<Integer, Long> msrs = new HashMap<>();
    private long tscOffset, tscAdjust;
    private volatile InterruptSource interrupts = InterruptSource.NONE;

    volatile boolean attention;
    private volatile boolean kicked;
    private volatile Thread runner;
    /** A deterministic run's turn-taking, or null when the vCPUs run side by side in real time. */
    private Lockstep lockstep;
    private boolean holdsTurn;
    private long turnEnd = Long.MAX_VALUE, turnStart;
    boolean endBlock;
    long icount;
    private long shadowAt = -1;
    private boolean halted, waitingForSipi;
    /** From an NMI's delivery to the next IRET, further NMIs wait. */
    boolean nmiBlocked;
    private VcpuExit exit;

    /**
     * @param index              the vCPU number (its APIC ID)
     * @param vcpus              how many vCPUs the VM has, for CPUID
     * @param waitsForInterrupts HLT waits inside {@link #run} for an interrupt (an interrupt controller is wired);
     *                           otherwise HLT returns {@link VcpuExit.Halted}
     */
    public Machine(int index, int vcpus, PhysicalMemory phys, VirtualClock clock, boolean waitsForInterrupts) {
        this.index = index;
        this.vcpus = vcpus;
        this.phys = phys;
        this.clock = clock;
        this.waitsForInterrupts = waitsForInterrupts;
        this.mmu = new Mmu(phys);
        this.cpu = new Cpu(this, mmu);
        mmu.attach(cpu);
        this.apicBaseMsr = 0xFEE00000L | 0x800 | (index == 0 ? 0x100 : 0);
        this.waitingForSipi = index != 0 && waitsForInterrupts;
        reset();
    }

    /** The architectural state, for reading and setting registers while the vCPU is not running. */
    public Cpu cpu() {
        return cpu;
    }

    /** The power-on state: real mode at F000:FFF0. */
    public void reset() {
        Cpu c = cpu;
        java.util.Arrays.fill(c.r, 0);
        c.r[Cpu.RDX] = 0x00060FB1;
        c.setRflags(2);
        c.cr0 = Cpu.CR0_ET | Cpu.CR0_CD | Cpu.CR0_NW;
        c.cr2 = c.cr3 = c.cr4 = c.cr8 = c.efer = 0;
        for (int i = 0; i < 6; i++) c.setSegment(i, Segment.realMode(0, i == Cpu.CS));
        c.setSegment(Cpu.CS, new Segment(0xFFFF0000L, 0xFFFF, 0xF000, 0xB, true, 0, false, true, false, false, false,
                false));
        c.rip = 0xFFF0;
        c.gdtBase = c.idtBase = 0;
        c.gdtLimit = c.idtLimit = 0xFFFF;
        c.fpu.reset();
        c.updateCodeBits();
        mmu.flush();
        halted = false;
    }

    /**
     * Makes this vCPU take turns with the others of a deterministic run (see {@link Lockstep}), whose clock must
     * be the one this machine was created with. Call before the first run.
     */
    public void useLockstep(Lockstep l) {
        this.lockstep = l;
        l.join(this);
    }

    /** This vCPU runs no more (closed): a deterministic run's turns skip it. */
    public void leaveLockstep() {
        Lockstep l = lockstep;
        if (l != null) l.leave(index);
    }

    boolean kickPending() {
        return kicked;
    }

    /** Wires the interrupt controller this vCPU asks at instruction boundaries. */
    public void setInterruptSource(InterruptSource source) {
        this.interrupts = source == null ? InterruptSource.NONE : source;
        wake();
    }

    /** Routes accesses to the APIC base page (as IA32_APIC_BASE places it) to {@code handler}; null for none. */
    public void setLocalApic(IoHandler handler) {
        this.apic = handler;
        mmu.flush();
    }

    long apicBase() {
        return (apicBaseMsr & 0x800) != 0 ? apicBaseMsr & 0xFFFFFF000L : -1;
    }

    public long apicBaseMsr() {
        return apicBaseMsr;
    }

    public void setApicBaseMsr(long v) {
        apicBaseMsr = v;
        mmu.flush();
    }

    /** WRMSR IA32_APIC_BASE: the BSP flag stays as the index says, the APIC hears it; false means #GP. */
    boolean writeApicBaseMsr(long v) {
        long nv = (v & 0xFFFFFF900L) | (index == 0 ? 0x100 : 0);
        if (!interrupts.writeApicBase(nv)) return false;
        setApicBaseMsr(nv);
        return true;
    }

    long tsc() {
        return clock.nanos() + tscOffset;
    }

    /** WRMSR IA32_TIME_STAMP_COUNTER: IA32_TSC_ADJUST moves by what the TSC moved (SDM 17.17.3). */
    void setTsc(long v) {
        long now = clock.nanos();
        tscAdjust += v - (now + tscOffset);
        tscOffset = v - now;
    }

    long tscAdjust() {
        return tscAdjust;
    }

    /** WRMSR IA32_TSC_ADJUST: the TSC moves by what the adjustment moved (SDM 17.17.3). */
    void setTscAdjust(long v) {
        tscOffset += v - tscAdjust;
        tscAdjust = v;
    }

    public Map<Integer, Long> msrTable() {
        return msrs;
    }

    /** Makes the current or next run return {@link VcpuExit.Interrupted}; any thread. */
    public void kick() {
        kicked = true;
        wake();
    }

    @Override
    public void wake() {
        attention = true;
        Thread t = runner;
        if (t != null) LockSupport.unpark(t);
        Lockstep l = lockstep;
        if (l != null) l.poke();
    }

    /** Whether HLT left the vCPU waiting for an interrupt (only when it waits inside run). */
    public boolean halted() {
        return halted;
    }

    public void setHalted(boolean h) {
        halted = h;
    }

    /** Whether this application processor still waits for INIT and SIPI. */
    public boolean waitingForSipi() {
        return waitingForSipi;
    }

    public void setWaitingForSipi(boolean w) {
        waitingForSipi = w;
    }

    /** Whether the next instruction is in the interrupt shadow of an STI or MOV SS. */
    public boolean inInterruptShadow() {
        return icount == shadowAt;
    }

    public void setInterruptShadow(boolean on) {
        shadowAt = on ? icount : -1;
    }

    /** Instructions executed so far. */
    public long instructions() {
        return icount;
    }

    /** An MSR of the model, or null when it has none of that number. */
    public Long readMsr(int msr) {
        return SystemOps.readMsr(cpu, msr);
    }

    /** Writes an MSR of the model; false when it has none of that number or refuses the value. */
    public boolean writeMsr(int msr, long value) {
        return SystemOps.writeMsr(cpu, msr, value);
    }

    /** The guest-physical address {@code linear} maps to now, without faults or accessed bits. */
    public java.util.OptionalLong translate(long linear) {
        return mmu.probe(linear);
    }

    /** The whole architectural state, for a snapshot; only while the vCPU is not running. */
    public CpuState saveState() {
        Cpu c = cpu;
        FpuState f = c.fpu;
        return new CpuState(c.r, c.rip, c.rflags(), java.util.List.of(c.seg), c.ldtr, c.tr, c.gdtBase, c.gdtLimit,
                c.idtBase, c.idtLimit, c.cr0, c.cr2, c.cr3, c.cr4, c.cr8, c.efer, c.dr, apicBaseMsr, kernelGsBase,
                tscOffset, tscAdjust, new java.util.TreeMap<>(msrs),
                new CpuState.Fpu(f.fcw, f.fsw, f.ftw, f.fop, f.fip, f.fdp, f.fcs, f.fds, f.mxcsr, f.st, f.xmm),
                halted, waitingForSipi, inInterruptShadow(), nmiBlocked, icount);
    }

    /**
     * Puts back a state from {@link #saveState()}, before the vCPU runs again. The local APIC's side (its base
     * as the APIC sees it, its registers) is the interrupt controllers' state, restored with them.
     *
     * @throws IncompatibleStateException when an MSR value is one the model refuses; nothing
     *                                                    is changed then
     */
    public void restoreState(CpuState s) {
        Cpu c = cpu;
        // Check every MSR on a scratch table first, so a refused value leaves the vCPU as it was.
        Map<Integer, Long> saved = new HashMap<>(msrs);
        try {
            msrs.clear();
            s.msrs().forEach((k, v) -> {
                if (!SystemOps.writeMsr(c, k, v))
                    throw new IncompatibleStateException(String.format(
                            "%s state: MSR 0x%x = 0x%x is refused by the model", CpuState.TYPE, k, v));
            });
        } catch (RuntimeException e) {
            msrs.clear();
            msrs.putAll(saved);
            throw e;
        }
        System.arraycopy(s.gprs(), 0, c.r, 0, 16);
        c.rip = s.rip();
        c.cr0 = s.cr0();
        c.cr2 = s.cr2();
        c.cr3 = s.cr3();
        c.cr4 = s.cr4();
        c.cr8 = s.cr8();
        c.efer = s.efer();
        c.setRflags(s.rflags());
        for (int i = 0; i < 6; i++) c.setSegment(i, s.segments().get(i));
        c.ldtr = s.ldtr();
        c.tr = s.tr();
        c.gdtBase = s.gdtBase();
        c.gdtLimit = s.gdtLimit();
        c.idtBase = s.idtBase();
        c.idtLimit = s.idtLimit();
        System.arraycopy(s.dr(), 0, c.dr, 0, 8);
        CpuState.Fpu f = s.fpu();
        FpuState fs = c.fpu;
        fs.fcw = f.fcw();
        fs.fsw = f.fsw();
        fs.ftw = f.ftw();
        fs.fop = f.fop();
        fs.fip = f.fip();
        fs.fdp = f.fdp();
        fs.fcs = f.fcs();
        fs.fds = f.fds();
        fs.mxcsr = f.mxcsr();
        System.arraycopy(f.st(), 0, fs.st, 0, fs.st.length);
        System.arraycopy(f.xmm(), 0, fs.xmm, 0, fs.xmm.length);
        apicBaseMsr = s.apicBase();
        kernelGsBase = s.kernelGsBase();
        tscOffset = s.tscOffset();
        tscAdjust = s.tscAdjust();
        halted = s.halted();
        waitingForSipi = s.waitingForSipi();
        nmiBlocked = s.nmiBlocked();
        icount = s.instructions();
        shadowAt = s.interruptShadow() ? icount : -1;
        stateChanged();
        attention = true;
    }

    /** Called after the state was set from outside: recomputes what is derived from it. */
    public void stateChanged() {
        cpu.updateCodeBits();
        mmu.flush();
    }

    /**
     * Runs guest code, answering port and MMIO accesses from the buses, until an exit.
     *
     * @throws RuntimeException whatever a bus handler throws
     */
    public VcpuExit run(IoPortBus ports, MmioBus mmio) {
        this.ports = ports;
        this.mmio = mmio;
        runner = Thread.currentThread();
        try {
            return loop(Long.MAX_VALUE);
        } finally {
            releaseTurn(false);
            runner = null;
        }
    }

    /**
     * Executes at most {@code instructions} instructions (exactly that many unless an exit comes first), for
     * tests and differential checks. Returns the exit, or null when the count ran out.
     */
    public VcpuExit step(IoPortBus ports, MmioBus mmio, long instructions) {
        this.ports = ports;
        this.mmio = mmio;
        runner = Thread.currentThread();
        try {
            return loop(instructions);
        } finally {
            releaseTurn(false);
            runner = null;
        }
    }

    /** Ends this vCPU's turn of a deterministic run, if it holds one; {@code idle}: it ran nothing. */
    private void releaseTurn(boolean idle) {
        if (!holdsTurn) return;
        holdsTurn = false;
        turnEnd = Long.MAX_VALUE;
        lockstep.release(this, idle && icount == turnStart);
    }

    private VcpuExit loop(long budget) {
        serial++; // the VMM may have written guest memory while the vCPU was out of run()
        long end = icount + budget;
        if (budget == Long.MAX_VALUE) end = Long.MAX_VALUE;
        while (true) {
            if (lockstep != null && !holdsTurn) {
                long quantum = lockstep.acquire(this);
                if (quantum >= 0) {
                    holdsTurn = true;
                    turnStart = icount;
                    turnEnd = icount + quantum;
                    attention = true; // a timer that fired between turns may have left an interrupt
                } else if (!attention) {
                    continue;
                }
            }
            if (attention) {
                VcpuExit e = events();
                if (e != null) return e;
            }
            if (halted || waitingForSipi) {
                if (lockstep != null && !lockstep.closed()) {
                    // Nothing to run: the turn passes, and the time moves on once every vCPU is idle.
                    releaseTurn(true);
                    continue;
                }
                VcpuExit e = waitForEvent();
                if (e != null) return e;
                continue;
            }
            if (icount >= end) return null;
            if (icount >= turnEnd) {
                releaseTurn(false);
                continue;
            }
            try {
                // In the shadow of STI or MOV SS only the next instruction runs before interrupts are
                // looked at again: a block runs on to its end, and "sti; nop; cli" would never open.
                runBlock(icount == shadowAt ? icount + 1 : Math.min(end, turnEnd));
            } catch (CpuFault f) {
                deliverException(f, false);
            }
            if (exit != null) {
                VcpuExit e = exit;
                exit = null;
                return e;
            }
        }
    }

    private void runBlock(long end) {
        if (mmu.codeEpoch != phys.code.epoch) mmu.flushWrites();
        if (mmu.mapEpoch != phys.mapEpoch) {
            mmu.mapEpoch = phys.mapEpoch;
            mmu.flush();
        }
        Cpu c = cpu;
        long lin = c.codeBits == 64 ? c.rip : (c.segBase[Cpu.CS] + c.rip) & 0xFFFFFFFFL;
        if (c.codeBits != 64 && c.rip > c.segLimit[Cpu.CS]) throw CpuFault.gp(0);
        int slot = (int) (lin ^ (lin >>> 12)) & (JC - 1);
        long gen = mmu.generation << 2 | c.cpl;
        Block b = jcBlock[slot];
        if (b == null || jcLinear[slot] != lin || jcGeneration[slot] != gen || b.codeBits != c.codeBits || !b.valid
                || jcChecked[slot] != serial && !b.unchanged()) {
            b = block(lin, b, jcChecked[slot] == serial);
            if (b == null) return;
            jcBlock[slot] = b;
            jcLinear[slot] = lin;
            jcGeneration[slot] = gen;
        }
        jcChecked[slot] = serial;
        TranslatedBlock t = b.translated;
        if (t != null) {
            if (end - icount >= b.translatedInsns) {
                runTranslated(c, b, t, end);
                return;
            }
        } else if (b.runs >= 0) {
            BlockTranslator tr = phys.translator;
            if (tr != null && b.runs++ >= tr.threshold()) {
                b.runs = -1; // handed over once
                tr.hot(b);
                if (b.translated != null) return; // compiled at once: run it from the top of the loop
            }
        }
        Insn[] ins = b.insns;
        int n = ins.length;
        if (end - icount < n) n = (int) (end - icount);
        for (int i = 0; i < n; i++) {
            Insn d = ins[i];
            long from = c.rip;
            Executor.exec(c, d);
            icount++;
            if (endBlock || !b.valid) {
                endBlock = false;
                break;
            }
            // A side exit: the branch was taken, so the next instruction of the block is not the next to run.
            if (conditionalBranch(d.op) && c.rip != fallThrough(from, d.len, c.codeBits)) break;
        }
    }

    private static long fallThrough(long rip, int len, int codeBits) {
        long n = rip + len;
        return codeBits == 64 ? n : codeBits == 32 ? n & 0xFFFFFFFFL : n & 0xFFFF;
    }

    /** Runs a block's bytecode; a fault comes out with RIP and registers at the faulting instruction. */
    private void runTranslated(Cpu c, Block b, TranslatedBlock t, long end) {
        long n;
        try {
            n = t.run(c, b, end - icount);
        } catch (RuntimeException | Error f) { // a fault, or what a device threw: counted up to it either way
            icount += c.jitRetired;
            throw f;
        }
        icount += n;
    }

    private final long[] fetchOut = new long[2];

    // A direct-mapped cache from linear RIP to block, valid for one MMU generation and one CPL.
    private static final int JC = 16384;
    private final long[] jcLinear = new long[JC];
    private final Block[] jcBlock = new Block[JC];
    private final long[] jcGeneration = new long[JC];
    private final long[] jcChecked = new long[JC];
    /**
     * Counts serializing events (IRET, CPUID, MOV to CR, WRMSR, WBINVD, descriptor-table loads, interrupt and
     * exception delivery, port and MMIO accesses). Code another agent wrote (device DMA, which the CPU cannot see)
     * needs one before it runs (SDM vol. 3 §8.1.3, cross-modifying code), so a block compares its bytes with
     * memory again only when this has moved since it last did.
     */
    long serial = 1;

    /**
     * The block at linear {@code lin}: decoded afresh, or from the code cache when memory still holds its bytes.
     * {@code last}, the block this slot of the linear-RIP cache held (or null), is taken without a code-cache lookup
     * when it is still valid and {@code lin} still maps to its address: most misses of that cache are a new MMU
     * generation (any INVLPG or CR3 load) in front of the same block. {@code lastChecked}: its bytes were compared
     * since the last serializing access, so only a CPU write, which clears {@code valid}, could have changed them.
     * Null when an exit was set (a fetch outside memory) or one instruction ran uncached.
     */
    private Block block(long lin, Block last, boolean lastChecked) {
        MemorySegment page = mmu.codePage(lin, fetchOut);
        long pa = fetchOut[0];
        if (page == null) {
            exit = new VcpuExit.InternalError(1, String.format(
                    "emulation failure: instruction fetch from guest-physical 0x%x, which is not RAM or ROM", pa),
                    new long[] {pa});
            return null;
        }
        int bits = cpu.codeBits;
        boolean same = last != null && last.valid && last.pa == pa && last.codeBits == bits;
        if (same && lastChecked) return last;
        Block b = same ? last : phys.code.get(pa, bits);
        if (b != null && b.unchanged()) return b;
        if (b != null) phys.code.remove(b);
        long base = fetchOut[1];
        int start = (int) (pa & 0xFFF);
        java.util.ArrayList<Insn> list = new java.util.ArrayList<>();
        int at = start;
        while (list.size() < MAX_BLOCK) {
            final int from = at;
            Insn d;
            try {
                d = Decoder.decode(i -> {
                    if (from + i >= 4096) throw CrossPage.INSTANCE;
                    return page.get(ValueLayout.JAVA_BYTE, base + from + i);
                }, bits);
            } catch (CrossPage x) {
                break;
            } catch (CpuFault f) {
                if (list.isEmpty()) throw f;
                break;
            }
            list.add(d);
            at += d.len;
            if (d.op < ENDS_BLOCK.length && ENDS_BLOCK[d.op] || at >= 4096) break;
        }
        if (list.isEmpty()) {
            // The instruction crosses into the next page: decode it through the MMU and run it uncached.
            Insn d = Decoder.decode(i -> (byte) mmu.physRead(mmu.translate(lin + i, Mmu.EXEC, cpu.cpl == 3), 1), bits);
            Executor.exec(cpu, d);
            icount++;
            endBlock = false;
            return null;
        }
        byte[] raw = new byte[at - start];
        MemorySegment.copy(page, ValueLayout.JAVA_BYTE, base + start, raw, 0, raw.length);
        b = new Block(pa, bits, list.toArray(Insn[]::new), page, base + start, raw);
        phys.code.put(b);
        if (mmu.codeEpoch != phys.code.epoch) mmu.flushWrites();
        return b;
    }

    private static final class CrossPage extends RuntimeException {
        static final CrossPage INSTANCE = new CrossPage();

        private CrossPage() {
            super(null, null, false, false);
        }
    }

    // ---- events: kicks, interrupts, NMI, INIT/SIPI ----

    private VcpuExit events() {
        attention = false;
        if (kicked) {
            kicked = false;
            return new VcpuExit.Interrupted();
        }
        InterruptSource src = interrupts;
        if (src.takeInit()) {
            reset();
            waitingForSipi = src.waitingForStartup();
        }
        int sipi = src.takeSipi();
        if (sipi >= 0 && waitingForSipi) {
            waitingForSipi = false;
            halted = false;
            cpu.setSegment(Cpu.CS, new Segment((long) sipi << 12, 0xFFFF, sipi << 8, 0xB, true, 0, false, true, false,
                    false, false, false));
            cpu.rip = 0;
        }
        if (waitingForSipi) return null;
        if (!nmiBlocked && src.takeNmi()) {
            halted = false;
            nmiBlocked = true;
            external(CpuFault.NMI);
            attention = true;
            return null;
        }
        if (src.hasInterrupt()) {
            if ((cpu.flags & Cpu.IF) == 0) return null; // STI/POPF/IRET setting IF look again
            if (icount == shadowAt) {
                attention = true;
                return null;
            }
            int v = src.acknowledge();
            if (v >= 0) {
                halted = false;
                external(v);
            }
            attention = true;
        }
        return null;
    }

    private void external(int vector) {
        try {
            ControlFlow.deliver(cpu, vector, false, true, 0, false, cpu.rip);
        } catch (CpuFault f) {
            deliverException(f, true);
        }
    }

    private VcpuExit waitForEvent() {
        while (!attention) LockSupport.park(this);
        return events();
    }

    /** The interrupt shadow of STI and MOV SS: no interrupt before the next instruction has run. */
    void shadow() {
        shadowAt = icount + 1;
    }

    void halt() {
        VmExitEvent e = exitEvent();
        if (e != null && e.shouldCommit()) exitEvent(e, "KVM_EXIT_HLT", 0, 0, false);
        endBlock = true;
        if (waitsForInterrupts) halted = true;
        else exit = new VcpuExit.Halted();
    }

    // ---- exceptions ----

    private static boolean contributory(int v) {
        return v == CpuFault.DE || (v >= CpuFault.TS && v <= CpuFault.GP);
    }

    /** Delivers {@code f}, turning a fault during delivery into #DF, and one during #DF into a shutdown. */
    void deliverException(CpuFault f, boolean external) {
        CpuFault cur = f;
        for (int tries = 0; tries < 8; tries++) {
            try {
                ControlFlow.deliver(cpu, cur.vector, false, external, cur.errorCode, cur.hasErrorCode, cpu.rip);
                endBlock = false;
                return;
            } catch (CpuFault g) {
                if (cur.vector == CpuFault.DF) break;
                boolean df = contributory(cur.vector) && contributory(g.vector)
                        || cur.vector == CpuFault.PF && (contributory(g.vector) || g.vector == CpuFault.PF);
                cur = df ? new CpuFault(CpuFault.DF, 0, true) : g;
            }
        }
        exit = new VcpuExit.Shutdown();
    }

    // ---- I/O ----

    long portRead(int port, int size) {
        IoPortBus platform = phys.platformPorts;
        if (platform != null && platform.isClaimed(port)) return platform.read(port, size);
        serial++;
        VmExitEvent e = exitEvent();
        if (e != null) e.begin();
        long v = ports == null ? Cpu.mask(size) : ports.read(port, size);
        if (e != null && e.shouldCommit()) exitEvent(e, "KVM_EXIT_IO", port, size, false);
        return v;
    }

    /**
     * A new exit event, or null before Flight Recorder runs: JFR loads and instruments an event class on its
     * first use (some 100 ms here), which must not delay the guest's first exit. With a recording the event is
     * enabled; without one the JIT drops the allocation.
     */
    static VmExitEvent exitEvent() {
        return FlightRecorder.isInitialized() ? new VmExitEvent() : null;
    }

    /** Commits a Flight Recorder event for a bus access or HLT, named as KVM names its exits, so tools read both. */
    void exitEvent(VmExitEvent e, String reason, long address, int size, boolean write) {
        e.vcpu = index;
        e.reason = reason;
        e.address = address;
        e.size = size;
        e.write = write;
        e.count = 1;
        e.commit();
    }

    void portWrite(int port, int size, long v) {
        serial++;
        WriteInterceptor w = phys.interceptor;
        if (w != null && w.intercept(true, port, size, v & Cpu.mask(size))) return;
        IoPortBus platform = phys.platformPorts;
        if (platform != null && platform.isClaimed(port)) {
            platform.write(port, size, v & Cpu.mask(size));
            return;
        }
        VmExitEvent e = exitEvent();
        if (e != null) e.begin();
        if (ports != null) ports.write(port, size, v & Cpu.mask(size));
        if (e != null && e.shouldCommit()) exitEvent(e, "KVM_EXIT_IO", port, size, true);
        // A write that kicked this vCPU (a reset or power-off holding every vCPU) is the last instruction it
        // runs: the block ends here, as KVM's vCPU leaves at the I/O exit, not some instructions later.
        if (kicked) endBlock = true;
    }

    /** An instruction the model lacks: #UD for the guest, and one log line per opcode for us. */
    static CpuFault unsupported(Cpu c, Insn d) {
        // One line per opcode and group member (x87 included: the model has its control instructions only).
        String key = String.format("%03x/%d", d.op, d.hasModrm ? d.regOp : 0);
        if (LOGGED.add(key))
            LOG.log(System.Logger.Level.WARNING, String.format(
                    "vmm.emu: instruction not in the model, #UD to the guest: %s at %04x:%x (%d-bit code)",
                    d.hex(), c.seg[Cpu.CS].selector(), c.rip, c.codeBits));
        return CpuFault.ud();
    }

    /**
     * An MSR the model lacks, or a value it refuses: #GP to the guest, as on a CPU without it. Logged once per MSR
     * and access at DEBUG: a kernel probes many MSRs on purpose ({@code rdmsr_safe}), so this is for finding what a
     * guest reached, not a warning.
     */
    static CpuFault msrRefused(Cpu c, String access, int msr) {
        if (LOG.isLoggable(System.Logger.Level.DEBUG) && LOGGED.add(access + Integer.toHexString(msr)))
            LOG.log(System.Logger.Level.DEBUG, String.format("vmm.emu: %s of MSR 0x%x is not in the model (or the value "
                    + "is refused), #GP to the guest at %04x:%x", access, msr, c.seg[Cpu.CS].selector(), c.rip));
        return CpuFault.gp(0);
    }

    /** A feature the model lacks (task switches, virtual-8086 mode): #UD to the guest, logged once. */
    static CpuFault unsupportedFeature(Cpu c, String what) {
        if (LOGGED.add(what))
            LOG.log(System.Logger.Level.WARNING, String.format(
                    "vmm.emu: %s is not in the model, #UD to the guest at %04x:%x", what, c.seg[Cpu.CS].selector(),
                    c.rip));
        return CpuFault.ud();
    }
}
