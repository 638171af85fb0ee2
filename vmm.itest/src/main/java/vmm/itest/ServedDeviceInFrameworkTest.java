package vmm.itest;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Hashtable;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.test.common.annotation.InjectBundleContext;
import org.osgi.test.common.annotation.InjectService;

import vmm.core.machine.DeviceInstance.Status;
import vmm.core.machine.DeviceInstanceInfo;
import vmm.testing.HangGuard;

/**
 * A device served on a vhost-user socket (vmm.vhost-user and device.virtio-rng, embedded in this test bundle) is a
 * device instance as the shell sees it: a {@code DeviceInstanceInfo} at its socket, held with its socket kept while
 * its provider's bundle is stopped, served again when it starts.
 */
class ServedDeviceInFrameworkTest {
    @InjectBundleContext
    BundleContext context;
    @InjectService
    ConfigurationAdmin cm;

    private FrameworkMachine vm;
    private Bundle vhost, rng;
    private Configuration config;
    private Path dir;

    @BeforeEach
    void start() throws Exception {
        vm = FrameworkMachine.start(context, cm, "16M");
        dir = Files.createTempDirectory("served-itest");
        vhost = EmbeddedBundles.install(context, "vmm.vhost-user");
        vhost.start();
        rng = EmbeddedBundles.install(context, "device.virtio-rng");
        rng.start();
    }

    @AfterEach
    void stop() throws Exception {
        try {
            if (config != null) config.delete();
            for (Bundle b : new Bundle[] {rng, vhost})
                if (b != null && b.getState() != Bundle.UNINSTALLED) b.uninstall();
        } finally {
            vm.close();
            try (var files = Files.list(dir)) {
                files.forEach(p -> p.toFile().delete());
            }
            Files.deleteIfExists(dir);
        }
    }

    @Test
    void aVhostUserDeviceIsListedAtItsSocketAndHeldWhileItsProviderIsStopped() throws Exception {
        Path socket = dir.resolve("rng.sock");
        config = cm.getFactoryConfiguration("vmm.vhost-user", "rng", "?");
        config.update(new Hashtable<>(Map.of("type", "virtio-rng", "socket", socket.toString())));

        DeviceInstanceInfo info = vm.awaitService(DeviceInstanceInfo.class, "(service.pid=vmm.vhost-user~rng)",
                i -> i.status() == Status.ACTIVE);
        assertThat(info.id()).isEqualTo("vmm.vhost-user~rng");
        assertThat(info.address()).isNull();
        assertThat(info.location()).isEqualTo("vhost-user unix " + socket);
        assertThat(info.implementation()).isEqualTo("virtio-rng");
        assertThat(socket).exists();

        rng.stop();

        assertThat(info.status()).as("held, not closed").isEqualTo(Status.DETACHED);
        assertThat(socket).exists();

        rng.start();

        vm.awaitService(DeviceInstanceInfo.class, "(service.pid=vmm.vhost-user~rng)",
                i -> i.status() == Status.ACTIVE && i.swapCount() == 1);
        assertThat(info.implementation()).isEqualTo("virtio-rng");

        config.delete();
        config = null;
        HangGuard.await(() -> !Files.exists(socket), "the socket is removed with its configuration");
    }
}
