package vmm.core.machine;

import java.lang.System.Logger.Level;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

import vmm.core.device.BusDevice;
import vmm.core.device.DeviceContext;
import vmm.core.device.DeviceCounters;
import vmm.core.device.DeviceModel;
import vmm.core.device.DeviceProvider;
import vmm.core.device.PciDevice;
import vmm.core.device.SwapGate;
import vmm.core.memory.GuestMemory;
import vmm.core.pci.PciAddress;
import vmm.core.irq.InterruptLine;
import vmm.core.virtio.VirtioDevice;
import vmm.core.virtio.VirtioPciTransport;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * One device as the guest knows it: an identity (id, type, where it sits,
 * configuration) and a guest-visible shell that stays in place while the
 * implementation behind it changes: for a virtio device the virtio-pci
 * transport (PCI config space, BARs, queues, status), for a {@link PciDevice}
 * its PCI function, for a {@link BusDevice} its port or MMIO ranges and
 * interrupt lines.
 *
 * <p>A swap closes the instance's {@link SwapGate} (guest accesses wait,
 * bounded), pauses the old model (it drains its in-flight work, so every
 * request it took is completed and interrupted exactly once), saves its
 * state, restores it into a model from the new provider, installs it in the
 * shell and opens the gate; a virtio device's queues are then kicked so work
 * the guest offered meanwhile is picked up. Work never taken stays in the
 * rings, so none is lost or done twice. Lifecycle methods are serialized on
 * the instance; bus accesses run concurrently on vCPU threads.
 */
public final class DeviceInstance {
    private static final System.Logger LOG = System.getLogger("vmm.device");

    /** Where an instance stands. */
    public enum Status {
        /** An implementation serves the guest. */
        ACTIVE,
        /** The implementation went away; state is held and guest accesses wait for a successor. */
        DETACHED,
        /** Unplugged; final. */
        REMOVED
    }

    private final Machine machine;
    private final String id, type;
    private final PciAddress address;
    private final Map<String, Object> configuration;
    private final SwapGate gate;
    private final Shell shell;
    /** The interrupt lines the models asked for, one per GSI, shared by every model so a level survives a swap. */
    private final Lines lines;
    private volatile String implementation;
    /** The provider of the serving model, for a restore that makes a model of it again; null while detached. */
    private DeviceProvider provider;
    /** Whether {@link #quiesce()} holds the model paused and the gate closed. */
    private boolean quiesced;
    private volatile Status status = Status.ACTIVE;
    private DeviceState heldState;
    private volatile int swaps;
    private final DeviceCounters counters;
    private final CompletableFuture<Void> removed = new CompletableFuture<>();

    private DeviceInstance(Machine machine, String id, String type, PciAddress address, Map<String, Object> configuration,
                           String implementation, SwapGate gate, Shell shell, Lines lines, DeviceCounters counters) {
        this.machine = machine;
        this.id = id;
        this.type = type;
        this.address = address;
        this.configuration = Map.copyOf(configuration);
        this.implementation = implementation;
        this.gate = gate;
        this.shell = shell;
        this.lines = lines;
        this.counters = counters;
    }

    /**
     * Plugs a model made by {@code provider}: a virtio device at PCI {@code address}, or a {@link BusDevice} on
     * its ranges ({@code address} null).
     */
    static DeviceInstance plug(Machine machine, String id, String type, PciAddress address, Map<String, Object> config,
                               String implementation, DeviceProvider provider) {
        SwapGate gate = new SwapGate(swapWaitMillis(id, config.get(SWAP_WAIT_MS)));
        DeviceCounters counters = new DeviceCounters(id);
        Lines lines = new Lines(machine);
        DeviceModel model = provider.create(context(id, config, machine.memory(), counters, lines));
        Shell shell;
        try {
            shell = shellFor(machine, id, type, address, config, implementation, model, gate);
        } catch (RuntimeException e) {
            model.stop();
            throw e;
        }
        model.start();
        try {
            if (shell instanceof VirtioShell v) v.transport.countInto(counters);
            DeviceInstance d = new DeviceInstance(machine, id, type, address, config, implementation, gate, shell,
                    lines, counters);
            d.provider = provider;
            return d;
        } catch (RuntimeException e) {
            shell.unplug();
            model.stop();
            throw e;
        }
    }

    private static Shell shellFor(Machine machine, String id, String type, PciAddress address, Map<String, Object> config,
                                  String implementation, DeviceModel model, SwapGate gate) {
        if (model instanceof VirtioDevice v) {
            if (address == null)
                throw new IllegalArgumentException("device " + id + ": " + type + " is a virtio device: it needs a PCI address");
            boolean legacy = Boolean.parseBoolean(String.valueOf(config.getOrDefault("legacy", "false")));
            VirtioPciTransport t = new VirtioPciTransport(machine.pci(), address, machine.memory(), v,
                    new VirtioPciTransport.Options(id, legacy, 0, optionRom(id, config.get(ROM))), gate);
            if (machine.hypervisor() != null) t.useHypervisor(machine.hypervisor(), machine.gsis());
            return new VirtioShell(id, t);
        }
        if (model instanceof PciDevice p) {
            if (address == null)
                throw new IllegalArgumentException("device " + id + ": " + type + " is a PCI device: it needs a PCI address");
            return new PciShell(id, machine, address, gate, p);
        }
        if (model instanceof BusDevice b) {
            if (address != null)
                throw new IllegalArgumentException("device " + id + ": " + type + " sits on " + b.ranges()
                        + ", not on PCI: give it no address");
            return new BusShell(id, machine, gate, b);
        }
        throw new IllegalArgumentException("device " + id + ": implementation " + implementation + " of " + type
                + " made a " + model.getClass().getName() + ", which is no VirtioDevice, PciDevice or BusDevice");
    }

    /** The interrupt lines handed to an instance's models, made once per GSI. Thread-safe. */
    private static final class Lines {
        private final Machine machine;
        private final Map<Integer, InterruptLine> byGsi = new java.util.concurrent.ConcurrentHashMap<>();

        Lines(Machine machine) {
            this.machine = machine;
        }

        InterruptLine line(String id, int gsi) {
            if (gsi < 0 || gsi > MAX_GSI)
                throw new IllegalArgumentException("device " + id + ": interrupt line " + gsi + " is not an IOAPIC input (0-"
                        + MAX_GSI + ")");
            return byGsi.computeIfAbsent(gsi, g -> machine.irqChip().line(g));
        }

        /** The device went away: none of its lines stays raised. */
        void lowerAll() {
            byGsi.values().forEach(InterruptLine::lower);
        }
    }

    /** The highest interrupt input a bus device may drive: the IOAPIC has 24. */
    static final int MAX_GSI = 23;

    /** The configuration key of a device's option ROM file (any virtio-pci device; iPXE for a network device). */
    public static final String ROM = "rom";

    /**
     * The configuration key of how long, in milliseconds, a guest access to the device waits while it is swapped
     * or held detached before it is answered as if no device decoded it (reads all ones, writes dropped); 1 to
     * {@value #MAX_SWAP_WAIT_MS}, {@value SwapGate#DEFAULT_WAIT_MILLIS} when not set.
     */
    public static final String SWAP_WAIT_MS = "swap-wait-ms";
    /** The longest {@value #SWAP_WAIT_MS} (an hour). */
    public static final long MAX_SWAP_WAIT_MS = 3_600_000;

    /**
     * The value of {@code swap-wait-ms}, or the default when it is not set.
     *
     * @throws IllegalArgumentException naming the key when it is no number of milliseconds in range
     */
    static long swapWaitMillis(String id, Object value) {
        if (value == null || String.valueOf(value).isBlank()) return SwapGate.DEFAULT_WAIT_MILLIS;
        long ms;
        try {
            ms = Long.parseLong(String.valueOf(value).trim());
        } catch (NumberFormatException e) {
            ms = -1;
        }
        if (ms < 1 || ms > MAX_SWAP_WAIT_MS)
            throw new IllegalArgumentException("device " + id + ": " + SWAP_WAIT_MS + "=" + value
                    + " must be a number of milliseconds from 1 to " + MAX_SWAP_WAIT_MS);
        return ms;
    }

    /**
     * The image of {@code rom=FILE}, or null when not set (no expansion ROM BAR).
     *
     * @throws IllegalArgumentException naming the key when the file cannot be read or is no PCI option ROM
     */
    static byte[] optionRom(String id, Object file) {
        if (file == null || String.valueOf(file).isBlank()) return null;
        java.nio.file.Path p = java.nio.file.Path.of(String.valueOf(file).trim());
        byte[] image;
        try {
            image = java.nio.file.Files.readAllBytes(p);
        } catch (java.io.IOException | RuntimeException e) {
            throw new IllegalArgumentException("device " + id + ": " + ROM + "=" + file + " cannot be read: " + e);
        }
        // Firmware looks for the 0x55 0xAA signature (PCI Firmware Specification 5.1) and skips anything else.
        if (image.length < 0x1a || (image[0] & 0xff) != 0x55 || (image[1] & 0xff) != 0xaa)
            throw new IllegalArgumentException("device " + id + ": " + ROM + "=" + file
                    + " is no PCI option ROM (it does not start with the 55 AA signature)");
        return image;
    }

    private static DeviceContext context(String id, Map<String, Object> config, GuestMemory memory, DeviceCounters counters,
                                         Lines lines) {
        Map<String, Object> copy = Map.copyOf(config);
        return new DeviceContext() {
            @Override public String instanceId() { return id; }
            @Override public Map<String, Object> configuration() { return copy; }
            @Override public GuestMemory memory() { return memory; }
            @Override public void requestFailed() { counters.failed(); }
            @Override public InterruptLine interruptLine(int gsi) { return lines.line(id, gsi); }
        };
    }

    public String id() { return id; }

    public String type() { return type; }

    /** The PCI address of a virtio device; null for a {@link BusDevice}. */
    public PciAddress address() { return address; }

    /** Where the guest finds the device: its PCI function, or its bus ranges. */
    public String location() { return shell.location(); }

    public Map<String, Object> configuration() { return configuration; }

    /** The implementation now serving (or last served, when detached). */
    public String implementation() { return implementation; }

    public Status status() { return status; }

    /** Completed swaps and re-attachments since plugging. */
    public int swapCount() { return swaps; }

    /** Requests, bytes and errors of this instance since plugging, whichever implementation served them. */
    public DeviceCounters counters() { return counters; }

    /** The guest-visible virtio-pci shell of a virtio device; null for a {@link BusDevice}. */
    public VirtioPciTransport transport() {
        return shell instanceof VirtioShell v ? v.transport : null;
    }

    /** The virtio model now serving; null when detached or when the device is not a virtio device. */
    public synchronized VirtioDevice model() {
        return status == Status.ACTIVE && shell.model() instanceof VirtioDevice v ? v : null;
    }

    /** The model now serving, of whatever kind; null when detached or removed. */
    public synchronized DeviceModel serving() {
        return status == Status.ACTIVE ? shell.model() : null;
    }

    /**
     * Moves the instance to a model made by {@code provider}, carrying its
     * state. On any failure (the provider refuses, the state is incompatible,
     * the new model does not match the guest-visible device) the old model
     * resumes and the exception is rethrown; nothing the guest sees changes.
     * If the instance is detached this attaches it instead.
     *
     * @throws IllegalStateException if the instance was removed
     */
    public synchronized void swapTo(String nextImplementation, DeviceProvider provider) {
        requireNotRemoved();
        if (status == Status.DETACHED) {
            attach(nextImplementation, provider);
            return;
        }
        gate.close();
        try {
            replaceModel(provider, DeviceModel::saveState);
            implementation = nextImplementation;
            this.provider = provider;
            swaps++;
            LOG.log(Level.INFO, "device {0}: swapped to {1}", id, nextImplementation);
        } finally {
            gate.open();
        }
        shell.afterInstall();
    }

    /**
     * The serving implementation is going away (its bundle stops): pause and
     * save the model, stop it, and hold guest accesses until {@link #attach}
     * brings a successor. Does nothing unless active.
     */
    public synchronized void detach() {
        if (status != Status.ACTIVE) return;
        gate.close();
        DeviceModel old = shell.model();
        try {
            old.pause();
            heldState = old.saveState();
        } finally {
            try {
                shell.releaseModel();
                old.stop();
            } finally {
                provider = null;
                status = Status.DETACHED;
                LOG.log(Level.INFO, "device {0}: implementation {1} left; guest accesses wait for a successor", id, implementation);
            }
        }
    }

    /**
     * Brings a detached instance back with a model from {@code provider},
     * restored from the held state; accesses held meanwhile proceed.
     *
     * @throws IllegalStateException if not detached
     */
    public synchronized void attach(String nextImplementation, DeviceProvider provider) {
        requireNotRemoved();
        if (status != Status.DETACHED) throw new IllegalStateException("device " + id + " is not detached");
        DeviceModel next = build(provider, heldState);
        shell.install(next);
        heldState = null;
        implementation = nextImplementation;
        this.provider = provider;
        status = Status.ACTIVE;
        swaps++;
        gate.open();
        LOG.log(Level.INFO, "device {0}: attached implementation {1}", id, nextImplementation);
        shell.afterInstall();
    }

    /** Creates, checks, restores and starts a successor; stops it again on failure. */
    private DeviceModel build(DeviceProvider provider, DeviceState state) {
        DeviceModel next = provider.create(context(id, configuration, machine.memory(), counters, lines));
        try {
            shell.checkShape(next);
            shell.prepare(next);
            if (state != null) next.restoreState(state);
            // Started but not yet installed: a virtio device has no queues until the
            // transport activates it, so it can take no work early.
            next.start();
            return next;
        } catch (RuntimeException e) {
            next.stop();
            throw e;
        }
    }

    /**
     * Pauses the serving model and puts in its place a model of {@code provider} built from {@code stateOf} (the
     * old model's own state for a swap, a snapshot's for a restore); on any failure the old model resumes and
     * serves on, and the exception is rethrown. With the gate closed, under this instance's lock.
     */
    private void replaceModel(DeviceProvider provider, Function<DeviceModel, DeviceState> stateOf) {
        DeviceModel old = shell.model();
        old.pause();
        DeviceModel next;
        try {
            next = build(provider, stateOf.apply(old));
        } catch (RuntimeException e) {
            old.resume();
            throw e;
        }
        shell.releaseModel();
        old.stop();
        shell.install(next);
    }

    /**
     * For a snapshot, with the vCPUs paused: holds guest accesses, pauses the model (it finishes the work it
     * took, as before a swap) and returns its state; the model stays paused, so it changes neither guest memory
     * nor an interrupt line until {@link #unquiesce()}. A detached instance gives the state it holds.
     *
     * @return the model's state, never null
     * @throws IllegalStateException if the instance was removed or is quiesced already, or is detached without a
     *                               state (the implementation that left could not save one)
     */
    public synchronized DeviceState quiesce() {
        requireNotRemoved();
        if (quiesced) throw new IllegalStateException("device " + id + " is quiesced already");
        if (status == Status.DETACHED) {
            // detach() leaves no state when the leaving implementation could not save one: nothing to snapshot.
            if (heldState == null)
                throw new IllegalStateException("device " + id + " is detached and its implementation " + implementation
                        + " left no state to snapshot");
            return heldState;
        }
        gate.close();
        DeviceModel m = shell.model();
        try {
            m.pause();
            DeviceState state = m.saveState();
            quiesced = true;
            return state;
        } catch (RuntimeException e) {
            m.resume();
            gate.open();
            throw e;
        }
    }

    /** Lets a model held by {@link #quiesce()} work again. Does nothing unless quiesced. */
    public synchronized void unquiesce() {
        if (!quiesced) return;
        quiesced = false;
        try {
            shell.model().resume();
        } finally {
            gate.open();
        }
    }

    /**
     * Restores a snapshot's state, before the vCPUs run: a model made again by the serving provider adopts
     * {@code state} and replaces the one plugged from the configuration, as a swap to the same implementation
     * would (the state may come from another implementation of the type). On failure the plugged model
     * serves on and the exception is rethrown.
     *
     * @throws IncompatibleStateException when the model cannot read the state, or fails on it in any other way
     *                                    (one line naming this instance)
     * @throws IllegalStateException                      if the instance is not active
     */
    public synchronized void restore(DeviceState state) {
        requireNotRemoved();
        if (status != Status.ACTIVE || provider == null)
            throw new IllegalStateException("device " + id + " has no serving implementation to restore into");
        gate.close();
        try {
            replaceModel(provider, old -> state);
            LOG.log(Level.INFO, "device {0}: restored from a snapshot into {1}", id, implementation);
        } catch (IncompatibleStateException e) {
            throw new IncompatibleStateException("device " + id + " (" + implementation + "): " + e.getMessage());
        } catch (RuntimeException e) {
            // The state comes from a file: a model that fails on it otherwise than by refusing it still refuses it,
            // in one line naming the device, and the plugged model serves on.
            throw new IncompatibleStateException("device " + id + " (" + implementation + ") cannot take its saved "
                    + "state: " + String.valueOf(e).replaceAll("\\s*\\R\\s*", " "));
        } finally {
            gate.open();
        }
        shell.afterInstall();
    }

    /**
     * A guest (platform) reset, with the vCPUs paused: the device returns to its power-on state (a virtio
     * device as if its driver wrote status 0; a bus device's model is reset). Does nothing unless active.
     */
    public synchronized void reset() {
        if (status == Status.ACTIVE) shell.reset();
    }

    /** Unplugs the device from the bus and stops its model. Idempotent. */
    public synchronized void remove() {
        if (status == Status.REMOVED) return;
        try {
            if (status == Status.ACTIVE) {
                gate.close();
                DeviceModel d = shell.model();
                try {
                    d.pause();
                } finally {
                    shell.releaseModel();
                    d.stop();
                }
            }
            shell.unplug();
        } finally {
            lines.lowerAll();
            status = Status.REMOVED;
            gate.open();
            machine.forget(this);
            removed.complete(null);
        }
    }

    /** Completed once the instance is {@link Status#REMOVED} (by {@link #remove()}, or by the guest's eject after {@link Machine#unplug}). */
    public CompletableFuture<Void> removal() {
        return removed.copy();
    }

    private void requireNotRemoved() {
        if (status == Status.REMOVED) throw new IllegalStateException("device " + id + " was removed");
    }

    @Override
    public String toString() {
        return String.format("%s %s at %s (%s, %s)", id, type, address != null ? address : shell.location(),
                implementation, status);
    }
}
