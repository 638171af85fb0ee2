package vmm.core.machine;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;

import vmm.core.device.DeviceOffer;
import vmm.core.device.DeviceProvider;
import vmm.core.device.ProviderFollower;
import vmm.core.pci.PciAddress;

/**
 * A device served to another process on a Unix socket (a {@code vmm.vhost-user} or {@code vmm.vfio-user}
 * configuration) as a device instance: it reads the configuration ({@code socket}, {@code type}, optional
 * {@code implementation}; every other property goes to the device), follows the providers of the type with a
 * {@link ProviderFollower} (serve, swap, hold), and registers itself as a {@link DeviceInstanceInfo} while its
 * component is active, its socket in place of a slot, so {@code device:list} shows it and {@code device:swap} moves
 * it. The component calls the lifecycle methods from its own DS methods; the info methods are for any thread.
 *
 * @param <S> the server kind
 * @since 1.3
 */
public final class ServedInstance<S extends ServedInstance.Server> implements DeviceInstanceInfo {
    /** A server of one device on a socket, as the two server kinds are. */
    public interface Server extends AutoCloseable {
        /** The implementation serving now (the last one while held). */
        String implementation();

        /** Swaps and re-attachments so far. */
        int swapCount();

        /** Whether no implementation serves and the device is held (see {@link #detach()}). */
        boolean held();

        /** Moves the device to {@code provider}'s model, or out of being held. @throws RuntimeException, unchanged */
        void swapTo(String implementation, DeviceProvider provider);

        /** Holds the device with no implementation, socket and peer kept, until {@link #swapTo}. Idempotent. */
        void detach();

        /** Cuts the peer off, stops the device and removes the socket. Idempotent. */
        @Override
        void close();
    }

    /** How a server kind starts serving: its {@code start} method. */
    @FunctionalInterface
    public interface Starter<S> {
        /** Creates the device from {@code provider} and listens on {@code socket}. */
        S start(Path socket, String instanceId, Map<String, Object> configuration, String implementation,
                DeviceProvider provider) throws IOException;
    }

    private static final List<String> OWN_KEYS = List.of("type", "socket", "implementation");

    private final String kind;
    private final System.Logger log;
    private final Starter<S> starter;
    // Set before the follower first calls back, read by any thread through the info methods.
    private volatile String id, type;
    private volatile Path socket;
    private volatile Map<String, Object> config;
    private volatile S server;
    private ServiceRegistration<DeviceInstanceInfo> registration;
    private final ProviderFollower follower;

    /**
     * @param kind    the server kind as logs and messages name it ("vhost-user")
     * @param log     where log lines go
     * @param starter how a server starts
     */
    public ServedInstance(String kind, System.Logger log, Starter<S> starter) {
        this.kind = Objects.requireNonNull(kind, "kind");
        this.log = Objects.requireNonNull(log, "log");
        this.starter = Objects.requireNonNull(starter, "starter");
        this.follower = new ProviderFollower(log, new ProviderFollower.Target() {
            @Override
            public void plug(DeviceOffer offer) throws IOException {
                server = starter.start(socket, id, config, offer.implementation(), offer.provider());
            }

            @Override
            public void swapTo(DeviceOffer offer) {
                server.swapTo(offer.implementation(), offer.provider());
            }

            @Override
            public void hold() {
                server.detach();
            }
        });
    }

    /**
     * The component's activation: reads the configuration, serves if a provider is there and, when {@code context}
     * is not null, registers this as a {@link DeviceInstanceInfo} with the configuration's {@code service.pid}.
     *
     * @throws IllegalArgumentException naming a missing key
     */
    public void activate(BundleContext context, Map<String, Object> properties) {
        id = String.valueOf(properties.getOrDefault("service.pid", properties.get("component.id")));
        type = required(properties, "type");
        socket = Path.of(required(properties, "socket"));
        config = deviceProperties(properties);
        follower.configure(kind + " " + id, type, (String) properties.get("implementation"));
        if (context != null) {
            Hashtable<String, Object> p = new Hashtable<>();
            p.put("service.pid", id);
            p.put(INSTANCE_ID, id);
            registration = context.registerService(DeviceInstanceInfo.class, this, p);
        }
    }

    /**
     * A changed configuration: a new {@code implementation} moves the device to it; the type and socket cannot
     * change under a served device (logged, nothing changes), device properties apply from the next configuration.
     */
    public void modified(Map<String, Object> properties) {
        String newType = String.valueOf(properties.get("type")).trim();
        String newSocket = String.valueOf(properties.get("socket")).trim();
        if (!newType.equals(type) || !Path.of(newSocket).equals(socket)) {
            log.log(Level.ERROR, "{0} {1}: type and socket cannot change while the device is served (was {2} on {3}, "
                    + "now {4} on {5}); delete the configuration and create a new one; nothing changed", kind, id, type,
                    socket, newType, newSocket);
            return;
        }
        if (!deviceProperties(properties).equals(config))
            log.log(Level.WARNING, "{0} {1}: device properties changed; they apply when the socket is configured anew",
                    kind, id);
        follower.configure(kind + " " + id, type, (String) properties.get("implementation"));
    }

    /** The component's deactivation: unregisters, stops following and closes the server. */
    public void deactivate() {
        ServiceRegistration<DeviceInstanceInfo> r = registration;
        registration = null;
        if (r != null) {
            try {
                r.unregister();
            } catch (IllegalStateException e) {
                // the bundle is stopping and its services are gone already
            }
        }
        follower.close();
        S s = server;
        if (s != null) s.close();
        server = null;
    }

    /** A provider service arrived (the component's dynamic reference). */
    public void add(DeviceProvider provider, Map<String, Object> properties) {
        follower.add(provider, properties);
    }

    /** A provider service is leaving (the component's dynamic reference). */
    public void remove(Map<String, Object> properties) {
        follower.remove(properties);
    }

    /** The server, or null before the first provider arrived. */
    public S server() {
        return server;
    }

    /** The offer serving now; null before the first provider arrived and while held. */
    public DeviceOffer serving() {
        return follower.serving();
    }

    @Override public String id() { return id; }
    @Override public String type() { return type; }
    /** A served device has no slot: see {@link #location()}. */
    @Override public PciAddress address() { return null; }
    @Override public String implementation() { S s = server; return s == null ? null : s.implementation(); }
    @Override public DeviceInstance.Status status() {
        S s = server;
        return s == null ? null : s.held() ? DeviceInstance.Status.DETACHED : DeviceInstance.Status.ACTIVE;
    }
    @Override public int swapCount() { S s = server; return s == null ? 0 : s.swapCount(); }
    /** Not a device of this VMM's machine: nothing to reach through an instance. */
    @Override public DeviceInstance instance() { return null; }
    @Override public String location() { return kind + " unix " + socket; }

    /** The configuration minus framework keys and the served instance's own: what the device itself reads. */
    private static Map<String, Object> deviceProperties(Map<String, Object> properties) {
        Map<String, Object> m = new HashMap<>();
        properties.forEach((k, v) -> {
            boolean framework = k.startsWith("service.") || k.startsWith("component.") || k.startsWith("felix.");
            if (!framework && !OWN_KEYS.contains(k)) m.put(k, v);
        });
        return m;
    }

    private String required(Map<String, Object> p, String key) {
        Object v = p.get(key);
        if (v == null || String.valueOf(v).isBlank())
            throw new IllegalArgumentException(kind + " configuration " + p.get("service.pid") + " lacks '" + key
                    + "'");
        return String.valueOf(v).trim();
    }
}
