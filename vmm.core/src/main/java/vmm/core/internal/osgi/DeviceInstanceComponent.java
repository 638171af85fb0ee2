package vmm.core.internal.osgi;

import java.lang.System.Logger.Level;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

import vmm.core.device.DeviceOffer;
import vmm.core.device.DeviceProvider;
import vmm.core.device.ProviderFollower;
import vmm.core.machine.DeviceInstance;
import vmm.core.machine.DeviceInstanceInfo;
import vmm.core.machine.Machine;
import vmm.core.pci.PciAddress;

/**
 * One device instance per {@code vmm.device} factory configuration. The
 * configuration names the {@code type}, the PCI {@code address} (none for a
 * {@link vmm.core.device.BusDevice}, which decodes the port or MMIO ranges
 * its own properties name), and
 * optionally the {@code implementation} to use; every other property goes to
 * the device. The component follows the {@link DeviceProvider} services of
 * its type as they come and go: it plugs the device when the first one
 * arrives, swaps to another when the serving one leaves or another is
 * chosen, and holds the device detached while none is there. A configuration
 * created while the guest runs plugs the device into the running guest
 * (ACPI PCI hotplug on a PC); one deleted then asks the guest to eject it
 * ({@link Machine#unplug}). {@code removable=true} lets the guest eject a
 * device configured before it started.
 */
// immediate: the device must exist while configured, not only while someone holds its info service
@Component(configurationPid = DeviceInstanceComponent.PID, configurationPolicy = ConfigurationPolicy.REQUIRE, immediate = true)
public final class DeviceInstanceComponent implements DeviceInstanceInfo {
    public static final String PID = "vmm.device";
    private static final System.Logger LOG = System.getLogger("vmm.device");
    /** Keys that identify the instance; changing them needs a new instance. */
    private static final List<String> IDENTITY = List.of("type", "address");

    @Reference
    private Machine machine;
    // Set before the follower first calls back, read by any thread through the info methods.
    private volatile String id, type;
    private volatile PciAddress address;
    private volatile Map<String, Object> config;
    private volatile DeviceInstance instance;
    private final ProviderFollower.Target target = new ProviderFollower.Target() {
        @Override
        public void plug(DeviceOffer offer) {
            instance = machine.plug(id, type, address, config, offer.implementation(), offer.provider());
        }

        @Override
        public void swapTo(DeviceOffer offer) {
            instance.swapTo(offer.implementation(), offer.provider());
        }

        @Override
        public void hold() {
            instance.detach();
        }
    };
    private final ProviderFollower follower = new ProviderFollower(LOG, target);

    @Activate
    void activate(Map<String, Object> properties) {
        id = String.valueOf(properties.getOrDefault("service.pid", properties.get("component.id")));
        type = required(properties, "type");
        address = address(id, properties.get("address"));
        config = deviceProperties(properties);
        follower.configure("device " + id, type, (String) properties.get("implementation"));
    }

    @Modified
    void modified(Map<String, Object> properties) {
        String newType = String.valueOf(properties.get("type")).trim();
        String newAddress = String.valueOf(properties.get("address")).trim();
        boolean sameAddress;
        try {
            sameAddress = java.util.Objects.equals(address(id, properties.get("address")), address);
        } catch (IllegalArgumentException e) {
            sameAddress = false;
        }
        if (!newType.equals(type) || !sameAddress) {
            LOG.log(Level.ERROR, "device {0}: type and address cannot change while the device exists "
                    + "(was {1} at {2}, now {3} at {4}); delete the configuration and create a new one; nothing changed",
                    id, type, address, newType, newAddress);
            return;
        }
        Map<String, Object> next = deviceProperties(properties);
        if (!next.equals(config))
            LOG.log(Level.WARNING, "device {0}: device properties changed; they apply to implementations created from now on", id);
        config = next;
        follower.configure("device " + id, type, (String) properties.get("implementation"));
    }

    /** The PCI address a configuration gives, or null when it gives none (a device on the port or MMIO bus). */
    private static PciAddress address(String id, Object value) {
        if (value == null || String.valueOf(value).isBlank()) return null;
        try {
            return PciAddress.parse(String.valueOf(value).trim());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("device " + id + ": address: " + e.getMessage(), e);
        }
    }

    /**
     * The configuration was deleted (or the machine goes away): while the guest runs, a PCI device is taken out
     * through hotplug, so it stays in place until the guest ejects it ({@code device:remove} waits for that); a
     * device the guest may not eject (plugged at start without {@code removable=true}) is removed at once, as
     * before hotplug, with a warning. Before the guest runs, at once.
     */
    @Deactivate
    void deactivate() {
        follower.close();
        DeviceInstance i = instance;
        if (i != null) {
            try {
                if (!machine.unplug(i).isDone())
                    LOG.log(Level.INFO, "device {0}: the guest was asked to eject it from {1}; it stays until the guest does", id, address);
            } catch (IllegalStateException e) {
                LOG.log(Level.WARNING, "device {0}: {1}; removed without the guest''s consent", id, e.getMessage());
                i.remove();
            }
        }
        instance = null;
    }

    @Reference(service = DeviceProvider.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void addProvider(DeviceProvider provider, Map<String, Object> props) {
        follower.add(provider, props);
    }

    void removeProvider(DeviceProvider provider, Map<String, Object> props) {
        follower.remove(props);
    }

    private static String required(Map<String, Object> p, String key) {
        Object v = p.get(key);
        if (v == null || String.valueOf(v).isBlank())
            throw new IllegalArgumentException("device configuration " + p.get("service.pid") + " lacks '" + key + "'");
        return String.valueOf(v).trim();
    }

    /** The configuration minus framework and identity keys: what the device itself reads. */
    private static Map<String, Object> deviceProperties(Map<String, Object> p) {
        Map<String, Object> m = new HashMap<>();
        p.forEach((k, v) -> {
            if (!k.startsWith("service.") && !k.startsWith("component.") && !k.startsWith("felix.")
                    && !k.equals("implementation") && !IDENTITY.contains(k))
                m.put(k, v);
        });
        return m;
    }

    @Override public String id() { return id; }
    @Override public String type() { return type; }
    @Override public PciAddress address() { return address; }
    @Override public String implementation() {
        DeviceInstance i = instance;
        return i == null ? null : i.implementation();
    }
    @Override public DeviceInstance.Status status() {
        DeviceInstance i = instance;
        return i == null ? null : i.status();
    }
    @Override public int swapCount() { DeviceInstance i = instance; return i == null ? 0 : i.swapCount(); }
    @Override public DeviceInstance instance() { return instance; }
}
