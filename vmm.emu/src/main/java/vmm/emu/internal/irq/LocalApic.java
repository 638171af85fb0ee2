package vmm.emu.internal.irq;

import java.util.Objects;
import java.util.function.IntConsumer;
import java.util.function.IntSupplier;

import vmm.core.bus.IoHandler;
import vmm.emu.internal.cpu.VirtualClock;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * One vCPU's local APIC in xAPIC mode (Intel SDM vol. 3, ch. 11) as a
 * register model: the 4 KiB register page at {@link #DEFAULT_BASE}
 * ({@link #read}/{@link #write} take offsets in it), the APIC base MSR, the
 * 256-bit IRR/ISR/TMR, TPR/APR/PPR, EOI with the broadcast to the IOAPIC for
 * level-triggered vectors, LDR/DFR, SVR, ESR, the ICR that sends IPIs, six
 * LVTs (timer, thermal, performance, LINT0, LINT1, error; version 0x14 as
 * KVM reports) and the timer. LINT0 in ExtINT mode is the virtual wire that
 * brings the 8259A's output to this CPU.
 *
 * <p>The CPU side: {@link #hasInterrupt}, {@link #acknowledge}, {@link #takeNmi},
 * {@link #takeInit}, {@link #takeStartup}. The {@code wakeup} given at
 * construction runs whenever something the CPU must act on arrives, so a
 * halted vCPU thread can wake; it runs with the owner's lock held and must
 * neither block nor call back into the model. Not thread-safe.
 */
public final class LocalApic implements Timed, IoHandler {
    public static final long DEFAULT_BASE = 0xfee0_0000L;
    public static final int PAGE_SIZE = 0x1000;
    public static final int MSR_APIC_BASE = 0x1b;
    static final long BASE_BSP = 1 << 8, BASE_ENABLE = 1 << 11, BASE_ADDRESS_MASK = ~0xfffL;
    /** Reserved in the APIC base MSR: bits 7:0, 9 and, with no x2APIC, 10 (EXTD). */
    static final long BASE_RESERVED = 0x6ff;

    // Register offsets (SDM vol. 3, table 11-1).
    static final int ID = 0x20, VERSION = 0x30, TPR = 0x80, APR = 0x90, PPR = 0xa0, EOI = 0xb0, RRD = 0xc0,
            LDR = 0xd0, DFR = 0xe0, SVR = 0xf0, ISR = 0x100, TMR = 0x180, IRR = 0x200, ESR = 0x280,
            ICR_LOW = 0x300, ICR_HIGH = 0x310, LVT_TIMER = 0x320, LVT_THERMAL = 0x330, LVT_PERF = 0x340,
            LVT_LINT0 = 0x350, LVT_LINT1 = 0x360, LVT_ERROR = 0x370, TIMER_INITIAL = 0x380,
            TIMER_CURRENT = 0x390, TIMER_DIVIDE = 0x3e0;
    /** Version 0x14 (integrated APIC) with six LVT entries (max LVT entry 5 in bits 23:16), no directed EOI. */
    static final int VERSION_VALUE = 0x14 | (5 << 16);

    static final int LVT_VECTOR = 0xff, LVT_MODE_SHIFT = 8, LVT_MODE = 0x700, LVT_PENDING = 1 << 12,
            LVT_POLARITY = 1 << 13, LVT_REMOTE_IRR = 1 << 14, LVT_LEVEL = 1 << 15, LVT_MASKED = 1 << 16,
            LVT_TIMER_PERIODIC = 1 << 17;
    /** LVT registers in offset order, and the bits a guest may write (delivery status, remote IRR are read-only). */
    private static final int[] LVT_OFFSETS = {LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR};
    private static final int[] LVT_WRITABLE = {
            LVT_MASKED | LVT_TIMER_PERIODIC | LVT_VECTOR,
            LVT_MASKED | LVT_MODE | LVT_VECTOR,
            LVT_MASKED | LVT_MODE | LVT_VECTOR,
            LVT_MASKED | LVT_LEVEL | LVT_POLARITY | LVT_MODE | LVT_VECTOR,
            LVT_MASKED | LVT_LEVEL | LVT_POLARITY | LVT_MODE | LVT_VECTOR,
            LVT_MASKED | LVT_VECTOR};
    static final int LVT_INDEX_TIMER = 0, LVT_INDEX_LINT0 = 3, LVT_INDEX_LINT1 = 4, LVT_INDEX_ERROR = 5;

    static final int SVR_ENABLE = 1 << 8, SVR_WRITABLE = 0x3ff;
    static final int DFR_FLAT = 0xf, DFR_CLUSTER = 0x0;
    // ICR (SDM vol. 3, 11.6.1).
    static final int ICR_DEST_LOGICAL = 1 << 11, ICR_BUSY = 1 << 12, ICR_ASSERT = 1 << 14, ICR_LEVEL = 1 << 15,
            ICR_SHORTHAND_SHIFT = 18, ICR_LOW_WRITABLE = 0xcefff;
    // ESR bits (SDM vol. 3, 11.5.3).
    static final int ESR_SEND_ILLEGAL_VECTOR = 1 << 5, ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6,
            ESR_ILLEGAL_REGISTER = 1 << 7;

    /** Where this APIC sends IPIs: returns how many APICs accepted the message. */
    public interface Bus {
        int send(ApicMessage message, LocalApic from);
    }

    private final int index;
    private final VirtualClock clock;
    private final Bus bus;
    private final IntConsumer eoiBroadcast;
    private final Runnable wakeup;
    private final int[] irr = new int[8], isr = new int[8], tmr = new int[8];
    private final int[] lvt = new int[LVT_OFFSETS.length];
    private final ApicTimer timer = new ApicTimer();
    private long apicBase;
    private int id, tpr, ldr, dfr, svr, esr, pendingEsr, icrLow, icrHigh;
    private boolean nmi, init, startup, waitForStartup;
    private int startupVector;
    /** The 8259A's INT output as last seen, and how to run its INTA; null on APs (LINT0 is wired only on the BSP). */
    private boolean picOutput;
    private IntSupplier picAcknowledge;
    private volatile boolean interruptReady;

    /**
     * @param index        the vCPU index, also the initial APIC ID (as the MADT says); 0 is the BSP
     * @param eoiBroadcast hears the vector of each EOI of a level-triggered interrupt (the IOAPIC)
     * @param wakeup       runs when an interrupt, NMI, INIT or SIPI arrives for the CPU
     */
    public LocalApic(int index, VirtualClock clock, Bus bus, IntConsumer eoiBroadcast, Runnable wakeup) {
        if (index < 0 || index > 0xfe) throw new IllegalArgumentException("an xAPIC ID is 0-254, was " + index);
        this.index = index;
        this.clock = Objects.requireNonNull(clock, "clock");
        this.bus = Objects.requireNonNull(bus, "bus");
        this.eoiBroadcast = Objects.requireNonNull(eoiBroadcast, "eoiBroadcast");
        this.wakeup = Objects.requireNonNull(wakeup, "wakeup");
        powerOn();
    }

    /**
     * The power-on (RESET) state: enabled at the default base, APs waiting for a SIPI,
     * and the BSP's LINT0 in ExtINT mode, unmasked, so the 8259A reaches it before
     * firmware touches the APIC (what KVM's LINT0_REENABLED quirk and QEMU do).
     */
    public void powerOn() {
        apicBase = DEFAULT_BASE | BASE_ENABLE | (isBsp() ? BASE_BSP : 0);
        id = index;
        resetRegisters();
        if (isBsp()) lvt[LVT_INDEX_LINT0] = ApicMessage.DM_EXTINT << LVT_MODE_SHIFT;
        nmi = init = startup = false;
        waitForStartup = !isBsp();
        refresh();
    }

    /** What RESET and INIT do to the registers (SDM vol. 3, 11.4.7.1): all but the ID and the base MSR. */
    private void resetRegisters() {
        java.util.Arrays.fill(irr, 0);
        java.util.Arrays.fill(isr, 0);
        java.util.Arrays.fill(tmr, 0);
        java.util.Arrays.fill(lvt, LVT_MASKED);
        tpr = ldr = esr = pendingEsr = icrLow = icrHigh = 0;
        dfr = 0xffff_ffff;
        svr = 0xff;
        timer.reset();
    }

    public int index() {
        return index;
    }

    public boolean isBsp() {
        return index == 0;
    }

    /** Wires LINT0 to the 8259A: {@code acknowledge} runs its INTA cycle. Only for the BSP's APIC. */
    void connectPic(IntSupplier acknowledge) {
        this.picAcknowledge = Objects.requireNonNull(acknowledge, "acknowledge");
    }

    /** The 8259A's INT output changed. */
    void picOutput(boolean level) {
        picOutput = level;
        refresh();
    }

    // ---- the APIC base MSR ----

    public long apicBase() {
        return apicBase;
    }

    /**
     * WRMSR to IA32_APIC_BASE. Returns false (the CPU raises #GP) for a reserved bit,
     * x2APIC mode or an address beyond {@code physicalAddressBits}. Clearing the enable
     * bit disables the APIC and puts its registers in the power-up state.
     */
    public boolean writeApicBase(long value, int physicalAddressBits) {
        long reserved = BASE_RESERVED | (-1L << physicalAddressBits);
        if ((value & reserved) != 0) return false;
        boolean wasEnabled = hardwareEnabled();
        apicBase = value;
        if (wasEnabled && !hardwareEnabled()) {
            resetRegisters();
            id = index;
        }
        refresh();
        return true;
    }

    /** Whether the APIC is enabled in the base MSR; when not, its page is not decoded and it takes no messages. */
    public boolean hardwareEnabled() {
        return (apicBase & BASE_ENABLE) != 0;
    }

    /** The guest-physical address of the register page. */
    public long mmioBase() {
        return apicBase & BASE_ADDRESS_MASK & ~(-1L << 52);
    }

    boolean softwareEnabled() {
        return (svr & SVR_ENABLE) != 0;
    }

    // ---- the CPU side ----

    /**
     * Whether the CPU should take an external interrupt now (if its IF allows): the
     * 8259A's output through LINT0 in ExtINT mode (or with the APIC disabled), or a
     * vector in IRR whose priority class is above PPR's. A volatile read.
     */
    public boolean hasInterrupt() {
        return interruptReady;
    }

    private boolean computeHasInterrupt() {
        if (picDeliverable()) return true;
        if (!hardwareEnabled()) return false;
        int v = highest(irr);
        return v >= 0 && (v & 0xf0) > (ppr() & 0xf0);
    }

    private boolean picDeliverable() {
        if (picAcknowledge == null || !picOutput) return false;
        int lint0 = lvt[LVT_INDEX_LINT0];
        return !hardwareEnabled()
                || ((lint0 & LVT_MASKED) == 0 && ((lint0 & LVT_MODE) >> LVT_MODE_SHIFT) == ApicMessage.DM_EXTINT);
    }

    /**
     * The INTA cycle: the 8259A's vector if it interrupts through LINT0 (it goes
     * first, as in KVM), else the highest vector in IRR, which moves to ISR. -1 if
     * there is nothing to take.
     */
    public int acknowledge() {
        int vector = -1;
        if (picDeliverable()) {
            vector = picAcknowledge.getAsInt();
        } else if (hardwareEnabled()) {
            int v = highest(irr);
            if (v >= 0 && (v & 0xf0) > (ppr() & 0xf0)) {
                clear(irr, v);
                set(isr, v);
                vector = v;
            }
        }
        refresh();
        return vector;
    }

    /** Takes a pending NMI: true once per NMI that arrived. */
    public boolean takeNmi() {
        boolean n = nmi;
        nmi = false;
        refresh();
        return n;
    }

    /**
     * Takes a pending INIT: the APIC's registers go to their INIT state (ID and base
     * MSR kept) and an AP then waits for a SIPI ({@link #waitingForStartup()}); the
     * BSP restarts at the reset vector. The vCPU resets its own registers when this
     * returns true.
     */
    public boolean takeInit() {
        if (!init) return false;
        init = false;
        resetRegisters();
        // A SIPI that came after the INIT stays pending (one before it was dropped when the INIT came):
        // an AP that is slow to look sees INIT and SIPI together and must still start, as under KVM.
        // The BSP flag of the base MSR decides, as in KVM: a BSP restarts at the reset vector.
        waitForStartup = (apicBase & BASE_BSP) == 0;
        refresh();
        return true;
    }

    /**
     * Takes a pending SIPI: its vector (the CPU starts at {@code vector << 12} in real
     * mode) if the CPU was waiting for one, else -1 (a SIPI outside wait-for-SIPI is
     * ignored, as on hardware).
     */
    public int takeStartup() {
        boolean s = startup;
        startup = false;
        int v = -1;
        if (s && waitForStartup) {
            waitForStartup = false;
            v = startupVector;
        }
        refresh();
        return v;
    }

    /** Whether the CPU sits in wait-for-SIPI (an AP after power-on or INIT): it must not run. */
    public boolean waitingForStartup() {
        return waitForStartup;
    }

    public boolean nmiPending() {
        return nmi;
    }

    public boolean initPending() {
        return init;
    }

    public boolean startupPending() {
        return startup;
    }

    /** Recomputes the CPU's view and wakes it if something arrived. */
    private void refresh() {
        boolean irq = computeHasInterrupt();
        boolean before = interruptReady;
        interruptReady = irq;
        if ((irq && !before) || nmi || init || (startup && waitForStartup)) wakeup.run();
    }

    // ---- messages from the bus ----

    /** Whether a message with no shorthand addresses this APIC (xAPIC physical, flat or cluster logical). */
    boolean matches(ApicMessage m) {
        if (!hardwareEnabled()) return false;
        int dest = m.destination();
        if (!m.logical()) return dest == ApicMessage.BROADCAST || dest == id;
        if (dest == ApicMessage.BROADCAST) return true;
        int logicalId = ldr >>> 24;
        if ((dfr >>> 28) == DFR_FLAT) return (logicalId & dest) != 0;
        return (dest >>> 4) == (logicalId >>> 4) && (dest & logicalId & 0xf) != 0;
    }

    /** Accepts a message this APIC was chosen for; returns whether it took it. */
    boolean accept(ApicMessage m) {
        boolean taken = switch (m.deliveryMode()) {
            // A level de-assert carries no interrupt (KVM drops it too).
            case ApicMessage.DM_FIXED, ApicMessage.DM_LOWEST ->
                    (!m.level() || m.assert_()) && acceptVector(m.vector(), m.level());
            case ApicMessage.DM_NMI -> nmi = true;
            case ApicMessage.DM_INIT -> {
                // An INIT level de-assert only resynchronized 82489DX arbitration IDs.
                if (m.level() && !m.assert_()) yield false;
                startup = false;
                yield init = true;
            }
            case ApicMessage.DM_STARTUP -> {
                startupVector = m.vector();
                yield startup = true;
            }
            // SMI: no SMM here. ExtINT: the 8259A reaches the BSP through LINT0, as in KVM.
            default -> false;
        };
        refresh();
        return taken;
    }

    private boolean acceptVector(int vector, boolean level) {
        // A software-disabled APIC drops fixed interrupts (KVM does the same).
        if (!softwareEnabled()) return false;
        if (vector < 16) {
            error(ESR_RECEIVE_ILLEGAL_VECTOR);
            return false;
        }
        set(irr, vector);
        if (level) set(tmr, vector);
        else clear(tmr, vector);
        return true;
    }

    /**
     * A pulse on LINT1, where a PC wires its NMI sources: as its LVT says (NMI, or a
     * fixed vector), nothing while masked, and straight to the CPU's NMI pin when the
     * APIC is disabled in its base MSR.
     */
    public void lint1() {
        int entry = lvt[LVT_INDEX_LINT1];
        if (!hardwareEnabled()) {
            nmi = true;
        } else if ((entry & LVT_MASKED) == 0) {
            switch ((entry & LVT_MODE) >> LVT_MODE_SHIFT) {
                case ApicMessage.DM_NMI -> nmi = true;
                case ApicMessage.DM_FIXED -> acceptVector(entry & LVT_VECTOR, (entry & LVT_LEVEL) != 0);
                default -> { } // ExtINT, INIT and SMI on LINT1 are not wired on a PC
            }
        }
        refresh();
    }

    /** Delivers through one of the LVTs with a fixed vector, as the timer and errors do. */
    private void localInterrupt(int index) {
        int entry = lvt[index];
        if ((entry & LVT_MASKED) != 0) return;
        acceptVector(entry & LVT_VECTOR, false);
    }

    private void error(int bits) {
        boolean fresh = (pendingEsr & bits) != bits;
        pendingEsr |= bits;
        if (fresh) localInterrupt(LVT_INDEX_ERROR);
    }

    // ---- priorities ----

    int ppr() {
        int isrv = highest(isr);
        int isrClass = isrv < 0 ? 0 : isrv & 0xf0;
        return (tpr & 0xf0) >= isrClass ? tpr & 0xff : isrClass;
    }

    /** The arbitration priority (SDM vol. 3, 11.8.3.1), for lowest-priority delivery. */
    int apr() {
        int isrv = Math.max(highest(isr), 0), irrv = Math.max(highest(irr), 0);
        if ((tpr & 0xf0) >= (irrv & 0xf0) && (tpr & 0xf0) > (isrv & 0xf0)) return tpr & 0xff;
        return Math.max(tpr & 0xf0, Math.max(isrv & 0xf0, irrv & 0xf0));
    }

    // ---- registers ----

    /** Reads {@code size} bytes at {@code offset} of the page; reserved registers and straddling reads give 0. */
    @Override
    public long read(long offset, int size) {
        if (offset < 0 || offset >= PAGE_SIZE || (offset & 0xf) + size > 4) return 0;
        int reg = (int) offset & ~0xf;
        return (readRegister(reg) & 0xffff_ffffL) >>> (8 * (offset & 3));
    }

    int readRegister(int reg) {
        if (reg >= ISR && reg < ISR + 0x80) return isr[(reg - ISR) >> 4];
        if (reg >= TMR && reg < TMR + 0x80) return tmr[(reg - TMR) >> 4];
        if (reg >= IRR && reg < IRR + 0x80) return irr[(reg - IRR) >> 4];
        for (int i = 0; i < LVT_OFFSETS.length; i++) if (LVT_OFFSETS[i] == reg) return lvt[i];
        return switch (reg) {
            case ID -> id << 24;
            case VERSION -> VERSION_VALUE;
            case TPR -> tpr;
            case APR -> apr();
            case PPR -> ppr();
            case LDR -> ldr;
            case DFR -> dfr;
            case SVR -> svr;
            case ESR -> esr;
            case ICR_LOW -> icrLow;
            case ICR_HIGH -> icrHigh;
            case TIMER_INITIAL -> (int) timer.initialCount();
            case TIMER_CURRENT -> (int) timer.currentCount(clock.nanos());
            case TIMER_DIVIDE -> timer.divideConfiguration();
            default -> 0; // EOI and RRD read 0, as do reserved offsets
        };
    }

    /** Writes the page: only aligned 32-bit writes reach a register (KVM ignores others too). */
    @Override
    public void write(long offset, int size, long value) {
        if (offset < 0 || offset >= PAGE_SIZE || size != 4 || (offset & 0xf) != 0) return;
        writeRegister((int) offset, (int) value);
        refresh();
    }

    void writeRegister(int reg, int v) {
        for (int i = 0; i < LVT_OFFSETS.length; i++) {
            if (LVT_OFFSETS[i] == reg) {
                writeLvt(i, v);
                return;
            }
        }
        switch (reg) {
            case ID -> id = v >>> 24;
            case TPR -> tpr = v & 0xff;
            case EOI -> endOfInterrupt();
            case LDR -> ldr = v & 0xff00_0000;
            case DFR -> dfr = v | 0x0fff_ffff;
            case SVR -> {
                svr = v & SVR_WRITABLE;
                if (!softwareEnabled()) for (int i = 0; i < lvt.length; i++) lvt[i] |= LVT_MASKED;
            }
            case ESR -> {
                esr = pendingEsr;
                pendingEsr = 0;
            }
            case ICR_LOW -> sendIpi(v);
            case ICR_HIGH -> icrHigh = v & 0xff00_0000;
            case TIMER_INITIAL -> timer.setInitialCount(v & 0xffff_ffffL, clock.nanos());
            case TIMER_DIVIDE -> timer.setDivideConfiguration(v, clock.nanos());
            default -> {
                // Read-only and reserved registers (SDM: a write to a reserved one is an illegal register address).
                if (!isReadOnly(reg)) error(ESR_ILLEGAL_REGISTER);
            }
        }
    }

    private static boolean isReadOnly(int reg) {
        return reg == VERSION || reg == APR || reg == PPR || reg == RRD || reg == TIMER_CURRENT
                || (reg >= ISR && reg < IRR + 0x80);
    }

    private void writeLvt(int i, int v) {
        int value = (v & LVT_WRITABLE[i]) | (lvt[i] & (LVT_PENDING | LVT_REMOTE_IRR));
        // While the APIC is software-disabled, the mask bits stay set (SDM 11.4.7.2).
        if (!softwareEnabled()) value |= LVT_MASKED;
        lvt[i] = value;
        if (i == LVT_INDEX_TIMER) timer.setPeriodic((value & LVT_TIMER_PERIODIC) != 0);
    }

    /** EOI: the highest vector in service ends; a level-triggered one is broadcast to the IOAPIC. */
    private void endOfInterrupt() {
        int v = highest(isr);
        if (v < 0) return;
        clear(isr, v);
        if (test(tmr, v)) eoiBroadcast.accept(v);
    }

    private void sendIpi(int low) {
        icrLow = low & ICR_LOW_WRITABLE; // delivery status reads idle: the IPI is delivered right away
        int mode = (low >>> 8) & 7;
        int vector = low & 0xff;
        if ((mode == ApicMessage.DM_FIXED || mode == ApicMessage.DM_LOWEST) && vector < 16) {
            error(ESR_SEND_ILLEGAL_VECTOR);
            return;
        }
        bus.send(new ApicMessage(vector, mode, (low & ICR_DEST_LOGICAL) != 0, icrHigh >>> 24,
                (low >>> ICR_SHORTHAND_SHIFT) & 3, (low & ICR_LEVEL) != 0, (low & ICR_ASSERT) != 0, false), this);
    }

    // ---- state, in the layout of KVM's kvm_lapic_state: the first 1 KiB of the page ----

    /** The size of {@link #saveRegisters()}: registers 0x000-0x3f0, each in the low 4 bytes of its 16. */
    public static final int STATE_SIZE = 0x400;

    /** The register page as a guest would read it (the current timer count included), little-endian. */
    public byte[] saveRegisters() {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(STATE_SIZE).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int reg = 0; reg < STATE_SIZE; reg += 0x10) b.putInt(reg, readRegister(reg));
        return b.array();
    }

    /**
     * Puts back a page from {@link #saveRegisters()}: the writable registers, ISR/TMR/IRR, and the
     * timer restarted from its initial count now (KVM restarts it too). Nothing is sent: ICR low is
     * kept without an IPI, EOI is not performed. Pending NMI/INIT/SIPI events are dropped.
     *
     * @throws IllegalArgumentException if {@code state} is not {@link #STATE_SIZE} bytes
     */
    public void loadRegisters(byte[] state) {
        if (state.length != STATE_SIZE)
            throw new IllegalArgumentException("LAPIC state is " + STATE_SIZE + " bytes, got " + state.length);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(state).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        id = b.getInt(ID) >>> 24;
        tpr = b.getInt(TPR) & 0xff;
        ldr = b.getInt(LDR) & 0xff00_0000;
        dfr = b.getInt(DFR) | 0x0fff_ffff;
        svr = b.getInt(SVR) & SVR_WRITABLE;
        esr = b.getInt(ESR);
        pendingEsr = 0;
        icrLow = b.getInt(ICR_LOW) & ICR_LOW_WRITABLE;
        icrHigh = b.getInt(ICR_HIGH) & 0xff00_0000;
        for (int i = 0; i < 8; i++) {
            isr[i] = b.getInt(ISR + i * 0x10);
            tmr[i] = b.getInt(TMR + i * 0x10);
            irr[i] = b.getInt(IRR + i * 0x10);
        }
        for (int i = 0; i < lvt.length; i++)
            lvt[i] = b.getInt(LVT_OFFSETS[i]) & (LVT_WRITABLE[i] | LVT_PENDING | LVT_REMOTE_IRR);
        long now = clock.nanos();
        timer.reset();
        timer.setPeriodic((lvt[LVT_INDEX_TIMER] & LVT_TIMER_PERIODIC) != 0);
        timer.setDivideConfiguration(b.getInt(TIMER_DIVIDE), now);
        timer.setInitialCount(b.getInt(TIMER_INITIAL) & 0xffff_ffffL, now);
        nmi = init = startup = false;
        refresh();
    }

    /**
     * Everything the APIC holds, for a snapshot: the base MSR, the registers, the timer where it stands in
     * the VM's time (not restarted, as {@link #loadRegisters} does), pending NMI/INIT/SIPI, whether the CPU
     * waits for a SIPI, and the 8259A's output as last seen.
     */
    public DeviceState save() {
        return DeviceState.builder("vmm.emu.lapic", 1).put("index", index).put("apic-base", apicBase)
                .put("id", id).put("tpr", tpr).put("ldr", ldr & 0xffff_ffffL).put("dfr", dfr & 0xffff_ffffL)
                .put("svr", svr).put("esr", esr).put("pending-esr", pendingEsr).put("icr-low", icrLow)
                .put("icr-high", icrHigh & 0xffff_ffffL).putList("irr", States.list(irr))
                .putList("isr", States.list(isr)).putList("tmr", States.list(tmr)).putList("lvt", States.list(lvt))
                .put("timer", timer.save()).put("nmi", nmi).put("init", init).put("startup", startup)
                .put("startup-vector", startupVector).put("wait-for-startup", waitForStartup)
                .put("pic-output", picOutput).build();
    }

    /**
     * Puts back {@link #save()}'s state of the APIC with the same index, checked first (a bad value changes
     * nothing); the vCPU is woken if something is pending.
     *
     * @throws IncompatibleStateException for another APIC's state or a value the APIC cannot hold
     */
    public void restore(DeviceState s) {
        s.require("vmm.emu.lapic", 1);
        if (s.getLong("index") != index)
            throw new IncompatibleStateException("vmm.emu.lapic state of APIC " + s.getLong("index")
                    + " given to APIC " + index);
        long base = s.getLong("apic-base");
        if ((base & BASE_RESERVED) != 0 || (base & BASE_BSP) != (isBsp() ? BASE_BSP : 0) || base < 0)
            throw new IncompatibleStateException(String.format(
                    "vmm.emu.lapic state: APIC base 0x%x is not one APIC %d can have", base, index));
        int[] nIrr = States.ints(s, "irr", 8, 0, 0xffff_ffffL), nIsr = States.ints(s, "isr", 8, 0, 0xffff_ffffL),
                nTmr = States.ints(s, "tmr", 8, 0, 0xffff_ffffL),
                nLvt = States.ints(s, "lvt", lvt.length, 0, 0xffff_ffffL);
        for (int i = 0; i < nLvt.length; i++)
            if ((nLvt[i] & ~(LVT_WRITABLE[i] | LVT_PENDING | LVT_REMOTE_IRR)) != 0)
                throw new IncompatibleStateException(String.format(
                        "vmm.emu.lapic state: LVT %d (0x%x) sets bits the register does not have", i, nLvt[i]));
        int nId = States.intRange(s, "id", 0, 0xff), nTpr = States.intRange(s, "tpr", 0, 0xff),
                nSvr = States.intRange(s, "svr", 0, SVR_WRITABLE),
                nIcrLow = States.intRange(s, "icr-low", 0, ICR_LOW_WRITABLE),
                nStartupVector = States.intRange(s, "startup-vector", 0, 0xff),
                nEsr = States.intRange(s, "esr", 0, 0xff), nPendingEsr = States.intRange(s, "pending-esr", 0, 0xff);
        long nLdr = States.range(s, "ldr", 0, 0xffff_ffffL), nDfr = States.range(s, "dfr", 0, 0xffff_ffffL),
                nIcrHigh = States.range(s, "icr-high", 0, 0xffff_ffffL);
        if ((nSvr & ~SVR_WRITABLE) != 0 || (nIcrLow & ~ICR_LOW_WRITABLE) != 0 || (nLdr & 0x00ff_ffffL) != 0
                || (nDfr & 0x0fff_ffffL) != 0x0fff_ffffL || (nIcrHigh & 0x00ff_ffffL) != 0)
            throw new IncompatibleStateException(
                    "vmm.emu.lapic state: SVR, ICR, LDR or DFR sets bits the register does not have");
        ApicTimer t = new ApicTimer();
        t.restore(s.getState("timer"));
        timer.restore(s.getState("timer"));
        apicBase = base;
        id = nId;
        tpr = nTpr;
        ldr = (int) nLdr;
        dfr = (int) nDfr;
        svr = nSvr;
        esr = nEsr;
        pendingEsr = nPendingEsr;
        icrLow = nIcrLow;
        icrHigh = (int) nIcrHigh;
        System.arraycopy(nIrr, 0, irr, 0, 8);
        System.arraycopy(nIsr, 0, isr, 0, 8);
        System.arraycopy(nTmr, 0, tmr, 0, 8);
        System.arraycopy(nLvt, 0, lvt, 0, lvt.length);
        nmi = s.getBoolean("nmi");
        init = s.getBoolean("init");
        startup = s.getBoolean("startup");
        startupVector = nStartupVector;
        waitForStartup = s.getBoolean("wait-for-startup");
        picOutput = s.getBoolean("pic-output");
        interruptReady = false;
        refresh();
    }

    /** Sets whether this APIC's CPU waits for a SIPI (restoring a vCPU's multiprocessing state). */
    public void setWaitingForStartup(boolean waiting) {
        waitForStartup = waiting;
        refresh();
    }

    // ---- the timer ----

    @Override
    public long nextDeadline() {
        return timer.deadline();
    }

    @Override
    public void advanceTo(long now) {
        if (timer.expire(now)) {
            localInterrupt(LVT_INDEX_TIMER);
            refresh();
        }
    }

    // ---- 256-bit registers ----

    static int highest(int[] bits) {
        for (int i = 7; i >= 0; i--) if (bits[i] != 0) return i * 32 + 31 - Integer.numberOfLeadingZeros(bits[i]);
        return -1;
    }

    private static void set(int[] bits, int v) {
        bits[v >>> 5] |= 1 << (v & 31);
    }

    private static void clear(int[] bits, int v) {
        bits[v >>> 5] &= ~(1 << (v & 31));
    }

    private static boolean test(int[] bits, int v) {
        return (bits[v >>> 5] & (1 << (v & 31))) != 0;
    }

    // For tests and EmuIrqChip.
    boolean irrBit(int v) { return test(irr, v); }
    boolean isrBit(int v) { return test(isr, v); }
    boolean tmrBit(int v) { return test(tmr, v); }
    int apicId() { return id; }
}
