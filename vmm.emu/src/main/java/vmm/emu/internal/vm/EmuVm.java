package vmm.emu.internal.vm;

import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.bus.Registration;

import vmm.core.hypervisor.AddressSpace;
import vmm.core.hypervisor.Binding;
import vmm.core.hypervisor.EventFd;
import vmm.core.hypervisor.GsiPool;
import vmm.core.hypervisor.HypervisorException;
import vmm.core.hypervisor.Vcpu;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.hypervisor.VmConfig;
import vmm.core.irq.IrqChip;
import vmm.core.irq.MsiMessage;
import vmm.core.memory.GuestMemory;
import vmm.emu.internal.cpu.PhysicalMemory;
import vmm.emu.internal.cpu.VirtualClock;
import vmm.emu.internal.irq.EmuIrqChip;
import vmm.emu.internal.irq.VcpuInterrupts;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * A VM of software vCPUs over the caller's guest memory. With
 * {@link VmConfig#inKernelIrqchip()} it has the interrupt controllers KVM's
 * in-kernel irqchip has ({@link EmuIrqChip}: PICs, IOAPIC, a local APIC per
 * vCPU, PIT), on buses of its own that every vCPU asks before the buses given
 * to its run, as KVM's in-kernel devices come before the exits; their timer
 * thread and the irqfd poller live as long as the VM. One {@link VirtualClock}
 * drives the TSC and those timers. Thread-safe.
 */
final class EmuVm implements VirtualMachine {
    static final String NO_IRQCHIP = "the VM was created without inKernelIrqchip: it has no interrupt controllers";

    private final GuestMemory memory;
    private final VmConfig config;
    private final PhysicalMemory phys;
    /** The turn-taking and time of a deterministic run; null in real time. */
    private final vmm.emu.internal.cpu.Lockstep lockstep;
    private final VirtualClock clock;
    /** The clock of a real-time run, which a restore moves; null in a deterministic run. */
    private final vmm.emu.internal.cpu.HostClock hostClock;
    private final IoEvents ioEvents = new IoEvents();
    private final Map<Integer, EmuVcpu> vcpus = new HashMap<>();
    /** The interrupt controllers, their bus registrations and irqfds; null without inKernelIrqchip. */
    private final EmuIrqChip chip;
    private final List<Registration> chipRanges;
    private final IrqFds irqFds;
    /** GSIs handed out by {@link #allocateMsiGsi}; guarded by itself. */
    private final BitSet allocatedGsis = new BitSet();
    private boolean closed;

    EmuVm(GuestMemory memory, VmConfig config) {
        this.memory = memory;
        this.config = config;
        this.phys = new PhysicalMemory(memory);
        phys.setInterceptor(ioEvents);
        vmm.emu.internal.jit.Jit jit = vmm.emu.internal.jit.Jit.fromSystemProperties();
        if (config.deterministic()) {
            lockstep = new vmm.emu.internal.cpu.Lockstep(config.vcpus());
            clock = lockstep;
            hostClock = null;
            if (jit != null) jit = jit.compilingOnVcpu();
        } else {
            lockstep = null;
            hostClock = VirtualClock.host();
            clock = hostClock;
        }
        phys.setTranslator(jit);
        if (config.inKernelIrqchip()) {
            chip = new EmuIrqChip(config.vcpus(), clock);
            IoPortBus ports = new IoPortBus();
            MmioBus mmio = new MmioBus();
            chipRanges = chip.register(ports, mmio);
            phys.setPlatformBuses(ports, mmio);
            irqFds = new IrqFds(chip, "vmm-emu-irqfd");
            // In a deterministic run the timers fire between the vCPUs' turns, at their exact virtual time.
            if (lockstep != null) lockstep.setTimers(chip.timers()::runDue);
            else chip.timers().start("vmm-emu-timers");
        } else {
            chip = null;
            chipRanges = List.of();
            irqFds = null;
        }
    }

    @Override
    public GuestMemory memory() {
        return memory;
    }

    @Override
    public VmConfig config() {
        return config;
    }

    VirtualClock clock() {
        return clock;
    }

    /** The VM's own time: the TSC's and the timers' (the instruction count in a deterministic run). */
    @Override
    public long guestNanos() {
        return clock.nanos();
    }

    /** The date a deterministic run's RTC starts from. */
    static final java.time.Instant DETERMINISTIC_EPOCH = java.time.Instant.parse("2026-01-01T00:00:00Z");

    /** The host's date and time; in a deterministic run {@link #DETERMINISTIC_EPOCH} plus the VM's time. */
    @Override
    public java.time.Clock guestWallClock() {
        if (lockstep == null) return java.time.Clock.systemUTC();
        return new GuestClock(clock, java.time.ZoneOffset.UTC);
    }

    /** A deterministic run's date: {@link #DETERMINISTIC_EPOCH} plus the VM's time. */
    private static final class GuestClock extends java.time.Clock {
        private final VirtualClock clock;
        private final java.time.ZoneId zone;

        GuestClock(VirtualClock clock, java.time.ZoneId zone) {
            this.clock = clock;
            this.zone = zone;
        }

        @Override
        public java.time.ZoneId getZone() {
            return zone;
        }

        @Override
        public java.time.Clock withZone(java.time.ZoneId z) {
            return new GuestClock(clock, z);
        }

        @Override
        public java.time.Instant instant() {
            return DETERMINISTIC_EPOCH.plusNanos(clock.nanos());
        }
    }

    @Override
    public IrqChip irqChip() {
        if (chip == null) throw new IllegalStateException(NO_IRQCHIP);
        return chip;
    }

    private EmuIrqChip chip() {
        if (chip == null) throw new IllegalStateException(NO_IRQCHIP);
        return chip;
    }

    @Override
    public synchronized Vcpu createVcpu(int index) {
        if (closed) throw new IllegalStateException("the VM is closed");
        if (index < 0 || index >= config.vcpus())
            throw new IllegalArgumentException("vCPU index " + index + " outside [0, " + config.vcpus() + ")");
        if (vcpus.containsKey(index)) throw new IllegalArgumentException("vCPU " + index + " was already created");
        EmuVcpu v = new EmuVcpu(index, config, phys, clock);
        if (lockstep != null) v.machine().useLockstep(lockstep);
        if (chip != null) {
            VcpuInterrupts irq = chip.attachVcpu(index, v.machine()::wake);
            v.attach(irq);
        }
        vcpus.put(index, v);
        return v;
    }

    @Override
    public EventFd createEventFd() {
        return new EmuEventFd();
    }

    @Override
    public Binding bindIoEvent(EventFd fd, AddressSpace space, long address, int size, OptionalLong datamatch) {
        if (size != 1 && size != 2 && size != 4 && size != 8)
            throw new IllegalArgumentException("an I/O event is 1, 2, 4 or 8 bytes wide, not " + size);
        long limit = space == AddressSpace.IO_PORT ? 0x10000 : 1L << 52;
        if (address < 0 || address > limit - size)
            throw new IllegalArgumentException(
                    String.format("I/O event at 0x%x+%d leaves the %s space", address, size, space));
        IoEvents.Entry e = ioEvents.add(new IoEvents.Entry(fd, space, address, size, datamatch));
        return () -> ioEvents.remove(e);
    }

    @Override
    public Binding mapMemory(long gpa, java.lang.foreign.MemorySegment host, boolean readOnly) {
        Runnable unmap = phys.map(gpa, host, readOnly);
        return unmap::run;
    }

    @Override
    public Binding bindIrqFd(EventFd fd, int gsi) {
        chip();
        if (gsi < 0 || gsi >= EmuIrqChip.GSI_LIMIT)
            throw new IllegalArgumentException("GSI " + gsi + " outside [0, " + EmuIrqChip.GSI_LIMIT + ")");
        return irqFds.bind(fd, gsi);
    }

    @Override
    public Binding bindIrqFd(EventFd fd, EventFd resample, int gsi) {
        chip();
        if (gsi < 0 || gsi >= EmuIrqChip.IOAPIC_PINS)
            throw new IllegalArgumentException("a resampling irqfd needs an IOAPIC input (0.."
                    + (EmuIrqChip.IOAPIC_PINS - 1) + "), not GSI " + gsi);
        return irqFds.bindResampling(fd, resample, gsi);
    }

    @Override
    public void routeMsi(int gsi, MsiMessage message) {
        chip().routeMsi(gsi, message);
    }

    @Override
    public int allocateMsiGsi() {
        chip();
        synchronized (allocatedGsis) {
            int gsi = allocatedGsis.nextClearBit(GsiPool.FIRST);
            if (gsi >= EmuIrqChip.GSI_LIMIT)
                throw new HypervisorException("all " + (EmuIrqChip.GSI_LIMIT - GsiPool.FIRST) + " MSI GSIs are in use");
            allocatedGsis.set(gsi);
            return gsi;
        }
    }

    @Override
    public void releaseMsiGsi(int gsi) {
        chip();
        synchronized (allocatedGsis) {
            if (gsi < GsiPool.FIRST || !allocatedGsis.get(gsi)) return;
            allocatedGsis.clear(gsi);
            chip.unrouteMsi(gsi);
        }
    }

    @Override
    public void resetInterruptControllers() {
        if (chip != null) chip.reset();
    }

    /** The state type of {@link #saveState()}. */
    static final String STATE_TYPE = "vmm.emu.vm";
    static final String NO_DETERMINISTIC_SNAPSHOT = "a deterministic run (its time follows the instruction count"
            + " of each vCPU's turns) cannot be snapshot yet";

    /** The VM's time, its interrupt controllers (local APICs included) and the MSI GSIs handed out. */
    @Override
    public synchronized DeviceState saveState() {
        if (lockstep != null) throw new UnsupportedOperationException(NO_DETERMINISTIC_SNAPSHOT);
        var b = DeviceState.builder(STATE_TYPE, 1).put("vcpus", config.vcpus());
        if (chip != null) {
            // The time the controllers were saved at, so that no timer can fire between the two readings.
            DeviceState irq = chip.save();
            b.put("time", irq.getLong("time")).put("irqchip", irq);
        } else {
            b.put("time", clock.nanos());
        }
        List<Long> gsis = new java.util.ArrayList<>();
        synchronized (allocatedGsis) {
            allocatedGsis.stream().forEach(g -> gsis.add((long) g));
        }
        return b.putList("msi-gsis", gsis).build();
    }

    /** Moves the VM's clock to the saved time first, so every timer restored after it is due when it was. */
    @Override
    public synchronized void restoreState(DeviceState state) {
        if (lockstep != null) throw new UnsupportedOperationException(NO_DETERMINISTIC_SNAPSHOT);
        state.require(STATE_TYPE, 1);
        if (state.getLong("vcpus") != config.vcpus())
            throw new IncompatibleStateException(STATE_TYPE + " state of " + state.getLong("vcpus")
                    + " vCPUs given to a VM of " + config.vcpus());
        if (state.has("irqchip") != (chip != null))
            throw new IncompatibleStateException(STATE_TYPE + " state " + (chip == null
                    ? "has interrupt controllers; this VM has none"
                            : "has no interrupt controllers; this VM has them"));
        long time = state.getLong("time");
        if (time < 0 || time > Long.MAX_VALUE / 4)
            throw new IncompatibleStateException(STATE_TYPE + " state: time " + time
                    + " ns is outside what a VM's clock reaches");
        BitSet gsis = new BitSet();
        for (Object o : state.getList("msi-gsis")) {
            if (!(o instanceof Long g) || g < GsiPool.FIRST || g >= EmuIrqChip.GSI_LIMIT)
                throw new IncompatibleStateException(STATE_TYPE + " state: MSI GSI " + o
                        + " outside [" + GsiPool.FIRST + ", " + EmuIrqChip.GSI_LIMIT + ")");
            gsis.set(g.intValue());
        }
        hostClock.continueFrom(time);
        if (chip != null) chip.restore(state.getState("irqchip"));
        synchronized (allocatedGsis) {
            allocatedGsis.or(gsis);
        }
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        if (lockstep != null) lockstep.close();
        if (chip != null) {
            irqFds.close();
            chip.close();
            chipRanges.forEach(Registration::close);
        }
        phys.flushCode();
    }
}
