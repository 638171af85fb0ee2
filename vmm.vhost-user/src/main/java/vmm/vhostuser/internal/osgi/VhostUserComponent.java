package vmm.vhostuser.internal.osgi;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.osgi.framework.Constants;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

import vmm.core.device.DeviceOffer;
import vmm.core.device.DeviceProvider;
import vmm.vhostuser.VhostUserServer;

/**
 * One vhost-user socket per {@code vmm.vhost-user} factory configuration:
 * {@code socket} (its path), {@code type} (the device type, as for
 * {@code vmm.device}) and optionally {@code implementation}; every other
 * property goes to the device. It follows the {@link DeviceProvider}s of
 * the type: it starts serving when one is there, swaps when the serving one
 * leaves and another is there or another is chosen, and closes the socket
 * when none is left.
 */
@Component(configurationPid = VhostUserComponent.PID, configurationPolicy = ConfigurationPolicy.REQUIRE, immediate = true, service = {})
public final class VhostUserComponent {
    public static final String PID = "vmm.vhost-user";
    private static final System.Logger LOG = System.getLogger("vmm.vhost-user");

    private final List<DeviceOffer> providers = new ArrayList<>();
    private String id, type, wanted;
    private Path socket;
    private Map<String, Object> config;
    private VhostUserServer server;
    private DeviceOffer serving;
    private boolean active;

    @Activate
    synchronized void activate(Map<String, Object> properties) {
        id = String.valueOf(properties.getOrDefault("service.pid", properties.get("component.id")));
        type = required(properties, "type");
        socket = Path.of(required(properties, "socket"));
        wanted = (String) properties.get("implementation");
        config = new HashMap<>();
        properties.forEach((k, v) -> {
            if (!k.startsWith("service.") && !k.startsWith("component.") && !k.startsWith("felix.")
                    && !List.of("type", "socket", "implementation").contains(k)) config.put(k, v);
        });
        active = true;
        reconcile();
    }

    @Deactivate
    synchronized void deactivate() {
        active = false;
        if (server != null) server.close();
        server = null;
        serving = null;
    }

    @Reference(service = DeviceProvider.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    synchronized void addProvider(DeviceProvider provider, Map<String, Object> props) {
        providers.add(DeviceOffer.of(provider, props));
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
                LOG.log(Level.WARNING, "vhost-user {0}: {1} went away and no other {2} is there; closing {3}",
                        id, serving.implementation(), type, socket);
                server.close();
                server = null;
                serving = null;
            }
        }
    }

    private void reconcile() {
        DeviceOffer best = best();
        if (best == null) return;
        if (server == null) {
            try {
                server = VhostUserServer.start(socket, id, config, best.implementation(), best.provider());
                serving = best;
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.ERROR, "vhost-user " + id + ": cannot serve " + type + " on " + socket + ": " + e.getMessage(), e);
            }
        } else if (serving.serviceId() != best.serviceId()) {
            swap(best);
        }
    }

    private void swap(DeviceOffer next) {
        try {
            server.swapTo(next.implementation(), next.provider());
            serving = next;
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "vhost-user " + id + ": swap to " + next.implementation() + " failed: " + e.getMessage(), e);
        }
    }

    /** The wanted implementation if present, else the type's default ({@link DeviceOffer#choose}). */
    private DeviceOffer best() {
        return DeviceOffer.choose(providers, type, wanted).orElse(null);
    }

    /** The implementation served now, or null while none is (for tests). */
    synchronized String servedImplementation() {
        return serving == null ? null : serving.implementation();
    }

    private static String required(Map<String, Object> p, String key) {
        Object v = p.get(key);
        if (v == null || String.valueOf(v).isBlank())
            throw new IllegalArgumentException("vhost-user configuration " + p.get("service.pid") + " lacks '" + key + "'");
        return String.valueOf(v).trim();
    }
}
