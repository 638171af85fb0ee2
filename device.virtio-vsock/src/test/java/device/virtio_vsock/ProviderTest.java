package device.virtio_vsock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vmm.core.device.DeviceContext;
import vmm.core.memory.GuestMemory;
import vmm.core.virtio.VirtioFeatures;

/** The configuration a device instance is made from, and its refusals by name. */
class ProviderTest {
    @TempDir Path dir;

    static DeviceContext context(Map<String, Object> config) {
        return new DeviceContext() {
            @Override public String instanceId() { return "vsock0"; }
            @Override public Map<String, Object> configuration() { return config; }
            @Override public GuestMemory memory() { return null; }
        };
    }

    Map<String, Object> config(Object... kv) {
        Map<String, Object> m = new HashMap<>(Map.of("cid", "3", "path", dir.resolve("v.sock").toString()));
        for (int i = 0; i < kv.length; i += 2) {
            if (kv[i + 1] == null) m.remove((String) kv[i]);
            else m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    @Test
    void aGoodConfigurationListensOnThePathUntilStopped() {
        VsockDevice d = (VsockDevice) new VsockProvider().create(context(config("cid", "42")));
        assertThat(d.guestCid()).isEqualTo(42);
        assertThat(Files.exists(dir.resolve("v.sock"))).isTrue();
        d.stop();
        assertThat(Files.exists(dir.resolve("v.sock"))).as("the socket file goes with the last holder").isFalse();
    }

    @Test
    void eventIdxIsOfferedUnlessTheConfigurationTurnsItOff() {
        long eventIdx = VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX);
        VsockDevice on = (VsockDevice) new VsockProvider().create(context(config()));
        assertThat(on.deviceFeatures() & eventIdx).isNotZero();
        on.stop();
        VsockDevice off = (VsockDevice) new VsockProvider().create(context(config("event-idx", "false")));
        assertThat(off.deviceFeatures() & eventIdx).isZero();
        off.stop();
        assertThatThrownBy(() -> new VsockProvider().create(context(config("event-idx", "yes"))))
                .hasMessageContaining("event-idx must be true or false");
    }

    @Test
    void badValuesAreRefusedByName() {
        VsockProvider p = new VsockProvider();
        assertThatThrownBy(() -> p.create(context(config("cid", null)))).hasMessageContaining("cid")
                .hasMessageContaining("required");
        assertThatThrownBy(() -> p.create(context(config("cid", "2"))))
                .hasMessageContaining("cid must be 3..4294967294, was 2");
        assertThatThrownBy(() -> p.create(context(config("cid", "4294967295")))).hasMessageContaining("cid");
        assertThatThrownBy(() -> p.create(context(config("cid", "x")))).hasMessageContaining("cid=x is not a number");
        assertThatThrownBy(() -> p.create(context(config("path", null)))).hasMessageContaining("path");
        assertThatThrownBy(() -> p.create(context(config("path", dir.resolve("no/such/dir/v.sock").toString()))))
                .hasMessageContaining("cannot be listened on");
        assertThatThrownBy(() -> p.create(context(config("max-connections", "0"))))
                .hasMessageContaining("max-connections");
        assertThatThrownBy(() -> p.create(context(config("buf-alloc", "100")))).hasMessageContaining("buf-alloc");
    }
}
