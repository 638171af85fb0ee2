package device.virtio_net.backend;

import java.nio.file.Path;
import java.util.Map;

/**
 * Which back end a device instance names in its configuration: {@code tap=NAME}
 * or {@code dgram=LOCAL_PATH,peer=PEER_PATH}. Parsing is pure; opening is
 * {@link Backends#open}.
 */
public sealed interface BackendSpec {
    record Tap(String name) implements BackendSpec {
        @Override public String key() { return "tap " + name; }
        @Override public String configKey() { return "tap"; }
    }

    record Datagram(Path local, Path peer) implements BackendSpec {
        @Override public String key() { return "dgram " + local.toAbsolutePath(); }
        @Override public String configKey() { return "dgram"; }
    }

    /** The key under which the same host resource is shared by every user in this process. */
    String key();

    /**
     * Reads the back-end keys of a device configuration.
     *
     * @throws IllegalArgumentException naming the key when none, both, or a bad value is given
     */
    static BackendSpec parse(String instanceId, Map<String, Object> config) {
        Object tap = config.get("tap"), dgram = config.get("dgram"), peer = config.get("peer");
        String who = "device " + instanceId + ": ";
        if (tap != null && dgram != null) throw new IllegalArgumentException(who + "tap and dgram both given; choose one back end");
        if (tap != null) {
            String name = String.valueOf(tap).trim();
            if (name.isEmpty()) throw new IllegalArgumentException(who + "tap needs a TAP interface name (tap=NAME)");
            if (name.length() > 15 || !name.matches("[A-Za-z0-9_.\\-]+"))
                throw new IllegalArgumentException(who + "tap=" + name + " is not an interface name (1..15 of A-Z a-z 0-9 _ . -)");
            return new Tap(name);
        }
        if (dgram != null) {
            String local = String.valueOf(dgram).trim();
            if (local.isEmpty()) throw new IllegalArgumentException(who + "dgram needs a local socket path (dgram=PATH)");
            if (peer == null || String.valueOf(peer).isBlank())
                throw new IllegalArgumentException(who + "peer is required with dgram (peer=PEER_SOCKET_PATH)");
            return new Datagram(Path.of(local), Path.of(String.valueOf(peer).trim()));
        }
        throw new IllegalArgumentException(who + "no back end: give tap=NAME or dgram=PATH,peer=PATH");
    }

    /** The configuration key that named this back end, for error messages. */
    String configKey();
}
