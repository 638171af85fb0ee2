package vmm.testing;

import static vmm.testing.VmmAssertions.assertThat;
import static vmm.testing.VmmAssertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import vmm.core.machine.DeviceInstance;
import vmm.core.pci.PciAddress;
import vmm.core.virtio.VirtioFeatures;

/**
 * Swapping the implementation of a running device: requests in flight at
 * the moment of the swap are completed exactly once, each with its
 * interrupt, and requests after it are served by the new implementation.
 */
@ExtendWith(TestMachineExtension.class)
class HotSwapTest {
    private static final PciAddress SLOT = PciAddress.slot(6);
    private static final Duration TIMEOUT = HangGuard.BOUND;

    @Test
    void requestsInFlightAcrossTwoSwapsAreEachCompletedOnceWithAnInterrupt(TestMachine m) {
        DeviceInstance device = m.plug(EchoDevice.TYPE, SLOT, EchoDevice.provider('A', 2000), "A", Map.of());
        VirtioDriver driver = m.virtio(SLOT).initialize(0, 256);
        DriverQueue q = driver.queue(0);
        Map<Integer, Integer> headToRequest = new HashMap<>();
        Map<Integer, Byte> servedBy = new HashMap<>();
        int sent = 0;

        for (char impl : new char[] {'B', 'A'}) {
            for (int i = 0; i < 40; i++, sent++) headToRequest.put(q.add(List.of(request(sent)), 8), sent);
            q.kick();
            device.swapTo(String.valueOf(impl), EchoDevice.provider(impl, 100));
            for (int i = 0; i < 10; i++, sent++) headToRequest.put(q.add(List.of(request(sent)), 8), sent);
            q.kick();
            while (!headToRequest.isEmpty()) {
                DriverQueue.Completion c = q.await(TIMEOUT);
                Integer req = headToRequest.remove(c.head());
                assertThat(req).as("completion of head %d is for a request in flight", c.head()).isNotNull();
                assertThat(c.length()).isEqualTo(5);
                assertThat(ByteBuffer.wrap(c.data(), 1, 4).getInt()).isEqualTo(req);
                servedBy.put(req, c.data()[0]);
            }
        }

        assertThat(servedBy).hasSize(sent);
        assertThat(q.poll()).as("nothing completed twice").isNull();
        // Without EVENT_IDX or NO_INTERRUPT the device must interrupt after every used entry.
        assertThat(m.interrupts()).receivesMsi(driver.msiData(1), sent);
        assertThat(m.interrupts().msiCount(driver.msiData(1))).isEqualTo(sent);
        assertThat(device.swapCount()).isEqualTo(2);
        assertThat(device.implementation()).isEqualTo("A");
        assertThat(servedBy.values()).contains((byte) 'A', (byte) 'B');
        assertThat(servedBy.get(sent - 1)).as("the last request went to the implementation swapped in last").isEqualTo((byte) 'A');
        assertThat(driver).isHealthy();
    }

    @Test
    void theOldImplementationFinishesWhatItTookBeforeTheNewOneStarts(TestMachine m) {
        DeviceInstance device = m.plug(EchoDevice.TYPE, SLOT, EchoDevice.provider('A', 1000), "A", Map.of());
        VirtioDriver driver = m.virtio(SLOT).initialize(0, 64);
        DriverQueue q = driver.queue(0);
        for (int i = 0; i < 20; i++) q.add(List.of(request(i)), 8);
        q.kick();
        EchoDevice old = (EchoDevice) device.model();

        device.swapTo("B", EchoDevice.provider('B', 0));

        assertThat(old.inFlight()).isZero();
        assertThat(q.usedIndex()).as("all 20 were taken by A on the kick and completed by the swap").isEqualTo(20);
        for (int i = 0; i < 20; i++) assertThat(q.await(TIMEOUT).data()[0]).isEqualTo((byte) 'A');
    }

    @Test
    void deviceStateTravelsWithTheSwap(TestMachine m) {
        DeviceInstance device = m.plug(EchoDevice.TYPE, SLOT, EchoDevice.provider('A', 0), "A", Map.of());
        VirtioDriver driver = m.virtio(SLOT).initialize(0, 64);
        driver.writeConfig(4, 4, 0xC0FFEE);
        DriverQueue q = driver.queue(0);
        for (int i = 0; i < 3; i++) {
            q.add(List.of(request(i)), 8);
            q.kick();
            q.await(TIMEOUT);
        }

        device.swapTo("B", EchoDevice.provider('B', 0));

        assertThat(driver.readConfig(0, 4)).as("processed count").isEqualTo(3);
        assertThat(driver.readConfig(4, 4)).as("scratch register").isEqualTo(0xC0FFEE);
    }

    @Test
    void aSwapToAnIncompatibleImplementationIsRefusedAndTheOldOneKeepsServing(TestMachine m) {
        DeviceInstance device = m.plug(EchoDevice.TYPE, SLOT, EchoDevice.provider('A', 0), "A", Map.of());
        VirtioDriver driver = m.virtio(SLOT).initialize(0, 64);

        assertThatThrownBy(() -> device.swapTo("two-queues", ctx -> new EchoDevice((byte) 'X', 0, 2)))
                .hasMessageContaining("queue count 2 != 1");

        DriverQueue q = driver.queue(0);
        q.add(List.of(request(7)), 8);
        q.kick();
        assertThat(q.await(TIMEOUT).data()[0]).isEqualTo((byte) 'A');
        assertThat(device.implementation()).isEqualTo("A");
    }

    @Test
    void aDetachedDeviceHoldsGuestWorkUntilASuccessorArrives(TestMachine m) throws Exception {
        DeviceInstance device = m.plug(EchoDevice.TYPE, SLOT, EchoDevice.provider('A', 0), "A", Map.of());
        VirtioDriver driver = m.virtio(SLOT).initialize(0, 64);
        DriverQueue q = driver.queue(0);

        device.detach();
        q.add(List.of(request(1)), 8);
        Thread kicker = Thread.ofPlatform().start(q::kick); // waits at the gate, as a vCPU would
        HangGuard.await(() -> kicker.getState() == Thread.State.TIMED_WAITING || !kicker.isAlive(),
                "the kick is at the gate");
        assertThat(q.poll()).isNull();
        device.attach("B", EchoDevice.provider('B', 0));
        kicker.join(TIMEOUT);

        DriverQueue.Completion c = q.await(TIMEOUT);
        assertThat(c.data()[0]).isEqualTo((byte) 'B');
        assertThat(device.status()).isEqualTo(DeviceInstance.Status.ACTIVE);
    }

    private static byte[] request(int n) {
        return ByteBuffer.allocate(4).putInt(n).array();
    }
}
