package vmm.itest;

import static org.assertj.core.api.Assertions.assertThat;
import static vmm.core.virtio.VirtioFeatures.STATUS_ACKNOWLEDGE;
import static vmm.core.virtio.VirtioFeatures.STATUS_DRIVER;
import static vmm.core.virtio.VirtioFeatures.STATUS_DRIVER_OK;
import static vmm.core.virtio.VirtioFeatures.STATUS_FEATURES_OK;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.test.common.annotation.InjectBundleContext;
import org.osgi.test.common.annotation.InjectService;

import vmm.core.machine.DeviceInstance.Status;
import vmm.core.machine.DeviceInstanceInfo;
import vmm.core.pci.PciAddress;
import vmm.testing.DriverQueue;
import vmm.testing.HangGuard;
import vmm.testing.VirtioDriver;

/**
 * A device bundle (device.virtio-rng, embedded in this test bundle) is
 * installed, started, stopped, updated and uninstalled while the machine
 * exists and its guest driver keeps using the device: the instance, its
 * slot and its guest-visible state stay; only the implementation behind
 * them comes and goes.
 */
class DeviceBundleLifecycleTest {
    private static final String RNG = "device.virtio-rng";
    private static final PciAddress SLOT = PciAddress.parse("0:4.0");
    private static final Duration TIMEOUT = HangGuard.BOUND;

    @InjectBundleContext
    BundleContext context;
    @InjectService
    ConfigurationAdmin cm;

    private FrameworkMachine vm;
    private Bundle rng;

    @BeforeEach
    void startMachine() throws Exception {
        vm = FrameworkMachine.start(context, cm, "16M");
    }

    @AfterEach
    void stopMachine() throws Exception {
        try {
            if (rng != null && rng.getState() != Bundle.UNINSTALLED) rng.uninstall();
        } finally {
            vm.close();
        }
    }

    @Test
    void aDeviceConfiguredBeforeItsBundleIsInstalledWaitsAndAppearsWhenTheBundleStarts() throws Exception {
        vm.device("rng", Map.of("type", "virtio-rng", "address", SLOT.toString()));
        DeviceInstanceInfo info = vm.awaitDevice("rng", i -> true);
        assertThat(info.status()).as("no implementation yet").isNull();
        assertThat(vm.machine().pci().configRead(SLOT, 0, 2)).as("nothing in the slot yet").isEqualTo(0xffff);

        rng = EmbeddedBundles.install(context, RNG);
        rng.start();

        vm.awaitDevice("rng", i -> i.status() == Status.ACTIVE);
        assertThat(info.implementation()).isEqualTo("virtio-rng");
        assertThat(entropyRequest(vm.kit().virtio(SLOT).initialize(0, 16).queue(0))).isEqualTo(64);
    }

    @Test
    void stoppingTheBundleDetachesTheDeviceAndStartingItAgainServesTheRequestThatWaited() throws Exception {
        rng = EmbeddedBundles.install(context, RNG);
        rng.start();
        vm.device("rng", Map.of("type", "virtio-rng", "address", SLOT.toString()));
        DeviceInstanceInfo info = vm.awaitDevice("rng", i -> i.status() == Status.ACTIVE);
        VirtioDriver driver = vm.kit().virtio(SLOT).initialize(0, 16);
        DriverQueue q = driver.queue(0);
        assertThat(entropyRequest(q)).isEqualTo(64);

        rng.stop();

        assertThat(info.status()).isEqualTo(Status.DETACHED);
        assertThat(driver.status()).as("the guest still sees its device, configured as it left it")
                .isEqualTo(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
        int head = q.add(List.of(), 32);
        Thread kicker = Thread.ofPlatform().start(q::kick); // a vCPU's notify waits at the gate
        HangGuard.await(() -> kicker.getState() == Thread.State.TIMED_WAITING || !kicker.isAlive(),
                "the kick is at the gate");
        assertThat(q.poll()).as("nothing can serve the request while the bundle is stopped").isNull();

        rng.start();

        kicker.join(TIMEOUT.toMillis());
        assertThat(kicker.isAlive()).isFalse();
        assertThat(info.status()).isEqualTo(Status.ACTIVE);
        DriverQueue.Completion c = q.await(TIMEOUT);
        assertThat(c.head()).isEqualTo(head);
        assertThat(c.length()).isEqualTo(32);
        assertThat(entropyRequest(q)).as("and it keeps serving").isEqualTo(64);
        assertThat(driver.needsReset()).isFalse();
        assertThat(info.swapCount()).isEqualTo(1);
    }

    @Test
    void updatingTheBundleMovesTheRunningDeviceToTheNewBundleRevision() throws Exception {
        rng = EmbeddedBundles.install(context, RNG);
        rng.start();
        vm.device("rng", Map.of("type", "virtio-rng", "address", SLOT.toString()));
        DeviceInstanceInfo info = vm.awaitDevice("rng", i -> i.status() == Status.ACTIVE);
        VirtioDriver driver = vm.kit().virtio(SLOT).initialize(0, 16);
        DriverQueue q = driver.queue(0);
        for (int i = 0; i < 3; i++) entropyRequest(q);
        ClassLoader before = info.instance().model().getClass().getClassLoader();

        EmbeddedBundles.update(rng, RNG);

        vm.awaitDevice("rng", i -> i.status() == Status.ACTIVE && i.swapCount() == 1);
        assertThat(info.instance().model().getClass().getClassLoader())
                .as("the model now comes from the new bundle revision").isNotSameAs(before);
        assertThat(rng.getState()).isEqualTo(Bundle.ACTIVE);
        assertThat(entropyRequest(q)).isEqualTo(64);
        assertThat(q.usedIndex()).as("used index carried over: 3 before, 1 after").isEqualTo(4);
        // The device publishes a completion before it raises the MSI: wait for the interrupt rather than read it at once.
        assertThat(vm.interrupts().awaitMsiCount(driver.msiData(1), 4, TIMEOUT)).as("4 completion MSIs").isTrue();
        assertThat(vm.interrupts().msiCount(driver.msiData(1))).isEqualTo(4);
        assertThat(driver.needsReset()).isFalse();
    }

    @Test
    void uninstallingTheBundleLeavesTheDeviceDetachedAndTheMachineWorking() throws Exception {
        rng = EmbeddedBundles.install(context, RNG);
        rng.start();
        vm.device("rng", Map.of("type", "virtio-rng", "address", SLOT.toString()));
        DeviceInstanceInfo info = vm.awaitDevice("rng", i -> i.status() == Status.ACTIVE);
        vm.kit().virtio(SLOT).initialize(0, 16);

        rng.uninstall();

        assertThat(info.status()).isEqualTo(Status.DETACHED);
        assertThat(vm.machine().pci().configRead(SLOT, 0, 2)).as("the slot still holds the device")
                .isEqualTo(0x1af4);
    }

    @Test
    void deletingTheConfigurationUnplugsTheDevice() throws Exception {
        rng = EmbeddedBundles.install(context, RNG);
        rng.start();
        var config = vm.device("rng", Map.of("type", "virtio-rng", "address", SLOT.toString()));
        vm.awaitDevice("rng", i -> i.status() == Status.ACTIVE);

        config.delete();

        vm.awaitNoService("(service.pid=vmm.device~rng)");
        // SCR withdraws the service before it deactivates the component, which unplugs: wait for that too.
        HangGuard.await(() -> vm.machine().pci().configRead(SLOT, 0, 2) == 0xffff, "the slot is empty");
        assertThat(rng.getState()).as("the bundle is not affected").isEqualTo(Bundle.ACTIVE);
    }

    /** One request for 64 bytes of entropy; returns how many the device wrote. */
    private static int entropyRequest(DriverQueue q) {
        q.add(List.of(), 64);
        q.kick();
        DriverQueue.Completion c = q.await(TIMEOUT);
        assertThat(c.data()).isNotEqualTo(new byte[c.length()]);
        return c.length();
    }
}
