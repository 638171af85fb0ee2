package vmm.core.machine;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.device.DeviceProvider;
import vmm.core.hypervisor.GsiPool;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.irq.IrqChip;
import vmm.core.memory.GuestMemory;
import vmm.core.pci.PciAddress;
import vmm.core.pci.PciBus;

/**
 * One virtual machine's devices and address spaces: guest memory, the
 * I/O-port and MMIO buses, the PCI bus, and the interrupt controller they
 * deliver to. It knows nothing of CPUs: a hypervisor back end runs vCPUs
 * against it, and the test kit drives it with no CPU at all. Thread-safe.
 */
public final class Machine implements AutoCloseable {
    private final GuestMemory memory;
    private final IrqChip irqChip;
    private final IoPortBus ioPorts = new IoPortBus();
    private final MmioBus mmio = new MmioBus();
    private final PciBus pci;
    private final List<DeviceInstance> instances = new CopyOnWriteArrayList<>();
    private volatile VirtualMachine hypervisor;
    private volatile GsiPool gsis;
    private volatile Hotplug hotplug;

    /** Assembles a machine over {@code memory}; the machine closes the memory when it is closed. */
    public Machine(GuestMemory memory, IrqChip irqChip) {
        this.memory = memory;
        this.irqChip = irqChip;
        this.pci = new PciBus(ioPorts, mmio, irqChip);
    }

    public GuestMemory memory() { return memory; }

    public IrqChip irqChip() { return irqChip; }

    public IoPortBus ioPorts() { return ioPorts; }

    public MmioBus mmio() { return mmio; }

    public PciBus pci() { return pci; }

    /**
     * Says the machine runs on {@code vm} (whose interrupt controller is this
     * machine's), so devices plugged from now on may bind guest writes to
     * ioeventfds and interrupts to irqfds ({@link vmm.core.virtio.KernelNotified}).
     * Called once, before devices are plugged; a machine without it (the test
     * kit's) keeps every notification and interrupt in user space.
     *
     * @throws IllegalStateException when called twice or after a device was plugged
     */
    public synchronized void useHypervisor(VirtualMachine vm, GsiPool gsis) {
        if (hypervisor != null) throw new IllegalStateException("the machine already runs on a hypervisor");
        if (!instances.isEmpty()) throw new IllegalStateException("useHypervisor must come before devices are plugged");
        this.gsis = java.util.Objects.requireNonNull(gsis, "gsis");
        this.hypervisor = java.util.Objects.requireNonNull(vm, "vm");
    }

    /**
     * Says how PCI devices go in and out of the running guest; set once by the platform (a PC's chipset) before
     * devices are plugged. Without one, {@link #unplug} removes at once.
     *
     * @throws IllegalStateException when called twice or after a device was plugged
     */
    public synchronized void useHotplug(Hotplug h) {
        if (hotplug != null) throw new IllegalStateException("the machine already has a hotplug controller");
        if (!instances.isEmpty()) throw new IllegalStateException("useHotplug must come before devices are plugged");
        this.hotplug = java.util.Objects.requireNonNull(h, "hotplug");
    }

    /** The controller given to {@link #useHotplug}, or null. */
    public Hotplug hotplug() { return hotplug; }

    /** The configuration key that makes a PCI device plugged before the guest runs removable by it. */
    public static final String REMOVABLE = "removable";

    /**
     * {@code removable}'s value: false when not set.
     *
     * @throws IllegalArgumentException naming the key for anything but true or false, so a typo does not leave a
     *                                  device the user meant to remove fixed in place (or the other way round)
     */
    private static boolean removable(String id, Object value) {
        if (value == null || String.valueOf(value).isBlank()) return false;
        String v = String.valueOf(value).trim();
        if (v.equalsIgnoreCase("true")) return true;
        if (v.equalsIgnoreCase("false")) return false;
        throw new IllegalArgumentException("device " + id + ": " + REMOVABLE + "=" + value + " must be true or false");
    }

    /**
     * Takes {@code d} out: while the guest runs and the platform hotplugs, by asking the guest to eject it (the
     * device stays in place until it does); otherwise at once.
     *
     * @return completed once the device is removed
     * @throws IllegalStateException when the guest runs and the device may not be taken out of it (plugged at
     *                               start and not configured {@code removable=true}); nothing changed then
     */
    public CompletableFuture<Void> unplug(DeviceInstance d) {
        Hotplug h = hotplug;
        if (h != null && d.address() != null && h.live() && d.status() != DeviceInstance.Status.REMOVED) {
            h.requestRemoval(d.address());
            return d.removal();
        }
        d.remove();
        return d.removal();
    }

    /** The VM given to {@link #useHypervisor}, or null. */
    public VirtualMachine hypervisor() { return hypervisor; }

    /** The MSI GSIs of {@link #hypervisor()}, or null without one. */
    public GsiPool gsis() { return gsis; }

    /**
     * Plugs a new device instance implemented by {@code provider}: a virtio
     * device into PCI slot {@code address}, or a {@link vmm.core.device.BusDevice}
     * on the ranges it decodes ({@code address} null); the instance keeps its
     * identity when later moved to another provider with {@link DeviceInstance#swapTo}.
     *
     * @throws IllegalArgumentException when the configuration is unusable or the provider's model is of an unsupported kind
     * @throws IllegalStateException    when the slot or instance id is already taken (a bus range another device
     *                                  decodes is an {@link IllegalArgumentException} naming both)
     */
    public DeviceInstance plug(String instanceId, String type, PciAddress address, Map<String, Object> configuration,
                               String implementation, DeviceProvider provider) {
        for (DeviceInstance d : instances)
            if (d.id().equals(instanceId)) throw new IllegalStateException("device instance " + instanceId + " already exists");
        boolean removable = removable(instanceId, configuration.get(REMOVABLE));
        DeviceInstance d = DeviceInstance.plug(this, instanceId, type, address, configuration, implementation, provider);
        instances.add(d);
        Hotplug h = hotplug;
        if (h != null && address != null) h.plugged(address, removable, d::remove);
        return d;
    }

    /** Called by an instance when it is removed. */
    void forget(DeviceInstance d) {
        instances.remove(d);
        Hotplug h = hotplug;
        if (h != null && d.address() != null) h.removed(d.address());
    }

    /** The plugged instances, in plug order. */
    public List<DeviceInstance> instances() {
        return List.copyOf(instances);
    }

    /** Removes every device, then releases guest memory. */
    @Override
    public void close() {
        for (DeviceInstance d : new ArrayList<>(instances)) d.remove();
        memory.close();
    }
}
