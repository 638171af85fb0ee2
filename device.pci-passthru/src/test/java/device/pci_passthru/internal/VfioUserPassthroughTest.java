package device.pci_passthru.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static vmm.testing.VmmAssertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import device.pci_passthru.internal.vfiouser.VfioUserConnector;
import device.pci_passthru.vfio.VfioDevice;
import device.virtio_rng.VirtioRngProvider;
import vmm.core.pci.PciAddress;
import vmm.testing.DriverQueue;
import vmm.testing.HangGuard;
import vmm.testing.TestMachine;
import vmm.testing.VirtioDriver;
import vmm.vfiouser.VfioUserServer;

/**
 * The passthrough function over the second transport: a virtio-rng served by a
 * {@link VfioUserServer} on a Unix socket, passed through to this machine with the
 * very function a kernel vfio-pci device gets, and driven by the kit's virtio
 * driver through the guest-visible config space and BARs: MSI-X enabled by the
 * driver arrives as an interrupt (server's eventfd, our irqfd route), and the
 * device fills the driver's buffer by DMA through the memfd of guest RAM.
 */
class VfioUserPassthroughTest {
    private static final PciAddress AT = PciAddress.slot(6);
    private static final Duration WAIT = HangGuard.BOUND;

    @Test
    void aDriverEnablingMsixThroughThePassedThroughFunctionGetsTheInterruptAndTheDmaData() throws Exception {
        Path dir = Files.createTempDirectory("passthru-vfio-user");
        Path socket = dir.resolve("rng.sock");
        try (VfioUserServer server = VfioUserServer.start(socket, "rng", Map.of(), "virtio-rng", new VirtioRngProvider());
             TestMachine tm = TestMachine.create();
             FakeVm vm = new FakeVm(tm.memory(), tm.interrupts());
             VfioDevice dev = new VfioUserConnector().open(socket.toString());
             PassthroughFunction f = PassthroughFunction.attach("passthru", AT, dev, tm.machine().pci(), tm.machine().ioPorts(),
                     tm.machine().mmio(), vm, tm.memory())) {
            VirtioDriver driver = tm.virtio(AT);
            assertThat(driver.function().vendorId()).isEqualTo(0x1af4);
            driver.initialize(0, 64);

            int head = driver.queue(0).add(List.of(), 32);
            driver.queue(0).kick();

            DriverQueue.Completion c = driver.queue(0).await(WAIT);
            assertThat(c.head()).isEqualTo(head);
            assertThat(c.length()).isEqualTo(32);
            assertThat(c.data()).isNotEqualTo(new byte[32]);
            assertThat(tm.interrupts().awaitMsiCount(driver.msiData(1), 1, WAIT)).isTrue();
            assertThat(server.interruptsSignalled()).isPositive();
            assertThat(f.broken()).isFalse();
        }
    }

    @Test
    void aServerThatGoesAwayDisablesTheFunctionAndTheMachineRunsOn() throws Exception {
        Path dir = Files.createTempDirectory("passthru-vfio-user");
        Path socket = dir.resolve("rng.sock");
        VfioUserServer server = VfioUserServer.start(socket, "rng", Map.of(), "virtio-rng", new VirtioRngProvider());
        try (TestMachine tm = TestMachine.create();
             FakeVm vm = new FakeVm(tm.memory(), tm.interrupts());
             VfioDevice dev = new VfioUserConnector().open(socket.toString());
             PassthroughFunction f = PassthroughFunction.attach("passthru", AT, dev, tm.machine().pci(), tm.machine().ioPorts(),
                     tm.machine().mmio(), vm, tm.memory())) {
            VirtioDriver driver = tm.virtio(AT);
            server.close();
            driver.writeStatus(1);
            assertThat(f.broken()).isTrue();
            assertThat(tm.pci().read16(AT, 0)).isEqualTo(0xffff);
        } finally {
            server.close();
        }
    }

    @Test
    void aMissingSocketSaysToStartTheServer() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new VfioUserConnector().open("/nonexistent/x.sock"))
                .hasMessageContaining("does not exist").hasMessageContaining("vmm vfio-user --socket");
    }
}
