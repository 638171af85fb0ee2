package vmm.kvm.internal;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static vmm.kvm.internal.abi.Kvm.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicBoolean;

import jdk.jfr.FlightRecorder;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.hypervisor.HypervisorException;
import vmm.core.hypervisor.Registers;
import vmm.core.hypervisor.SpecialRegisters;
import vmm.core.hypervisor.Vcpu;
import vmm.core.events.VmExitEvent;
import vmm.core.hypervisor.VcpuExit;
import vmm.core.hypervisor.VcpuStateBlock;
import vmm.kvm.CpuidEntry;
import vmm.kvm.KvmVendor;
import vmm.kvm.internal.abi.KvmStructs;
import vmm.kvm.internal.linux.Sys;
import vmm.core.device.DeviceState;

/** A KVM vCPU: its fd, its {@code kvm_run} mapping, and the exit loop for port and MMIO accesses. */
final class KvmVcpu implements Vcpu {
    private static final VarHandle MSRS_N = KvmStructs.KVM_MSRS.varHandle(groupElement("nmsrs"));
    private static final VarHandle MSR_INDEX = KvmStructs.KVM_MSR_ENTRY.varHandle(groupElement("index"));
    private static final VarHandle MSR_DATA = KvmStructs.KVM_MSR_ENTRY.varHandle(groupElement("data"));
    private static final VarHandle TR_LINEAR = KvmStructs.KVM_TRANSLATION.varHandle(groupElement("linear_address"));
    private static final VarHandle TR_PHYSICAL = KvmStructs.KVM_TRANSLATION.varHandle(groupElement("physical_address"));
    private static final VarHandle TR_VALID = KvmStructs.KVM_TRANSLATION.varHandle(groupElement("valid"));
    private static final VarHandle CPUID_NENT = KvmStructs.KVM_CPUID2.varHandle(groupElement("nent"));

    private final int fd;
    private final int index;
    private final KvmVendor vendor;
    private final MemorySegment map;
    private final KvmRun run;
    private final MemorySegment capture = Arena.ofAuto().allocate(Sys.CAPTURE);
    private final AtomicBoolean kickPending = new AtomicBoolean();
    private final Object threadLock = new Object();
    private volatile boolean inRun;
    private long pthread; // guarded by threadLock; non-zero only while a thread is inside run()
    private volatile boolean closed;

    KvmVcpu(int vmFd, int index, int mmapSize, KvmVendor vendor, List<CpuidEntry> cpuid) {
        this.index = index;
        this.vendor = vendor;
        this.fd = Sys.ioctl(vmFd, KVM_CREATE_VCPU, index, "KVM_CREATE_VCPU(" + index + ")");
        try {
            this.map = Sys.mmap(mmapSize, Sys.PROT_READ | Sys.PROT_WRITE, Sys.MAP_SHARED, fd, 0);
            this.run = new KvmRun(map);
            setCpuid(cpuid);
        } catch (RuntimeException e) {
            Sys.close(fd);
            throw e;
        }
    }

    @Override
    public int index() {
        return index;
    }

    private void setCpuid(List<CpuidEntry> entries) {
        if (entries.size() > KVM_MAX_CPUID_ENTRIES)
            throw new HypervisorException("vendor back end " + vendor.name() + " gave " + entries.size()
                    + " CPUID entries, more than KVM's " + KVM_MAX_CPUID_ENTRIES);
        try (Arena a = Arena.ofConfined()) {
            long head = KvmStructs.KVM_CPUID2.byteSize();
            MemorySegment buf = a.allocate(head + entries.size() * KvmStructs.KVM_CPUID_ENTRY2.byteSize(), 8);
            CPUID_NENT.set(buf, 0L, entries.size());
            Cpuid.write(buf.asSlice(head), entries);
            Sys.ioctl(fd, KVM_SET_CPUID2, buf, "KVM_SET_CPUID2");
        }
    }

    @Override
    public VcpuExit run(IoPortBus ports, MmioBus mmio) {
        if (closed) throw new IllegalStateException("vCPU " + index + " is closed");
        Kicker.prepareCurrentThread();
        synchronized (threadLock) {
            pthread = Sys.pthreadSelf();
        }
        try {
            // After an I/O exit the instruction is finished only by the next KVM_RUN (api.rst, KVM_EXIT_IO): a kick
            // then still enters once, with immediate_exit set, so a paused vCPU's state is whole (a reset or a save
            // may replace it next).
            boolean ioPending = false;
            while (true) {
                inRun = true;
                if (kickPending.get() && !ioPending) {
                    inRun = false;
                    consumeKick();
                    return new VcpuExit.Interrupted();
                }
                int rc = Sys.ioctlNoThrow(capture, fd, KVM_RUN, 0);
                inRun = false;
                ioPending = false;
                if (rc < 0) {
                    int errno = Sys.errno(capture);
                    if (errno == Sys.EINTR) {
                        consumeKick();
                        return new VcpuExit.Interrupted();
                    }
                    if (errno == Sys.EAGAIN) continue;
                    throw new HypervisorException("KVM_RUN on vCPU " + index + " failed: " + Sys.strerror(errno)
                            + " (errno " + errno + ")");
                }
                int reason = run.exitReason();
                ioPending = reason == KVM_EXIT_IO || reason == KVM_EXIT_MMIO;
                // No event before Flight Recorder runs: JFR loads and instruments an event class on its first
                // use (some 100 ms here), which must not sit between the vCPU's start and its first exit.
                // With a recording the event is enabled; without one the JIT drops the allocation.
                VmExitEvent event = FlightRecorder.isInitialized() ? new VmExitEvent() : null;
                if (event != null) event.begin();
                VcpuExit end = handle(reason, ports, mmio);
                if (event != null && event.shouldCommit()) {
                    describe(event, reason);
                    event.commit();
                }
                if (end != null) return end;
            }
        } finally {
            inRun = false;
            synchronized (threadLock) {
                pthread = 0;
            }
        }
    }

    /** Handles exit {@code reason} in place; null to enter the guest again, else what ends this run. */
    private VcpuExit handle(int reason, IoPortBus ports, MmioBus mmio) {
        return switch (reason) {
            case KVM_EXIT_IO -> {
                portAccess(ports);
                yield null;
            }
            case KVM_EXIT_MMIO -> {
                mmioAccess(mmio);
                yield null;
            }
            case KVM_EXIT_IRQ_WINDOW_OPEN -> { yield null; }
            case KVM_EXIT_INTR -> {
                consumeKick();
                yield new VcpuExit.Interrupted();
            }
            case KVM_EXIT_HLT -> new VcpuExit.Halted();
            case KVM_EXIT_SHUTDOWN -> new VcpuExit.Shutdown();
            case KVM_EXIT_FAIL_ENTRY -> {
                long why = run.failureReason();
                yield new VcpuExit.EntryFailed(why, vendor.explainEntryFailure(why));
            }
            case KVM_EXIT_INTERNAL_ERROR -> {
                int sub = run.internalSuberror();
                yield new VcpuExit.InternalError(sub, internalErrorName(sub), run.internalData());
            }
            case KVM_EXIT_SYSTEM_EVENT -> {
                int type = run.systemEventType();
                yield new VcpuExit.SystemEvent(switch (type) {
                    case KVM_SYSTEM_EVENT_SHUTDOWN -> VcpuExit.SystemEvent.Kind.SHUTDOWN;
                    case KVM_SYSTEM_EVENT_RESET -> VcpuExit.SystemEvent.Kind.RESET;
                    case KVM_SYSTEM_EVENT_CRASH -> VcpuExit.SystemEvent.Kind.CRASH;
                    default -> VcpuExit.SystemEvent.Kind.OTHER;
                }, type);
            }
            default -> new VcpuExit.Unhandled(reason, exitName(reason));
        };
    }

    /** Fills a recorded exit's fields from kvm_run, which stays as the exit left it until the next KVM_RUN. */
    private void describe(VmExitEvent e, int reason) {
        e.vcpu = index;
        e.reason = exitName(reason);
        e.count = 1;
        if (reason == KVM_EXIT_IO) {
            KvmRun.IoExit io = run.io();
            e.address = io.port();
            e.size = io.size();
            e.write = io.out();
            e.count = io.count();
        } else if (reason == KVM_EXIT_MMIO) {
            KvmRun.MmioExit m = run.mmio();
            e.address = m.address();
            e.size = m.len();
            e.write = m.write();
        }
    }

    static String internalErrorName(int suberror) {
        return switch (suberror) {
            case KVM_INTERNAL_ERROR_EMULATION -> "KVM_INTERNAL_ERROR_EMULATION: the host could not emulate an instruction";
            case KVM_INTERNAL_ERROR_SIMUL_EX -> "KVM_INTERNAL_ERROR_SIMUL_EX: an exception while delivering an exception";
            case KVM_INTERNAL_ERROR_DELIVERY_EV -> "KVM_INTERNAL_ERROR_DELIVERY_EV: an exit while delivering an event";
            case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON -> "KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON";
            default -> "suberror " + suberror;
        };
    }

    /** Answers each element of a (possibly string, {@code count} > 1) port access in order. */
    private void portAccess(IoPortBus ports) {
        KvmRun.IoExit io = run.io();
        for (int i = 0; i < io.count(); i++) {
            if (io.out()) ports.write(io.port(), io.size(), run.ioData(io, i));
            else run.ioData(io, i, ports.read(io.port(), io.size()));
        }
    }

    /**
     * Answers an MMIO access. Widths the bus does not take (3, 5, 6, 7: the pieces
     * of an access split at a page edge) go byte by byte, in address order.
     */
    private void mmioAccess(MmioBus mmio) {
        KvmRun.MmioExit m = run.mmio();
        int len = m.len();
        boolean natural = len == 1 || len == 2 || len == 4 || len == 8;
        if (m.write()) {
            if (natural) mmio.write(m.address(), len, run.mmioData(len));
            else for (int i = 0; i < len; i++) mmio.write(m.address() + i, 1, run.mmioByte(i));
        } else {
            if (natural) run.mmioData(len, mmio.read(m.address(), len));
            else for (int i = 0; i < len; i++) run.mmioByte(i, (int) mmio.read(m.address() + i, 1));
        }
    }

    private void consumeKick() {
        kickPending.set(false);
        run.immediateExit(false);
    }

    @Override
    public void kick() {
        kickPending.set(true);
        // immediate_exit covers a thread about to enter KVM_RUN, the signal one already inside it.
        run.immediateExit(true);
        synchronized (threadLock) {
            if (pthread != 0 && inRun) Kicker.kick(pthread);
        }
    }

    // ---- registers ----

    private static final String[] GPR = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
            "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"};

    @Override
    public Registers registers() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmStructs.KVM_REGS);
            Sys.ioctl(fd, KVM_GET_REGS, s, "KVM_GET_REGS");
            Registers r = new Registers();
            Registers.Reg[] regs = Registers.Reg.values();
            for (int i = 0; i < regs.length; i++) {
                r.set(regs[i], s.get(ValueLayout.JAVA_LONG, KvmStructs.KVM_REGS.byteOffset(groupElement(GPR[i]))));
            }
            return r;
        }
    }

    @Override
    public void setRegisters(Registers r) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmStructs.KVM_REGS);
            Registers.Reg[] regs = Registers.Reg.values();
            for (int i = 0; i < regs.length; i++) {
                s.set(ValueLayout.JAVA_LONG, KvmStructs.KVM_REGS.byteOffset(groupElement(GPR[i])), r.get(regs[i]));
            }
            Sys.ioctl(fd, KVM_SET_REGS, s, "KVM_SET_REGS");
        }
    }

    @Override
    public SpecialRegisters specialRegisters() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmStructs.KVM_SREGS);
            Sys.ioctl(fd, KVM_GET_SREGS, s, "KVM_GET_SREGS");
            return SregsCodec.decode(s);
        }
    }

    @Override
    public void setSpecialRegisters(SpecialRegisters r) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmStructs.KVM_SREGS);
            SregsCodec.encode(r, s);
            Sys.ioctl(fd, KVM_SET_SREGS, s, "KVM_SET_SREGS");
        }
    }

    @Override
    public OptionalLong translate(long linearAddress) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment t = a.allocate(KvmStructs.KVM_TRANSLATION);
            TR_LINEAR.set(t, 0L, linearAddress);
            Sys.ioctl(fd, KVM_TRANSLATE, t, "KVM_TRANSLATE");
            return (byte) TR_VALID.get(t, 0L) != 0 ? OptionalLong.of((long) TR_PHYSICAL.get(t, 0L)) : OptionalLong.empty();
        }
    }

    // ---- MSRs ----

    @Override
    public Map<Integer, Long> msrs(int... indices) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = msrBuffer(a, indices.length);
            for (int i = 0; i < indices.length; i++) MSR_INDEX.set(msrEntry(buf, i), 0L, indices[i]);
            int got = Sys.ioctl(fd, KVM_GET_MSRS, buf, "KVM_GET_MSRS");
            // KVM stops at the first MSR it refuses; ask again past it so one bad index hides no others.
            Map<Integer, Long> out = new LinkedHashMap<>();
            for (int i = 0; i < Math.min(got, indices.length); i++) out.put(indices[i], (long) MSR_DATA.get(msrEntry(buf, i), 0L));
            if (got < indices.length) {
                out.putAll(msrs(java.util.Arrays.copyOfRange(indices, got + 1, indices.length)));
            }
            return out;
        }
    }

    @Override
    public void setMsrs(Map<Integer, Long> values) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = msrBuffer(a, values.size());
            int[] order = new int[values.size()];
            int i = 0;
            for (Map.Entry<Integer, Long> e : values.entrySet()) {
                order[i] = e.getKey();
                MSR_INDEX.set(msrEntry(buf, i), 0L, (int) e.getKey());
                MSR_DATA.set(msrEntry(buf, i), 0L, (long) e.getValue());
                i++;
            }
            int set = Sys.ioctl(fd, KVM_SET_MSRS, buf, "KVM_SET_MSRS");
            if (set < order.length)
                throw new HypervisorException(String.format("KVM refused MSR 0x%x on vCPU %d", order[set], index));
        }
    }

    private static MemorySegment msrBuffer(Arena a, int n) {
        MemorySegment buf = a.allocate(KvmStructs.KVM_MSRS.byteSize() + n * KvmStructs.KVM_MSR_ENTRY.byteSize(), 8);
        MSRS_N.set(buf, 0L, n);
        return buf;
    }

    private static MemorySegment msrEntry(MemorySegment buf, int i) {
        long size = KvmStructs.KVM_MSR_ENTRY.byteSize();
        return buf.asSlice(KvmStructs.KVM_MSRS.byteSize() + i * size, size);
    }

    // ---- state blocks ----

    private record Block(StructLayout layout, long get, long set, String name) {}

    private static Block block(VcpuStateBlock b) {
        return switch (b) {
            case FPU -> new Block(KvmStructs.KVM_FPU, KVM_GET_FPU, KVM_SET_FPU, "FPU");
            case LAPIC -> new Block(KvmStructs.KVM_LAPIC_STATE, KVM_GET_LAPIC, KVM_SET_LAPIC, "LAPIC");
            case EVENTS -> new Block(KvmStructs.KVM_VCPU_EVENTS, KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, "VCPU_EVENTS");
            case MP_STATE -> new Block(KvmStructs.KVM_MP_STATE, KVM_GET_MP_STATE, KVM_SET_MP_STATE, "MP_STATE");
        };
    }

    @Override
    public byte[] state(VcpuStateBlock which) {
        Block b = block(which);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(b.layout());
            Sys.ioctl(fd, b.get(), s, "KVM_GET_" + b.name());
            return s.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    @Override
    public void setState(VcpuStateBlock which, byte[] data) {
        Block b = block(which);
        if (data.length != b.layout().byteSize())
            throw new IllegalArgumentException(which + " state is " + b.layout().byteSize() + " bytes, got " + data.length);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(b.layout());
            MemorySegment.copy(data, 0, s, ValueLayout.JAVA_BYTE, 0, data.length);
            Sys.ioctl(fd, b.set(), s, "KVM_SET_" + b.name());
        }
    }

    @Override
    public DeviceState saveState() {
        throw new UnsupportedOperationException(KvmVm.NO_SNAPSHOTS);
    }

    @Override
    public void restoreState(DeviceState state) {
        throw new UnsupportedOperationException(KvmVm.NO_SNAPSHOTS);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        Sys.munmap(map);
        Sys.close(fd);
    }

    @Override
    public String toString() {
        return "kvm vCPU " + index;
    }

}
