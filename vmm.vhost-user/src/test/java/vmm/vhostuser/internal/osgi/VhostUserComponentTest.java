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
        c.activate(null, config);
        return c;
    }

    private static String served(VhostUserComponent c) {
        var o = c.served().serving();
        return o == null ? null : o.implementation();
    }

    @Test
    void unnamedTheTypesOwnImplementationServesThoughVionaStartedFirst() {
        VhostUserComponent c = component(null);
        try {
            c.addProvider(EchoDevice.provider('v', 0), offer("viona", 3));
            assertThat(served(c)).isEqualTo("viona");      // the only one there yet

            c.addProvider(EchoDevice.provider('n', 0), offer("virtio-net", 9));

            assertThat(served(c)).isEqualTo("virtio-net");
        } finally {
            c.deactivate();
        }
    }

    @Test
    void namedVionaServesAndStaysWhenTheReferenceImplementationArrives() {
        VhostUserComponent c = component("viona");
        try {
            c.addProvider(EchoDevice.provider('n', 0), offer("virtio-net", 2));
            assertThat(served(c)).isNull();                // not the one asked for

            c.addProvider(EchoDevice.provider('v', 0), offer("viona", 5));
            assertThat(served(c)).isEqualTo("viona");
            c.addProvider(EchoDevice.provider('m', 0), offer("virtio-net", 7));

            assertThat(served(c)).isEqualTo("viona");
        } finally {
            c.deactivate();
        }
    }

    @Test
    void whenTheOnlyProviderLeavesTheSocketStaysAndTheDeviceIsHeldUntilOneArrives() {
        VhostUserComponent c = component(null);
        try {
            c.addProvider(EchoDevice.provider('v', 0), offer("viona", 3));
            var server = c.served().server();

            c.removeProvider(null, offer("viona", 3));

            assertThat(c.served().server()).isSameAs(server);
            assertThat(server.held()).isTrue();
            assertThat(dir.resolve("net.sock")).exists();
            assertThat(c.served().status()).isEqualTo(vmm.core.machine.DeviceInstance.Status.DETACHED);

            c.addProvider(EchoDevice.provider('n', 0), offer("virtio-net", 9));

            assertThat(server.held()).isFalse();
            assertThat(c.served().implementation()).isEqualTo("virtio-net");
            assertThat(c.served().status()).isEqualTo(vmm.core.machine.DeviceInstance.Status.ACTIVE);
            assertThat(c.served().swapCount()).isEqualTo(1);
        } finally {
            c.deactivate();
        }
        assertThat(dir.resolve("net.sock")).doesNotExist();
    }

    @Test
    void aNewImplementationInTheConfigurationSwapsTheServedDeviceAsDeviceSwapWritesIt() {
        VhostUserComponent c = component(null);
        try {
            c.addProvider(EchoDevice.provider('n', 0), offer("virtio-net", 2));
            c.addProvider(EchoDevice.provider('v', 0), offer("viona", 5));
            assertThat(c.served().implementation()).isEqualTo("virtio-net");

            Map<String, Object> config = new HashMap<>(Map.of("service.pid", "vmm.vhost-user~test",
                    "type", "virtio-net", "socket", dir.resolve("net.sock").toString(), "implementation", "viona"));
            c.modified(config);

            assertThat(c.served().implementation()).isEqualTo("viona");
            assertThat(c.served().swapCount()).isEqualTo(1);
            assertThat(c.served().id()).isEqualTo("vmm.vhost-user~test");
            assertThat(c.served().address()).isNull();
            assertThat(c.served().location()).isEqualTo("vhost-user unix " + dir.resolve("net.sock"));
        } finally {
            c.deactivate();
        }
    }
}
