package device.pci_passthru.internal;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeSet;

import vmm.core.hypervisor.AddressSpace;
import vmm.core.hypervisor.Binding;
import vmm.core.hypervisor.EventFd;
import vmm.core.hypervisor.Vcpu;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.hypervisor.VmConfig;
import vmm.core.irq.IrqChip;
import vmm.core.irq.MsiMessage;
import vmm.core.memory.GuestMemory;

/**
 * The hypervisor side a passed-through function uses, with KVM's semantics
 * kept: an irqfd delivers its GSI's current route when its eventfd is signalled,
 * and an eventfd signalled while no irqfd is bound stays counted and is delivered
 * when one is bound; a resampling irqfd raises a level until the guest's EOI
 * ({@link #eoi}), which signals the resample eventfd; GSIs are handed out once.
 */
public final class FakeVm implements VirtualMachine {
    public final GuestMemory memory;
    public final List<MsiMessage> delivered = new ArrayList<>();
    public final Map<Integer, MsiMessage> routes = new HashMap<>();
    public final Map<Integer, Fd> irqfds = new HashMap<>();
    public final Map<Integer, Fd[]> levelIrqfds = new HashMap<>();
    public final Map<Integer, Boolean> levels = new HashMap<>();
    public final List<String> slots = new ArrayList<>();
    public final Map<Integer, Fd> byNumber = new HashMap<>();
    private final TreeSet<Integer> gsis = new TreeSet<>();
    private int nextFd = 500;

    /** Real eventfds (for a peer process or server that signals them) and where delivered MSIs also go; null for fake ones. */
    private final IrqChip sink;
    private Thread poller;
    private volatile boolean stopped;

    public FakeVm(GuestMemory memory) {
        this.memory = memory;
        this.sink = null;
    }

    /**
     * A VM whose eventfds are real (a vfio-user server signals them), with KVM's irqfd emulated
     * by a poller thread that delivers each bound eventfd's route to {@code sink} as well.
     */
    public FakeVm(GuestMemory memory, IrqChip sink) {
        this.memory = memory;
        this.sink = sink;
        poller = Thread.ofPlatform().daemon().name("fake-irqfd").start(this::pollLoop);
    }

    private void pollLoop() {
        while (!stopped) {
            Map<Integer, Fd> bound;
            synchronized (this) {
                bound = new HashMap<>(irqfds);
            }
            int[] fds = bound.values().stream().mapToInt(f -> f.number).toArray();
            try {
                if (fds.length == 0) {
                    Thread.sleep(5);
                    continue;
                }
                if (vmm.core.linux.Native.pollReadable(fds, 20) <= 0) continue;
                for (var e : bound.entrySet()) {
                    if (vmm.core.linux.Native.drain(e.getValue().number) > 0) {
                        synchronized (this) {
                            deliver(e.getKey());
                        }
                    }
                }
            } catch (Exception e) {
                if (!stopped) e.printStackTrace();
            }
        }
    }

    /** An eventfd with a fake descriptor number, known to the fake VFIO kernel by that number. */
    public final class Fd implements EventFd {
        final int number;
        long count;
        boolean closed;
        Runnable onSignal;

        Fd(int number) {
            this.number = number;
        }

        @Override public int fd() {
            return closed ? -1 : number;
        }

        @Override public synchronized void signal() {
            if (closed) throw new IllegalStateException("signal of a closed eventfd " + number);
            if (sink != null) {
                try {
                    vmm.core.linux.Native.signal(number);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                return;
            }
            if (onSignal != null) {
                onSignal.run();
                return;
            }
            for (var e : irqfds.entrySet()) {
                if (e.getValue() == this) {
                    deliver(e.getKey());
                    return;
                }
            }
            for (var e : levelIrqfds.entrySet()) {
                if (e.getValue()[0] == this) {
                    levels.put(e.getKey(), true);
                    return;
                }
            }
            count++;
        }

        @Override public synchronized long poll() {
            if (sink != null) {
                try {
                    return vmm.core.linux.Native.drain(number);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
            long c = count;
            count = 0;
            return c;
        }

        @Override public void close() {
            if (!closed && sink != null) vmm.core.linux.Native.close(number);
            closed = true;
        }
    }

    private synchronized void deliver(int gsi) {
        MsiMessage m = routes.get(gsi);
        if (m == null) return;
        delivered.add(m);
        if (sink != null) sink.signalMsi(m);
    }

    /** The guest ends the level interrupt on {@code gsi}: KVM lowers it and signals the resample eventfd. */
    public void eoi(int gsi) {
        Fd[] pair = levelIrqfds.get(gsi);
        if (pair == null || !levels.getOrDefault(gsi, false)) return;
        levels.put(gsi, false);
        pair[1].signal();
    }

    /** Runs {@code r} instead of counting when eventfd {@code number} is signalled (VFIO's unmask eventfd). */
    public void onSignal(int number, Runnable r) {
        byNumber.get(number).onSignal = r;
    }

    @Override public GuestMemory memory() {
        return memory;
    }

    @Override public synchronized EventFd createEventFd() {
        int n;
        try {
            n = sink != null ? vmm.core.linux.Native.eventfd(true) : nextFd++;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        Fd f = new Fd(n);
        byNumber.put(f.number, f);
        return f;
    }

    @Override public synchronized Binding bindIrqFd(EventFd fd, int gsi) {
        if (irqfds.containsKey(gsi)) throw new IllegalStateException("GSI " + gsi + " already has an irqfd");
        Fd f = (Fd) fd;
        irqfds.put(gsi, f);
        if (f.poll() > 0) deliver(gsi); // KVM checks the eventfd when the irqfd is assigned
        return () -> {
            synchronized (FakeVm.this) {
                irqfds.remove(gsi, f);
            }
        };
    }

    @Override public Binding bindIrqFd(EventFd fd, EventFd resample, int gsi) {
        levelIrqfds.put(gsi, new Fd[] {(Fd) fd, (Fd) resample});
        return () -> levelIrqfds.remove(gsi);
    }

    @Override public synchronized void routeMsi(int gsi, MsiMessage message) {
        if (!gsis.contains(gsi)) throw new IllegalArgumentException("GSI " + gsi + " was not allocated");
        routes.put(gsi, message);
    }

    @Override public int allocateMsiGsi() {
        int g = 24;
        while (gsis.contains(g)) g++;
        gsis.add(g);
        return g;
    }

    @Override public void releaseMsiGsi(int gsi) {
        gsis.remove(gsi);
        routes.remove(gsi);
    }

    public int allocatedGsis() {
        return gsis.size();
    }

    @Override public Binding mapMemory(long gpa, MemorySegment host, boolean readOnly) {
        for (RamRegionView r : ram()) if (gpa < r.end && r.base < gpa + host.byteSize()) throw new IllegalArgumentException("overlaps RAM");
        String s = String.format("0x%x+0x%x", gpa, host.byteSize());
        slots.add(s);
        return () -> slots.remove(s);
    }

    private record RamRegionView(long base, long end) {}

    private List<RamRegionView> ram() {
        return memory.regions().stream().map(r -> new RamRegionView(r.guestBase(), r.guestEnd())).toList();
    }

    @Override public VmConfig config() {
        throw new UnsupportedOperationException();
    }

    @Override public IrqChip irqChip() {
        throw new UnsupportedOperationException();
    }

    @Override public Vcpu createVcpu(int index) {
        throw new UnsupportedOperationException();
    }

    @Override public Binding bindIoEvent(EventFd fd, AddressSpace space, long address, int size, OptionalLong datamatch) {
        throw new UnsupportedOperationException();
    }

    @Override public void resetInterruptControllers() {}

    @Override public void close() {
        stopped = true;
    }
}
