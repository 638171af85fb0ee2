package device.viona;

import java.util.HashMap;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicLong;

import vmm.core.hypervisor.AddressSpace;
import vmm.core.hypervisor.Binding;
import vmm.core.hypervisor.EventFd;
import vmm.core.hypervisor.HypervisorException;
import vmm.core.hypervisor.Vcpu;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.hypervisor.VmConfig;
import vmm.core.irq.IrqChip;
import vmm.core.irq.MsiMessage;
import vmm.core.machine.Machine;
import vmm.core.memory.GuestMemory;

/**
 * The KVM seam the virtio-pci transport binds through, as KVM behaves: an
 * ioeventfd takes a guest write of exactly its width at its address and
 * signals the eventfd instead of the bus (one binding per address: a second
 * is refused, as KVM answers EEXIST); an irqfd signal delivers the MSI its
 * GSI is routed to; routes are replaced whole. A "guest write" goes through
 * {@link #guestWrite}, which plays the vCPU.
 */
final class FakeVm implements VirtualMachine {
    private final GuestMemory memory;
    private final IrqChip chip;
    private Machine machine;
    final Map<Long, EventFd> ioEvents = new HashMap<>();
    final Map<Long, Integer> ioEventSizes = new HashMap<>();
    final Map<FakeEventFd, Integer> irqfds = new HashMap<>();
    final Map<Integer, MsiMessage> routes = new HashMap<>();
    final AtomicLong irqfdDeliveries = new AtomicLong();
    /** Runs as each irqfd delivery injects its MSI, on the signalling thread, before the chip sees it: the guest's first instant. */
    volatile Runnable onIrqfdDelivery = () -> { };
    /** Once closed, removing a binding fails as KVM_IOEVENTFD/KVM_IRQFD on a closed VM descriptor does (EBADF). */
    volatile boolean closed;

    FakeVm(GuestMemory memory, IrqChip chip) {
        this.memory = memory;
        this.chip = chip;
    }

    void attach(Machine m) {
        this.machine = m;
    }

    /** A vCPU's write: into the eventfd bound there with that width, else out to the bus. */
    void guestWrite(long address, int size, long value) {
        EventFd fd;
        synchronized (this) {
            fd = ioEvents.get(address);
            if (fd != null && ioEventSizes.get(address) != size) fd = null;
        }
        if (fd != null) fd.signal();
        else machine.mmio().write(address, size, value);
    }

    synchronized EventFd ioEventAt(long address) {
        return ioEvents.get(address);
    }

    synchronized boolean hasIrqfdOn(int gsi) {
        return irqfds.containsValue(gsi);
    }

    @Override public GuestMemory memory() { return memory; }
    @Override public VmConfig config() { return new VmConfig(1, true); }
    @Override public IrqChip irqChip() { return chip; }
    @Override public Vcpu createVcpu(int index) { throw new UnsupportedOperationException("no vCPUs in the fake"); }

    /** The fake has no interrupt controller state of its own: the recorder stands for it. */
    @Override
    public void resetInterruptControllers() {
    }

    @Override
    public EventFd createEventFd() {
        return new FakeEventFd();
    }

    @Override
    public synchronized Binding bindIoEvent(EventFd fd, AddressSpace space, long address, int size, OptionalLong datamatch) {
        if (space != AddressSpace.MMIO || datamatch.isPresent()) throw new AssertionError("the transport binds plain MMIO");
        if (ioEvents.containsKey(address)) throw new HypervisorException(String.format("KVM_IOEVENTFD at 0x%x: File exists", address));
        ioEvents.put(address, fd);
        ioEventSizes.put(address, size);
        return () -> {
            if (closed) throw new HypervisorException("KVM_IOEVENTFD: Bad file descriptor");
            synchronized (FakeVm.this) {
                if (ioEvents.get(address) == fd) {
                    ioEvents.remove(address);
                    ioEventSizes.remove(address);
                }
            }
        };
    }

    @Override
    public synchronized Binding bindIrqFd(EventFd fd, int gsi) {
        FakeEventFd f = (FakeEventFd) fd;
        if (irqfds.containsKey(f)) throw new HypervisorException("KVM_IRQFD: eventfd already bound");
        irqfds.put(f, gsi);
        // KVM injects at once when the eventfd is already signalled.
        if (f.count.get() > 0) deliver(f);
        return () -> {
            if (closed) throw new HypervisorException("KVM_IRQFD: Bad file descriptor");
            synchronized (FakeVm.this) {
                irqfds.remove(f);
            }
        };
    }

    @Override
    public synchronized void routeMsi(int gsi, MsiMessage message) {
        if (gsi < 24) throw new IllegalArgumentException("GSI " + gsi + " is an IOAPIC input");
        routes.put(gsi, message);
    }

    private synchronized void deliver(FakeEventFd f) {
        Integer gsi = irqfds.get(f);
        if (gsi == null) return; // unbound: the count stays, as in an eventfd nobody reads
        f.count.set(0);
        irqfdDeliveries.incrementAndGet();
        onIrqfdDelivery.run();
        chip.signalMsi(routes.get(gsi));
    }

    @Override
    public void close() {
        closed = true;
    }

    /** An eventfd's counter. */
    final class FakeEventFd implements EventFd {
        final AtomicLong count = new AtomicLong();

        @Override public int fd() { return -1; }

        @Override
        public void signal() {
            count.incrementAndGet();
            deliver(this);
        }

        @Override public long poll() { return count.getAndSet(0); }
        @Override public void close() { }
    }
}
