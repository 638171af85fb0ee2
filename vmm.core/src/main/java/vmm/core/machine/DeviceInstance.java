package vmm.core.machine;

import java.lang.System.Logger.Level;
import java.util.Map;

import vmm.core.device.DeviceContext;
import vmm.core.device.DeviceCounters;
import vmm.core.device.DeviceModel;
import vmm.core.device.DeviceProvider;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;
import vmm.core.device.SwapGate;
import vmm.core.memory.GuestMemory;
import vmm.core.pci.PciAddress;
import vmm.core.virtio.VirtioContext;
import vmm.core.virtio.VirtioDevice;
import vmm.core.virtio.VirtioFeatures;
import vmm.core.virtio.VirtioPciTransport;

/**
 * One device as the guest knows it: an identity (id, type, slot,
 * configuration) and a guest-visible shell (for virtio devices the
 * virtio-pci transport: PCI config space, BARs, queues, status) that stay in
 * place while the implementation behind them changes.
 *
 * <p>A swap closes the instance's {@link SwapGate} (guest accesses wait,
 * bounded), pauses the old model (it drains its in-flight work, so every
 * request it took is completed and interrupted exactly once), saves its
 * state, restores it into a model from the new provider, activates it with
 * the same queues and opens the gate; the queues are then kicked so work the
 * guest offered meanwhile is picked up. Work never taken stays in the rings,
 * so none is lost or done twice. Lifecycle methods are serialized on the
 * instance; bus accesses run concurrently on vCPU threads.
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
    private final SwapGate gate = new SwapGate();
    private final VirtioPciTransport transport;
    private volatile String implementation;
    private volatile Status status = Status.ACTIVE;
    private DeviceState heldState;
    private volatile int swaps;
    private final DeviceCounters counters;

    private DeviceInstance(Machine machine, String id, String type, PciAddress address, Map<String, Object> configuration,
                           String implementation, VirtioDevice first, DeviceCounters counters) {
        this.machine = machine;
        this.id = id;
        this.type = type;
        this.address = address;
        this.configuration = Map.copyOf(configuration);
        this.implementation = implementation;
        boolean legacy = Boolean.parseBoolean(String.valueOf(configuration.getOrDefault("legacy", "false")));
        this.transport = new VirtioPciTransport(machine.pci(), address, machine.memory(), first,
                new VirtioPciTransport.Options(id, legacy, 0, optionRom(id, configuration.get(ROM))), gate);
        if (machine.hypervisor() != null) transport.useHypervisor(machine.hypervisor(), machine.gsis());
        this.counters = counters;
        transport.countInto(counters);
    }

    static DeviceInstance plug(Machine machine, String id, String type, PciAddress address, Map<String, Object> config,
                               String implementation, DeviceProvider provider) {
        DeviceCounters counters = new DeviceCounters(id);
        DeviceModel model = provider.create(context(id, config, machine.memory(), counters));
        if (!(model instanceof VirtioDevice v)) {
            model.stop();
            throw new IllegalArgumentException("device " + id + ": implementation " + implementation + " of " + type
                    + " made a " + model.getClass().getName() + "; only virtio device models can be plugged into PCI yet");
        }
        v.start();
        try {
            return new DeviceInstance(machine, id, type, address, config, implementation, v, counters);
        } catch (RuntimeException e) {
            v.stop();
            throw e;
        }
    }

    /** The configuration key of a device's option ROM file (any virtio-pci device; iPXE for a network device). */
    public static final String ROM = "rom";

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

    private static DeviceContext context(String id, Map<String, Object> config, GuestMemory memory, DeviceCounters counters) {
        Map<String, Object> copy = Map.copyOf(config);
        return new DeviceContext() {
            @Override public String instanceId() { return id; }
            @Override public Map<String, Object> configuration() { return copy; }
            @Override public GuestMemory memory() { return memory; }
            @Override public void requestFailed() { counters.failed(); }
        };
    }

    public String id() { return id; }

    public String type() { return type; }

    public PciAddress address() { return address; }

    public Map<String, Object> configuration() { return configuration; }

    /** The implementation now serving (or last served, when detached). */
    public String implementation() { return implementation; }

    public Status status() { return status; }

    /** Completed swaps and re-attachments since plugging. */
    public int swapCount() { return swaps; }

    /** Requests, bytes and errors of this instance since plugging, whichever implementation served them. */
    public DeviceCounters counters() { return counters; }

    /** The guest-visible virtio-pci shell. */
    public VirtioPciTransport transport() { return transport; }

    /** The model now serving, or null when detached. */
    public synchronized VirtioDevice model() {
        return status == Status.ACTIVE ? transport.device() : null;
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
            VirtioDevice old = transport.device();
            old.pause();
            DeviceState state;
            VirtioDevice next;
            try {
                state = old.saveState();
                next = build(provider, state, old);
            } catch (RuntimeException e) {
                old.resume();
                throw e;
            }
            transport.releaseKernelBindings();
            old.stop();
            transport.replaceDevice(next);
            implementation = nextImplementation;
            swaps++;
            LOG.log(Level.INFO, "device {0}: swapped to {1}", id, nextImplementation);
        } finally {
            gate.open();
        }
        transport.kickEnabledQueues();
    }

    /**
     * The serving implementation is going away (its bundle stops): pause and
     * save the model, stop it, and hold guest accesses until {@link #attach}
     * brings a successor. Does nothing unless active.
     */
    public synchronized void detach() {
        if (status != Status.ACTIVE) return;
        gate.close();
        VirtioDevice old = transport.device();
        try {
            old.pause();
            heldState = old.saveState();
        } finally {
            try {
                transport.releaseKernelBindings();
                old.stop();
            } finally {
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
        VirtioDevice next = build(provider, heldState, transport.device());
        transport.replaceDevice(next);
        heldState = null;
        implementation = nextImplementation;
        status = Status.ACTIVE;
        swaps++;
        gate.open();
        LOG.log(Level.INFO, "device {0}: attached implementation {1}", id, nextImplementation);
        transport.kickEnabledQueues();
    }

    /** Creates, checks, restores and starts a successor; stops it again on failure. */
    private VirtioDevice build(DeviceProvider provider, DeviceState state, VirtioDevice shape) {
        DeviceModel m = provider.create(context(id, configuration, machine.memory(), counters));
        try {
            if (!(m instanceof VirtioDevice next))
                throw new IllegalArgumentException("device " + id + ": the new implementation made a "
                        + m.getClass().getName() + ", not a virtio device");
            checkSameShape(shape, next);
            if (state != null) next.restoreState(state);
            // Started but not yet active: it has no queues until the
            // transport activates it, so it can take no work early.
            next.start();
            return next;
        } catch (RuntimeException e) {
            m.stop();
            throw e;
        }
    }

    private void checkSameShape(VirtioDevice old, VirtioDevice next) {
        StringBuilder why = new StringBuilder();
        if (old.deviceId() != next.deviceId()) why.append(" device ID ").append(next.deviceId()).append(" != ").append(old.deviceId());
        if (old.queueCount() != next.queueCount()) why.append(" queue count ").append(next.queueCount()).append(" != ").append(old.queueCount());
        if (old.configSize() != next.configSize()) why.append(" config size ").append(next.configSize()).append(" != ").append(old.configSize());
        for (int q = 0; q < Math.min(old.queueCount(), next.queueCount()); q++)
            if (next.maxQueueSize(q) < old.maxQueueSize(q)) why.append(" queue ").append(q).append(" smaller");
        VirtioContext ctx = transport.context();
        if (ctx != null) {
            // VERSION_1 is the transport's to offer, every other negotiated bit the device's.
            long missing = ctx.negotiatedFeatures() & ~next.deviceFeatures() & ~VirtioFeatures.bit(VirtioFeatures.VERSION_1);
            if (missing != 0) why.append(String.format(" lacks negotiated features 0x%x", missing));
        }
        if (!why.isEmpty())
            throw new IncompatibleStateException("device " + id + ": the new implementation does not match the guest-visible device:" + why);
    }

    /** Unplugs the device from the bus and stops its model. Idempotent. */
    public synchronized void remove() {
        if (status == Status.REMOVED) return;
        try {
            if (status == Status.ACTIVE) {
                gate.close();
                VirtioDevice d = transport.device();
                try {
                    d.pause();
                } finally {
                    transport.releaseKernelBindings();
                    d.stop();
                }
            }
            transport.detach();
        } finally {
            status = Status.REMOVED;
            gate.open();
            machine.forget(this);
        }
    }

    private void requireNotRemoved() {
        if (status == Status.REMOVED) throw new IllegalStateException("device " + id + " was removed");
    }

    @Override
    public String toString() {
        return String.format("%s %s at %s (%s, %s)", id, type, address, implementation, status);
    }
}
