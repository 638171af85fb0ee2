package vmm.vfiouser.internal.osgi;

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
import vmm.vfiouser.VfioUserServer;

/**
 * One vfio-user socket per {@code vmm.vfio-user} factory configuration:
 * {@code socket} (its path), {@code type} (the device type, as for
 * {@code vmm.device}) and optionally {@code implementation}; every other
 * property goes to the device. It serves as soon as a {@link DeviceProvider}
 * of the type is there. The function's state lives in the server, so when
 * the serving provider leaves (its bundle stops or is updated) the socket
 * is closed, its client cut off, and a new server starts with the best
 * provider left, if any: unlike vhost-user, the device is not swapped under
 * a connected client.
 */
@Component(configurationPid = VfioUserComponent.PID, configurationPolicy = ConfigurationPolicy.REQUIRE, immediate = true, service = {})
public final class VfioUserComponent {
    public static final String PID = "vmm.vfio-user";
    private static final System.Logger LOG = System.getLogger("vmm.vfio-user");

    private final List<DeviceOffer> providers = new ArrayList<>();
    private String id, type, wanted;
    private Path socket;
    private Map<String, Object> config;
    private VfioUserServer server;
    private DeviceOffer serving;
    private boolean active;

    /** Reads the configuration and serves if a provider is there. @throws IllegalArgumentException naming a missing key */
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

    /** Closes the socket; called by SCR after the configuration is deleted or the bundle stops. */
    @Deactivate
    synchronized void deactivate() {
        active = false;
        stopServer();
    }

    /** A provider arrived (SCR thread); serves with it if it is the best one and none serves yet. */
    @Reference(service = DeviceProvider.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    synchronized void addProvider(DeviceProvider provider, Map<String, Object> props) {
        providers.add(DeviceOffer.of(provider, props));
        if (active) reconcile();
    }

    /** A provider left (SCR thread); if it was serving, the server is restarted with the best one left. */
    synchronized void removeProvider(DeviceProvider provider, Map<String, Object> props) {
        Long sid = (Long) props.get(Constants.SERVICE_ID);
        providers.removeIf(c -> c.serviceId() == sid);
        if (active && serving != null && serving.serviceId() == sid) {
            LOG.log(Level.WARNING, "vfio-user {0}: {1} went away; closing {2}", id, serving.implementation(), socket);
            stopServer();
            reconcile();
        }
    }

    private void stopServer() {
        if (server != null) server.close();
        server = null;
        serving = null;
    }

    private void reconcile() {
        DeviceOffer best = DeviceOffer.choose(providers, type, wanted).orElse(null); // the type's default unless named
        if (best == null || server != null) return;
        try {
            server = VfioUserServer.start(socket, id, config, best.implementation(), best.provider());
            serving = best;
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.ERROR, "vfio-user " + id + ": cannot serve " + type + " on " + socket + ": " + e.getMessage(), e);
        }
    }

    private static String required(Map<String, Object> p, String key) {
        Object v = p.get(key);
        if (v == null || String.valueOf(v).isBlank())
            throw new IllegalArgumentException("vfio-user configuration " + p.get("service.pid") + " lacks '" + key + "'");
        return String.valueOf(v).trim();
    }
}
