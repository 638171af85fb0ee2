package vmm.vhostuser.internal.osgi;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vmm.core.device.DeviceProvider;
import vmm.testing.EchoDevice;

/**
 * Which implementation a vhost-user socket serves when several bundles offer the type: the same
 * rule as a device instance's ({@code DeviceOffer}), whatever order the providers came in.
 */
class VhostUserComponentTest {
    @TempDir Path dir;

    private static Map<String, Object> offer(String implementation, long serviceId) {
        return Map.of(DeviceProvider.TYPE, "virtio-net", DeviceProvider.IMPLEMENTATION, implementation,
                "service.id", serviceId);
    }

    private VhostUserComponent component(String implementation) {
        Map<String, Object> config = new HashMap<>(Map.of("service.pid", "vmm.vhost-user~test", "type", "virtio-net",
                "socket", dir.resolve("net.sock").toString()));
        if (implementation != null) config.put("implementation", implementation);
        VhostUserComponent c = new VhostUserComponent();
        c.activate(config);
        return c;
    }

    @Test
    void unnamedTheTypesOwnImplementationServesThoughVionaStartedFirst() {
        VhostUserComponent c = component(null);
        try {
            c.addProvider(EchoDevice.provider('v', 0), offer("viona", 3));
            assertThat(c.servedImplementation()).isEqualTo("viona");      // the only one there yet

            c.addProvider(EchoDevice.provider('n', 0), offer("virtio-net", 9));

            assertThat(c.servedImplementation()).isEqualTo("virtio-net");
        } finally {
            c.deactivate();
        }
    }

    @Test
    void namedVionaServesAndStaysWhenTheReferenceImplementationArrives() {
        VhostUserComponent c = component("viona");
        try {
            c.addProvider(EchoDevice.provider('n', 0), offer("virtio-net", 2));
            assertThat(c.servedImplementation()).isNull();                // not the one asked for

            c.addProvider(EchoDevice.provider('v', 0), offer("viona", 5));
            assertThat(c.servedImplementation()).isEqualTo("viona");
            c.addProvider(EchoDevice.provider('m', 0), offer("virtio-net", 7));

            assertThat(c.servedImplementation()).isEqualTo("viona");
        } finally {
            c.deactivate();
        }
    }
}
