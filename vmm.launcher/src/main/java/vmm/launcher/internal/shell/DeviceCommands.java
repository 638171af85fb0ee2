package vmm.launcher.internal.shell;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.osgi.framework.BundleContext;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;

import vmm.core.device.DeviceCounters;
import vmm.core.machine.DeviceInstance;
import vmm.core.machine.DeviceInstanceInfo;
import vmm.core.machine.Hotplug;
import vmm.core.machine.Machine;
import vmm.core.pci.PciAddress;
import vmm.launcher.internal.Arguments;
import vmm.launcher.internal.Implementations;

/**
 * Gogo commands for device instances: {@code device:list} (slot, type,
 * implementation, implementing bundle and version, status, swaps) and
 * {@code device:swap INSTANCE IMPLEMENTATION} (devices served on a vhost-user
 * or vfio-user socket too), which writes the choice into
 * the instance's configuration, as a user would, and waits for the core to
 * carry it out; {@code device:stats}: each instance's requests, bytes and
 * errors since it was plugged (the core's counters, across swaps);
 * {@code device:add SLOT EMULATION[,options]} and {@code device:remove SLOT [SECONDS]}, which plug a PCI device
 * into the running guest and take it out with the guest's consent (ACPI PCI hotplug). Both go through
 * Configuration Admin, as a user's own configuration would: add creates the instance's {@code vmm.device}
 * factory configuration, remove deletes it and waits for the guest to eject the device.
 */
@Component(service = DeviceCommands.class, property = {"osgi.command.scope=device", "osgi.command.function=list",
        "osgi.command.function=swap", "osgi.command.function=stats", "osgi.command.function=add",
        "osgi.command.function=remove"})
public final class DeviceCommands {
    @Reference
    private ConfigurationAdmin cm;
    @Activate
    private BundleContext context;
    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    private volatile List<DeviceInstanceInfo> devices;
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC)
    private volatile Machine machine;

    public String list() {
        List<String> lines = new ArrayList<>();
        lines.add(String.format("%-22s %-8s %-12s %-16s %-34s %-9s %s", "instance", "slot", "type", "implementation", "bundle", "status", "swaps"));
        List<DeviceInstanceInfo> ds = new ArrayList<>(devices);
        ds.sort(BY_SLOT);
        for (DeviceInstanceInfo d : ds) {
            String bundle = Implementations.bundleOf(context, d.type(), d.implementation());
            lines.add(String.format("%-22s %-8s %-12s %-16s %-34s %-9s %d", d.id(), where(d), d.type(), d.implementation(),
                    bundle, d.status() == null ? "waiting" : d.status().name().toLowerCase(), d.swapCount()));
        }
        return String.join("\n", lines);
    }

    /** PCI devices by slot, then the devices on the port and MMIO buses. */
    private static final Comparator<DeviceInstanceInfo> BY_SLOT = Comparator.comparing(DeviceInstanceInfo::address,
            Comparator.nullsLast(Comparator.naturalOrder()));

    /** The slot of a PCI device; the ranges of a device on the port or MMIO bus; the socket of a served device. */
    private static String where(DeviceInstanceInfo d) {
        return d.location();
    }

    public String stats() {
        return stats(devices);
    }

    /** The counters table of {@code devices}, by slot. */
    static String stats(List<DeviceInstanceInfo> devices) {
        List<String> lines = new ArrayList<>();
        lines.add(String.format("%-22s %-8s %-12s %12s %16s %8s", "instance", "slot", "type", "requests", "bytes", "errors"));
        List<DeviceInstanceInfo> ds = new ArrayList<>(devices);
        ds.sort(BY_SLOT);
        for (DeviceInstanceInfo d : ds) {
            DeviceCounters c = d.counters();
            if (c == null) lines.add(String.format("%-22s %-8s %-12s %12s %16s %8s", d.id(), where(d), d.type(), "-", "-", "-"));
            else lines.add(String.format("%-22s %-8s %-12s %12d %16d %8d", d.id(), where(d), d.type(), c.requests(), c.bytes(), c.errors()));
        }
        return String.join("\n", lines);
    }

    /**
     * Moves {@code instance} (its id, e.g. {@code vmm.device~disk} or {@code vmm.vhost-user~net}, or its slot, e.g.
     * {@code 00:04.0}) to {@code implementation}.
     */
    public String swap(String instance, String implementation) throws Exception {
        DeviceInstanceInfo d = find(instance);
        int before = d.swapCount();
        Configuration c = cm.getConfiguration(d.id(), "?");
        Dictionary<String, Object> props = c.getProperties();
        props.put("implementation", implementation);
        c.update(props);
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (d.swapCount() > before && implementation.equals(d.implementation())) return d.id() + ": now " + implementation;
            Thread.sleep(20);
        }
        return d.id() + ": no swap to " + implementation + " within 10 s (is a provider named " + implementation
                + " for " + d.type() + " installed? see device:list and the log)";
    }

    private DeviceInstanceInfo find(String instance) {
        return find(devices, instance);
    }

    /** The instance {@code instance} names: its id, its id after {@code vmm.device~}, or its location. */
    static DeviceInstanceInfo find(List<DeviceInstanceInfo> devices, String instance) {
        for (DeviceInstanceInfo d : devices)
            if (d.id().equals(instance) || d.id().equals("vmm.device~" + instance) || where(d).equals(instance)) return d;
        throw new IllegalArgumentException("no device instance " + instance + " (see device:list)");
    }

    /** How long {@code device:remove} waits for the guest's eject when not told. */
    static final long REMOVE_WAIT_SECONDS = 30;

    /**
     * Plugs {@code emulation} (as {@code -s SLOT,EMULATION[,options]} writes it, e.g. {@code virtio-blk,disk.img})
     * into PCI {@code slot} ({@code 5}, {@code 5:0} or {@code 00:05.0}) of the running guest: creates the
     * instance's configuration and waits for the device to be plugged; the guest is notified through ACPI.
     */
    public String add(String slot, String emulation) throws Exception {
        PciAddress at = slot(slot);
        for (DeviceInstanceInfo d : devices)
            if (at.equals(d.address())) throw new IllegalArgumentException("slot " + at + " holds " + d.id() + " (see device:list)");
        List<String> warnings = new ArrayList<>();
        Map<String, Object> props = Arguments.emulation(emulation, warnings, Set.of());
        props.put("address", "0:" + at.device() + "." + at.function());
        Configuration c = cm.getFactoryConfiguration(DEVICE_PID, "s" + at.device() + "_" + at.function(), "?");
        if (c.getProperties() != null) throw new IllegalStateException("configuration " + c.getPid() + " exists already");
        c.update(new Hashtable<>(props));
        String id = c.getPid();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            for (DeviceInstanceInfo d : devices)
                if (d.id().equals(id) && d.status() == DeviceInstance.Status.ACTIVE)
                    return id + ": " + d.type() + " added at " + at + (live() ? "; the guest was notified" : "")
                            + (warnings.isEmpty() ? "" : "\n" + String.join("\n", warnings));
            Thread.sleep(20);
        }
        return id + ": configured, but no " + props.get("type") + " was plugged within 10 s (is its provider installed? "
                + "see device:list and the log)";
    }

    /** {@link #remove(String, long)} waiting {@link #REMOVE_WAIT_SECONDS}. */
    public String remove(String instance) throws Exception {
        return remove(instance, REMOVE_WAIT_SECONDS);
    }

    /**
     * Takes {@code instance} (a slot or an instance id) out of the running guest: deletes its configuration, which
     * asks the guest to eject it, and waits up to {@code seconds} for the guest to do so; the device is released
     * only then. A guest that does not eject keeps the device, and the request stands.
     */
    public String remove(String instance, long seconds) throws Exception {
        DeviceInstanceInfo d = find(instance);
        DeviceInstance i = d.instance();
        Machine m = machine;
        Hotplug h = m == null ? null : m.hotplug();
        boolean ask = i != null && d.address() != null && h != null && h.live();
        if (ask && !h.removable(d.address()))
            return d.id() + ": cannot be taken out of the running guest: it was plugged at start and not configured "
                    + Machine.REMOVABLE + "=true; nothing changed";
        CompletableFuture<Void> removed = i == null ? CompletableFuture.completedFuture(null) : i.removal();
        cm.getConfiguration(d.id(), "?").delete();
        if (!ask) {
            removed.get(10, TimeUnit.SECONDS);
            return d.id() + ": removed";
        }
        try {
            removed.get(seconds, TimeUnit.SECONDS);
            return d.id() + ": the guest ejected it; removed from " + d.address();
        } catch (TimeoutException e) {
            return d.id() + ": the guest was asked to eject it and has not within " + seconds + " s; the device stays at "
                    + d.address() + " until the guest ejects it (the request stands)";
        }
    }

    private boolean live() {
        Machine m = machine;
        return m != null && m.hotplug() != null && m.hotplug().live();
    }

    static final String DEVICE_PID = "vmm.device";

    /** A slot as the user writes it: {@code 5}, {@code 5:0} (slot and function) or a PCI address. */
    static PciAddress slot(String text) {
        String t = text.trim();
        if (t.matches("\\d+(:\\d)?")) {
            String[] p = t.split(":");
            return new PciAddress(0, Integer.parseInt(p[0]), p.length > 1 ? Integer.parseInt(p[1]) : 0);
        }
        return PciAddress.parse(t);
    }
}
