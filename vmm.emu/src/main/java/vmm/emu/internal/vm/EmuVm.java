package vmm.emu.internal.vm;

import java.util.HashMap;
import java.util.Map;
import java.util.OptionalLong;

import vmm.core.hypervisor.AddressSpace;
import vmm.core.hypervisor.Binding;
import vmm.core.hypervisor.EventFd;
import vmm.core.hypervisor.Vcpu;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.hypervisor.VmConfig;
import vmm.core.irq.IrqChip;
import vmm.core.irq.MsiMessage;
import vmm.core.memory.GuestMemory;
import vmm.emu.internal.cpu.PhysicalMemory;
import vmm.emu.internal.cpu.VirtualClock;

/**
 * A VM of software vCPUs over the caller's guest memory. The interrupt
 * controllers a VM with {@link VmConfig#inKernelIrqchip()} needs (PIC, IOAPIC,
 * local APICs, PIT) are not wired yet: {@link #irqChip()} and the irqfd and MSI
 * methods say so. Thread-safe.
 */
final class EmuVm implements VirtualMachine {
    static final String NO_IRQCHIP = "vmm.emu has no interrupt controllers wired yet (PIC, IOAPIC, local APIC, PIT: "
            + "package vmm.emu.internal.irq); create the VM without inKernelIrqchip";

    private final GuestMemory memory;
    private final VmConfig config;
    private final PhysicalMemory phys;
    private final VirtualClock clock = VirtualClock.host();
    private final IoEvents ioEvents = new IoEvents();
    private final Map<Integer, EmuVcpu> vcpus = new HashMap<>();
    private boolean closed;

    EmuVm(GuestMemory memory, VmConfig config) {
        this.memory = memory;
        this.config = config;
        this.phys = new PhysicalMemory(memory);
        phys.setInterceptor(ioEvents);
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

    @Override
    public IrqChip irqChip() {
        if (!config.inKernelIrqchip()) throw new IllegalStateException("the VM was created without inKernelIrqchip");
        throw new IllegalStateException(NO_IRQCHIP);
    }

    @Override
    public synchronized Vcpu createVcpu(int index) {
        if (closed) throw new IllegalStateException("the VM is closed");
        if (index < 0 || index >= config.vcpus())
            throw new IllegalArgumentException("vCPU index " + index + " outside [0, " + config.vcpus() + ")");
        if (vcpus.containsKey(index)) throw new IllegalArgumentException("vCPU " + index + " was already created");
        EmuVcpu v = new EmuVcpu(index, config, phys, clock);
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
        irqChip();
        throw new IllegalStateException(NO_IRQCHIP);
    }

    @Override
    public void routeMsi(int gsi, MsiMessage message) {
        irqChip();
    }

    @Override
    public void resetInterruptControllers() {
        // No in-VM interrupt controllers yet: nothing to put back.
    }

    @Override
    public synchronized void close() {
        closed = true;
        phys.flushCode();
    }
}
