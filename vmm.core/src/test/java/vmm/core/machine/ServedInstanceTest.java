package vmm.core.machine;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import vmm.core.device.DeviceProvider;

/**
 * A device served on a socket as the shell sees it: its info follows the server (serving, held, swapped), a new
 * {@code implementation} in its configuration swaps it, and a changed socket is refused.
 */
class ServedInstanceTest {
    private final List<String> log = new ArrayList<>();

    /** A server that records what it is asked, as the two socket servers would do it. */
    private final class FakeServer implements ServedInstance.Server {
        String implementation;
        Map<String, Object> configuration;
        int swaps;
        boolean held, closed;

        @Override public String implementation() { return implementation; }
        @Override public int swapCount() { return swaps; }
        @Override public boolean held() { return held; }
        @Override public void swapTo(String next, DeviceProvider provider) {
            log.add("swap " + next);
            implementation = next;
            held = false;
            swaps++;
        }
        @Override public void detach() {
            log.add("detach");
            held = true;
        }
        @Override public void close() {
            log.add("close");
            closed = true;
        }
    }

    private final ServedInstance<FakeServer> served = new ServedInstance<>("fake-user", System.getLogger("test"),
            (socket, id, config, implementation, provider) -> {
                log.add("start " + implementation + " on " + socket + " as " + id);
                FakeServer s = new FakeServer();
                s.implementation = implementation;
                s.configuration = config;
                return s;
            });

    private static final DeviceProvider PROVIDER = ctx -> { throw new UnsupportedOperationException(); };

    private static Map<String, Object> offer(String implementation, long id) {
        return Map.of(DeviceProvider.TYPE, "virtio-rng", DeviceProvider.IMPLEMENTATION, implementation,
                "service.id", id);
    }

    private static Map<String, Object> config(String socket, String implementation) {
        Map<String, Object> c = new HashMap<>(Map.of("service.pid", "fake~rng", "type", "virtio-rng",
                "socket", socket, "bits", 64));
        if (implementation != null) c.put("implementation", implementation);
        return c;
    }

    @Test
    void itIsADeviceInstanceAtItsSocketThatIsHeldWhenItsOnlyProviderLeavesAndAttachedWhenOneComes() {
        served.activate(null, config("/tmp/rng.sock", null));
        assertThat(served.status()).as("waiting").isNull();
        assertThat(served.location()).isEqualTo("fake-user unix /tmp/rng.sock");

        served.add(PROVIDER, offer("virtio-rng", 1));
        assertThat(served.status()).isEqualTo(DeviceInstance.Status.ACTIVE);
        assertThat(served.server().configuration).as("what the device reads").isEqualTo(Map.of("bits", 64));

        served.remove(offer("virtio-rng", 1));
        assertThat(served.status()).isEqualTo(DeviceInstance.Status.DETACHED);
        served.add(PROVIDER, offer("fast-rng", 2));

        assertThat(served.status()).isEqualTo(DeviceInstance.Status.ACTIVE);
        assertThat(served.implementation()).isEqualTo("fast-rng");
        assertThat(served.swapCount()).isEqualTo(1);
        assertThat(served.id()).isEqualTo("fake~rng");
        assertThat(served.address()).isNull();
        assertThat(served.instance()).isNull();
        assertThat(log).containsExactly("start virtio-rng on /tmp/rng.sock as fake~rng", "detach", "swap fast-rng");
    }

    @Test
    void aNamedImplementationInTheConfigurationSwapsAndAChangedSocketIsRefused() {
        served.activate(null, config("/tmp/rng.sock", null));
        served.add(PROVIDER, offer("virtio-rng", 1));
        served.add(PROVIDER, offer("fast-rng", 2));

        served.modified(config("/tmp/rng.sock", "fast-rng"));
        served.modified(config("/tmp/other.sock", "virtio-rng"));
        FakeServer s = served.server();
        served.deactivate();

        assertThat(s.implementation).isEqualTo("fast-rng");
        assertThat(s.closed).isTrue();
        assertThat(log).containsExactly("start virtio-rng on /tmp/rng.sock as fake~rng", "swap fast-rng", "close");
    }
}
