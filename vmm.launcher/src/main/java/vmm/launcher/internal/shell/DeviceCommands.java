package vmm.launcher.internal.shell;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.Dictionary;
import java.util.List;

import org.osgi.framework.BundleContext;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;

import vmm.core.device.DeviceCounters;
import vmm.core.machine.DeviceInstanceInfo;
import vmm.launcher.internal.Implementations;

/**
 * Gogo commands for device instances: {@code device:list} (slot, type,
 * implementation, implementing bundle and version, status, swaps) and
 * {@code device:swap INSTANCE IMPLEMENTATION} (devices served on a vhost-user
 * or vfio-user socket too), which writes the choice into
 * the instance's configuration, as a user would, and waits for the core to
 * carry it out; {@code device:stats}: each instance's requests, bytes and
 * errors since it was plugged (the core's counters, across swaps).
 */
@Component(service = DeviceCommands.class, property = {"osgi.command.scope=device", "osgi.command.function=list",
        "osgi.command.function=swap", "osgi.command.function=stats"})
public final class DeviceCommands {
    @Reference
    private ConfigurationAdmin cm;
    @Activate
    private BundleContext context;
    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    private volatile List<DeviceInstanceInfo> devices;

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
}
