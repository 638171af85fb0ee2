package device.virtio_net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;

import device.virtio_net.backend.BackendSpec;
import device.virtio_net.model.NetOptions;
import device.virtio_net.protocol.MacAddress;
import vmm.core.device.DeviceContext;
import vmm.core.memory.GuestMemory;

/** Configuration is checked before the guest starts, and a bad value is named by its key. */
class ConfigurationTest {
    static DeviceContext context(Map<String, Object> config) {
        return new DeviceContext() {
            @Override public String instanceId() { return "net0"; }
            @Override public Map<String, Object> configuration() { return config; }
            @Override public GuestMemory memory() { return null; }
        };
    }

    static Map<String, Object> with(Object... kv) {
        Map<String, Object> m = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    static void refused(Map<String, Object> config, String key) {
        assertThatThrownBy(() -> new VirtioNetProvider().create(context(config)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("net0").hasMessageContaining(key);
    }

    @Test
    void readsEveryKey() {
        NetOptions o = NetOptions.parse(context(with("tap", "vm0", "mac", "02:00:00:00:00:01", "mtu", "9000", "queues", 4, "offload", "true")), false, 8);
        assertThat(o).isEqualTo(new NetOptions(MacAddress.parse("02:00:00:00:00:01"), 9000, 4, true, new BackendSpec.Tap("vm0")));
        assertThat(NetOptions.parse(context(with("dgram", "/tmp/a", "peer", "/tmp/b")), true, 1).backend())
                .isEqualTo(new BackendSpec.Datagram(java.nio.file.Path.of("/tmp/a"), java.nio.file.Path.of("/tmp/b")));
    }

    @Test
    void aMissingOrEmptyBackEndIsNamed() {
        refused(with(), "tap=NAME");
        refused(with("tap", " "), "tap");
        refused(with("tap", "a-name-too-long-for-linux"), "tap");
        refused(with("dgram", "/tmp/x.sock"), "peer");
        refused(with("tap", "x", "dgram", "/tmp/y"), "tap and dgram");
    }

    @Test
    void badValuesAreNamedByTheirKey() {
        refused(with("tap", "x", "mac", "52:54:00:zz:00:01"), "mac");
        refused(with("tap", "x", "mac", "01:00:5e:00:00:01"), "mac");
        refused(with("tap", "x", "mac", "52:54:00:00:01"), "mac");
        refused(with("tap", "x", "mtu", "20"), "mtu");
        refused(with("tap", "x", "mtu", "big"), "mtu");
        refused(with("tap", "x", "queues", "2"), "queues");
        refused(with("tap", "x", "offload", "maybe"), "offload");
    }

    @Test
    void aTapTheHostCannotOpenOrCreateIsNamedBeforeTheGuestStarts() {
        // "lo" exists and is no TAP: TUNSETIFF refuses it for root too.
        refused(with("tap", "lo"), "tap");
    }

    @Test
    void aSocketPathThatCannotBeBoundIsNamed() {
        refused(with("dgram", "/nonexistent-dir/x.sock", "peer", "/tmp/peer.sock"), "dgram");
    }
}
