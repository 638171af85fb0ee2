package vmm.testing;

import static vmm.testing.VmmAssertions.assertThat;

import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import vmm.core.irq.MsiMessage;
import vmm.core.pci.IntxRouting;
import vmm.core.pci.PciAddress;
import vmm.core.virtio.VirtioFeatures;

/** The kit's driver against the core's virtio-pci transport, the way a guest driver would use it. */
@ExtendWith(TestMachineExtension.class)
class VirtioDriverTest {
    private static final PciAddress SLOT = PciAddress.slot(3);
    private static final Duration WAIT = HangGuard.BOUND; // a hang guard: each wait returns once the state is there

    @Test
    void theSpecificationsInitializationSequenceReachesDriverOk(TestMachine m) {
        m.plug(EchoDevice.TYPE, SLOT, EchoDevice.provider('e', 0));
        VirtioDriver d = m.virtio(SLOT).initialize(0, 16);

        assertThat(d).isHealthy().hasStatusBits(VirtioFeatures.STATUS_FEATURES_OK | VirtioFeatures.STATUS_ACKNOWLEDGE);
    }

    @Test
    void aDirectChainIsEchoedWithAnMsiOnTheQueuesVector(TestMachine m) {
        m.plug(EchoDevice.TYPE, SLOT, EchoDevice.provider('e', 0));
        VirtioDriver d = m.virtio(SLOT).initialize(0, 16);

        int head = d.queue(0).add(List.of(new byte[] {7, 8}, new byte[] {9}), 2, 2);
        d.queue(0).kick();

        assertThat(d.queue(0).await(WAIT)).hasHead(head).hasLength(4).hasData(new byte[] {'e', 7, 8, 9});
        assertThat(m.interrupts()).receivesMsi(d.msiData(1), 1);
        assertThat(m.interrupts().msis().getFirst()).isEqualTo(new MsiMessage(VirtioDriver.MSI_ADDRESS, d.msiData(1)));
    }

    @Test
    void anIndirectChainIsEchoed(TestMachine m) {
        m.plug(EchoDevice.TYPE, SLOT, EchoDevice.provider('e', 0));
        VirtioDriver d = m.virtio(SLOT).initialize(VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC), 16);

        d.queue(0).addIndirect(List.of(new byte[] {1}, new byte[] {2}), 1, 1, 1);
        d.queue(0).kick();

        assertThat(d.queue(0).await(WAIT)).hasLength(3).hasData(new byte[] {'e', 1, 2});
    }

    @Test
    void withoutMsixTheQueueInterruptIsIsrBitZeroOnTheRoutedIntxLine(TestMachine m) {
        m.plug(EchoDevice.TYPE, SLOT, EchoDevice.provider('e', 0));
        VirtioDriver d = m.virtio(SLOT);
        d.negotiate(0);
        DriverQueue q = d.setupQueue(0, 16);
        d.driverOk();
        int gsi = IntxRouting.standard().gsi(SLOT, 1);

        q.add(List.of(new byte[] {1}), 4);
        q.kick();
        q.await(WAIT);

        assertThat(m.interrupts().awaitLevel(gsi, WAIT)).isTrue();
        assertThat(d.readIsr()).isEqualTo(1);
        assertThat(m.interrupts()).hasLevel(gsi, false);
        assertThat(d.readIsr()).as("ISR is cleared by reading").isZero();
    }

    @Test
    void eventIndexSuppressesInterruptsUntilTheDriversUsedEvent(TestMachine m) {
        m.plug(EchoDevice.TYPE, SLOT, EchoDevice.provider('e', 0));
        VirtioDriver d = m.virtio(SLOT).initialize(VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX), 16);
        DriverQueue q = d.queue(0);
        q.setUsedEvent(2); // interrupt when the used index passes 2, i.e. on the third completion

        for (int i = 0; i < 3; i++) {
            q.add(List.of(new byte[] {(byte) i}), 4);
            q.kick();
            q.await(WAIT);
            if (i < 2) assertThat(m.interrupts().msiCount(d.msiData(1))).as("after completion %d", i).isZero();
        }

        assertThat(m.interrupts()).receivesMsi(d.msiData(1), 1);
    }

    @Test
    void resetReturnsTheDeviceToItsInitialState(TestMachine m) {
        m.plug(EchoDevice.TYPE, SLOT, EchoDevice.provider('e', 0));
        VirtioDriver d = m.virtio(SLOT).initialize(0, 16);

        d.reset();

        assertThat(d.status()).isZero();
        d.commonWrite(VirtioDriver.QUEUE_SELECT, 2, 0);
        assertThat(d.commonRead(VirtioDriver.QUEUE_ENABLE, 2)).isZero();
        assertThat(d.commonRead(VirtioDriver.QUEUE_MSIX_VECTOR, 2)).isEqualTo(VirtioFeatures.NO_VECTOR);
    }

    @Test
    void deviceConfigSpaceIsReachableThroughItsCapability(TestMachine m) {
        m.plug(EchoDevice.TYPE, SLOT, EchoDevice.provider('e', 0));
        VirtioDriver d = m.virtio(SLOT).initialize(0, 16);

        d.writeConfig(4, 4, 0x12345678);

        assertThat(d.readConfig(4, 4)).isEqualTo(0x12345678);
        assertThat(d.deviceConfigLength()).isGreaterThanOrEqualTo(8);
    }

    @Test
    void firmwareStyleEnumerationFindsEveryPluggedFunction(TestMachine m) {
        m.plug(EchoDevice.TYPE, PciAddress.slot(2), EchoDevice.provider('a', 0));
        m.plug(EchoDevice.TYPE, PciAddress.slot(9), EchoDevice.provider('b', 0));

        List<PciHarness.Function> fns = m.pci().assignResources();

        assertThat(fns).extracting(PciHarness.Function::address).containsExactly(PciAddress.slot(2), PciAddress.slot(9));
        assertThat(fns).allSatisfy(f -> {
            assertThat(f.vendorId()).isEqualTo(0x1af4);
            assertThat(f.bars()).isNotEmpty();
            assertThat(f.capabilities()).extracting(PciHarness.Cap::id).contains(PciHarness.CAP_ID_MSIX, PciHarness.CAP_ID_VENDOR);
        });
    }
}
