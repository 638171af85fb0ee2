package vmm.emu.internal.cpu;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import vmm.core.hypervisor.Segment;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * Everything one software vCPU holds between two instructions, for a snapshot: the general-purpose registers,
 * RIP and RFLAGS, the six segment registers with their hidden parts, LDTR, TR, GDTR and IDTR, the control and
 * debug registers, EFER, the MSRs the model keeps (the TSC as its offset from the VM's clock, IA32_TSC_ADJUST,
 * the APIC base, KERNEL_GS_BASE and the table of stored MSRs), the x87/SSE state, whether the vCPU is halted,
 * waits for SIPI, is in an interrupt shadow or has NMIs blocked, and how many instructions it ran.
 *
 * <p>{@link #toDeviceState()} and {@link #from(DeviceState)} are its versioned form; {@code from} treats the
 * state as untrusted input (a snapshot file) and refuses any value the model could not hold.
 *
 * @param gprs      RAX..R15 in encoding order (RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8..R15)
 * @param segments  ES, CS, SS, DS, FS, GS
 * @param dr        DR0..DR7 (DR4 and DR5 as the model keeps them)
 * @param tscOffset the guest's TSC minus the VM's clock in nanoseconds
 * @param msrs      the model's table of stored MSRs (SYSENTER, SYSCALL, TSC_AUX, DE_CFG, MTRRs, PAT)
 */
public record CpuState(long[] gprs, long rip, long rflags, List<Segment> segments, Segment ldtr, Segment tr,
                       long gdtBase, int gdtLimit, long idtBase, int idtLimit,
                       long cr0, long cr2, long cr3, long cr4, long cr8, long efer, long[] dr,
                       long apicBase, long kernelGsBase, long tscOffset, long tscAdjust, Map<Integer, Long> msrs,
                       Fpu fpu, boolean halted, boolean waitingForSipi, boolean interruptShadow, boolean nmiBlocked,
                       long instructions) {
    /** The state type in a snapshot. */
    public static final String TYPE = "vmm.emu.cpu";
    public static final int VERSION = 1;

    public CpuState {
        gprs = gprs.clone();
        dr = dr.clone();
        segments = List.copyOf(segments);
        msrs = Map.copyOf(msrs);
    }

    /**
     * The x87 and SSE state, with the full tag word (FXSAVE keeps only its abridged form).
     *
     * @param st  R0..R7 (physical order), 10 bytes in each 16-byte slot
     * @param xmm XMM0..XMM15, low quadword first
     */
    public record Fpu(int fcw, int fsw, int ftw, int fop, long fip, long fdp, int fcs, int fds, int mxcsr, byte[] st,
                      long[] xmm) {
        public Fpu {
            st = st.clone();
            xmm = xmm.clone();
        }

        @Override
        public byte[] st() {
            return st.clone();
        }

        @Override
        public long[] xmm() {
            return xmm.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Fpu f && fcw == f.fcw && fsw == f.fsw && ftw == f.ftw && fop == f.fop && fip == f.fip
                    && fdp == f.fdp && fcs == f.fcs && fds == f.fds && mxcsr == f.mxcsr && Arrays.equals(st, f.st)
                    && Arrays.equals(xmm, f.xmm);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(xmm) * 31 + Arrays.hashCode(st) + mxcsr;
        }

        @Override
        public String toString() {
            return String.format("Fpu[fcw=%04x fsw=%04x ftw=%04x mxcsr=%08x]", fcw, fsw, ftw, mxcsr);
        }
    }

    @Override
    public long[] gprs() {
        return gprs.clone();
    }

    @Override
    public long[] dr() {
        return dr.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CpuState c && toDeviceState().equals(c.toDeviceState());
    }

    @Override
    public int hashCode() {
        return toDeviceState().hashCode();
    }

    @Override
    public String toString() {
        return String.format("CpuState[rip=%x rflags=%x cr0=%x cr3=%x efer=%x cs=%s icount=%d]", rip, rflags, cr0, cr3,
                efer, segments.get(Cpu.CS), instructions);
    }

    /** The versioned, self-describing form a snapshot file holds. */
    public DeviceState toDeviceState() {
        List<DeviceState> segs = new ArrayList<>();
        for (Segment s : segments) segs.add(segment(s));
        List<Long> msrList = new ArrayList<>();
        new TreeMap<>(msrs).forEach((k, v) -> {
            msrList.add(k & 0xFFFF_FFFFL);
            msrList.add(v);
        });
        return DeviceState.builder(TYPE, VERSION)
                .putList("gprs", boxed(gprs)).put("rip", rip).put("rflags", rflags)
                .putList("segments", segs).put("ldtr", segment(ldtr)).put("tr", segment(tr))
                .put("gdt.base", gdtBase).put("gdt.limit", gdtLimit).put("idt.base", idtBase).put("idt.limit", idtLimit)
                .put("cr0", cr0).put("cr2", cr2).put("cr3", cr3).put("cr4", cr4).put("cr8", cr8).put("efer", efer)
                .putList("dr", boxed(dr))
                .put("msr.apic-base", apicBase).put("msr.kernel-gs-base", kernelGsBase)
                .put("tsc.offset", tscOffset).put("msr.tsc-adjust", tscAdjust).putList("msrs", msrList)
                .put("fpu", DeviceState.builder("vmm.emu.fpu", 1).put("fcw", fpu.fcw).put("fsw", fpu.fsw)
                        .put("ftw", fpu.ftw).put("fop", fpu.fop).put("fip", fpu.fip).put("fdp", fpu.fdp)
                        .put("fcs", fpu.fcs).put("fds", fpu.fds).put("mxcsr", fpu.mxcsr).put("st", fpu.st)
                        .putList("xmm", boxed(fpu.xmm)).build())
                .put("halted", halted).put("waiting-for-sipi", waitingForSipi)
                .put("interrupt-shadow", interruptShadow).put("nmi-blocked", nmiBlocked)
                .put("instructions", instructions)
                .build();
    }

    /**
     * Reads {@link #toDeviceState()}'s form.
     *
     * @throws IncompatibleStateException naming the field when the state is not a {@value #TYPE} state of a
     *                                    version this build reads, lacks a field, or holds a value out of range
     */
    public static CpuState from(DeviceState s) {
        s.require(TYPE, VERSION);
        long[] gprs = longs(s, "gprs", 16);
        List<Object> segList = s.getList("segments");
        if (segList.size() != 6) throw bad("segments", "6 segment registers, not " + segList.size());
        List<Segment> segs = new ArrayList<>();
        for (Object o : segList) {
            if (!(o instanceof DeviceState d)) throw bad("segments", "a list of segment states");
            segs.add(segment(d));
        }
        long[] dr = longs(s, "dr", 8);
        long efer = s.getLong("efer");
        if ((efer & ~(Cpu.EFER_SCE | Cpu.EFER_LME | Cpu.EFER_LMA | Cpu.EFER_NXE)) != 0)
            throw bad("efer", String.format("0x%x sets a bit the model does not have", efer));
        List<Object> msrList = s.getList("msrs");
        if (msrList.size() % 2 != 0 || msrList.size() > 2 * 256) throw bad("msrs", "index/value pairs, at most 256");
        Map<Integer, Long> msrs = new TreeMap<>();
        for (int i = 0; i < msrList.size(); i += 2) {
            if (!(msrList.get(i) instanceof Long k) || !(msrList.get(i + 1) instanceof Long v))
                throw bad("msrs", "numbers");
            if (k < 0 || k > 0xFFFF_FFFFL) throw bad("msrs", "an MSR index above 32 bits");
            if (!SystemOps.keptInTable(k.intValue()))
                throw bad("msrs", String.format("MSR 0x%x is not one the model keeps", k));
            msrs.put(k.intValue(), v);
        }
        DeviceState f = s.getState("fpu").require("vmm.emu.fpu", 1);
        byte[] st = f.getBytes("st");
        if (st.length != 8 * 16) throw bad("fpu.st", "128 bytes, not " + st.length);
        int mxcsr = (int) range(f, "mxcsr", 0, FpuState.MXCSR_MASK);
        Fpu fpu = new Fpu((int) range(f, "fcw", 0, 0xFFFF), (int) range(f, "fsw", 0, 0xFFFF),
                (int) range(f, "ftw", 0, 0xFFFF), (int) range(f, "fop", 0, 0x7FF), f.getLong("fip"), f.getLong("fdp"),
                (int) range(f, "fcs", 0, 0xFFFF), (int) range(f, "fds", 0, 0xFFFF), mxcsr, st, longs(f, "xmm", 32));
        return new CpuState(gprs, s.getLong("rip"), s.getLong("rflags"), segs, segment(s.getState("ldtr")),
                segment(s.getState("tr")), s.getLong("gdt.base"), (int) range(s, "gdt.limit", 0, 0xFFFF),
                s.getLong("idt.base"), (int) range(s, "idt.limit", 0, 0xFFFF), s.getLong("cr0"), s.getLong("cr2"),
                s.getLong("cr3"), s.getLong("cr4"), s.getLong("cr8"), efer, dr, s.getLong("msr.apic-base"),
                s.getLong("msr.kernel-gs-base"), s.getLong("tsc.offset"), s.getLong("msr.tsc-adjust"), msrs, fpu,
                s.getBoolean("halted"), s.getBoolean("waiting-for-sipi"), s.getBoolean("interrupt-shadow"),
                s.getBoolean("nmi-blocked"), range(s, "instructions", 0, Long.MAX_VALUE));
    }

    private static DeviceState segment(Segment s) {
        return DeviceState.builder("segment", 1).put("base", s.base()).put("limit", s.limit() & 0xFFFF_FFFFL)
                .put("selector", s.selector()).put("type", s.type()).put("present", s.present()).put("dpl", s.dpl())
                .put("db", s.db()).put("s", s.s()).put("l", s.l()).put("g", s.granularity()).put("avl", s.avl())
                .put("unusable", s.unusable()).build();
    }

    private static Segment segment(DeviceState d) {
        d.require("segment", 1);
        return new Segment(d.getLong("base"), (int) range(d, "limit", 0, 0xFFFF_FFFFL),
                (int) range(d, "selector", 0, 0xFFFF), (int) range(d, "type", 0, 15), d.getBoolean("present"),
                (int) range(d, "dpl", 0, 3), d.getBoolean("db"), d.getBoolean("s"), d.getBoolean("l"),
                        d.getBoolean("g"),
                d.getBoolean("avl"), d.getBoolean("unusable"));
    }

    private static List<Long> boxed(long[] a) {
        List<Long> l = new ArrayList<>(a.length);
        for (long v : a) l.add(v);
        return l;
    }

    private static long[] longs(DeviceState s, String name, int n) {
        List<Object> l = s.getList(name);
        if (l.size() != n) throw bad(name, n + " values, not " + l.size());
        long[] a = new long[n];
        for (int i = 0; i < n; i++) {
            if (!(l.get(i) instanceof Long v)) throw bad(name, "numbers");
            a[i] = v;
        }
        return a;
    }

    private static long range(DeviceState s, String name, long min, long max) {
        long v = s.getLong(name);
        if (v < min || v > max) throw bad(name, String.format("%d is outside [%d, %d]", v, min, max));
        return v;
    }

    private static IncompatibleStateException bad(String field, String what) {
        return new IncompatibleStateException(TYPE + " state field '" + field + "': " + what);
    }
}
