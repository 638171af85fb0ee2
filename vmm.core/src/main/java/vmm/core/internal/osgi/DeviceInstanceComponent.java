package vmm.core.internal.osgi;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.osgi.framework.Constants;
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
 * chosen, and holds the device detached while none is there.
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
    private final List<DeviceOffer> providers = new ArrayList<>();
    private String id, type, wanted;
    private PciAddress address;
    private Map<String, Object> config;
    private DeviceInstance instance;
    private DeviceOffer serving;
    private boolean active;

    @Activate
    synchronized void activate(Map<String, Object> properties) {
        id = String.valueOf(properties.getOrDefault("service.pid", properties.get("component.id")));
        type = required(properties, "type");
        address = address(id, properties.get("address"));
        wanted = (String) properties.get("implementation");
        config = deviceProperties(properties);
        active = true;
        reconcile();
    }

    @Modified
    synchronized void modified(Map<String, Object> properties) {
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
        wanted = (String) properties.get("implementation");
        reconcile();
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

    @Deactivate
    synchronized void deactivate() {
        active = false;
        if (instance != null) instance.remove();
        instance = null;
        serving = null;
    }

    @Reference(service = DeviceProvider.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    synchronized void addProvider(DeviceProvider provider, Map<String, Object> props) {
        providers.add(DeviceOffer.of(provider, props)); // other types are kept but never chosen
        if (active) reconcile();
    }

    synchronized void removeProvider(DeviceProvider provider, Map<String, Object> props) {
        Long sid = (Long) props.get(Constants.SERVICE_ID);
        providers.removeIf(c -> c.serviceId() == sid);
        if (active && serving != null && serving.serviceId() == sid) {
            DeviceOffer next = best();
            if (next != null) {
                swap(next);
            } else {
                instance.detach();
            }
        }
    }

    /** Brings the instance in line with the best available provider. */
    private void reconcile() {
        DeviceOffer best = best();
        if (best == null) {
            if (instance == null)
                LOG.log(Level.INFO, "device {0}: waiting for an implementation of {1}{2}", id, type,
                        wanted == null ? "" : " named " + wanted);
            return;
        }
        if (instance == null) {
            try {
                instance = machine.plug(id, type, address, config, best.implementation(), best.provider());
                serving = best;
            } catch (RuntimeException e) {
                LOG.log(Level.ERROR, "device " + id + ": cannot plug " + type + " at " + address + ": " + e.getMessage(), e);
            }
        } else if (serving == null || serving.serviceId() != best.serviceId() || instance.status() == DeviceInstance.Status.DETACHED) {
            swap(best);
        }
    }

    private void swap(DeviceOffer next) {
        try {
            instance.swapTo(next.implementation(), next.provider());
            serving = next;
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "device " + id + ": swap to " + next.implementation() + " failed, " + serving.implementation()
                    + " keeps serving: " + e.getMessage(), e);
            if (instance.status() == DeviceInstance.Status.ACTIVE && !providers.contains(serving)) instance.detach();
        }
    }

    /** The wanted implementation if present, else the type's default ({@link DeviceOffer#choose}). */
    private DeviceOffer best() {
        return DeviceOffer.choose(providers, type, wanted).orElse(null);
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

    @Override public synchronized String id() { return id; }
    @Override public synchronized String type() { return type; }
    @Override public synchronized PciAddress address() { return address; }
    @Override public synchronized String implementation() { return instance == null ? null : instance.implementation(); }
    @Override public synchronized DeviceInstance.Status status() { return instance == null ? null : instance.status(); }
    @Override public synchronized int swapCount() { return instance == null ? 0 : instance.swapCount(); }
    @Override public synchronized DeviceInstance instance() { return instance; }
}
