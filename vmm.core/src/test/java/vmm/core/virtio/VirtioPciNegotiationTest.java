package vmm.core.virtio;

import static org.assertj.core.api.Assertions.assertThat;
import static vmm.core.virtio.VirtioFeatures.*;
import static vmm.core.virtio.VirtioPciTransport.*;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Feature negotiation, the device status state machine and reset (2.1, 3.1.1, 4.1.4.3). */
class VirtioPciNegotiationTest {
    private static final int ACK = STATUS_ACKNOWLEDGE, DRV = STATUS_DRIVER;

    private final PciTestbed t = new PciTestbed();

    @AfterEach
    void close() {
        t.close();
    }

    @Test
    void theDeviceOffersItsFeaturesThatTheLibraryCanCarryAndVersion1() {
        long asked = bit(0) | bit(5) | bit(23) | bit(55) | bit(RING_INDIRECT_DESC) | bit(RING_EVENT_IDX)
                | bit(24) /* NOTIFY_ON_EMPTY */ | bit(ACCESS_PLATFORM) | bit(RING_PACKED) | bit(38) /* NOTIFICATION_DATA */
                | bit(40) /* RING_RESET */;
        t.plug(3, new TestDevice(63, 1, 16, asked, 8, 'a'));

        assertThat(t.driver(3).deviceFeatures()).isEqualTo(bit(0) | bit(5) | bit(23) | bit(55)
                | bit(RING_INDIRECT_DESC) | bit(RING_EVENT_IDX) | bit(VERSION_1));
    }

    @Test
    void aFeatureSelectBeyondTheSecondWordReadsZero() {
        t.plug(3, TestDevice.simple('a'));
        PciTestbed.Driver d = t.driver(3);

        d.write(VIRTIO_PCI_COMMON_DFSELECT, 4, 2);

        assertThat(d.read(VIRTIO_PCI_COMMON_DFSELECT, 4)).isEqualTo(2);
        assertThat(d.read(VIRTIO_PCI_COMMON_DF, 4)).isZero();
    }

    @Test
    void featuresOkDoesNotStickWithoutVersion1() {
        t.plug(3, TestDevice.simple('a'));
        PciTestbed.Driver d = t.driver(3);

        assertThat(d.negotiate(bit(RING_INDIRECT_DESC))).isFalse();
        assertThat(d.status()).isEqualTo(ACK | DRV);
    }

    @Test
    void featuresOkDoesNotStickWithABitTheDeviceDidNotOffer() {
        t.plug(3, TestDevice.simple('a'));
        PciTestbed.Driver d = t.driver(3);

        assertThat(d.negotiate(bit(VERSION_1) | bit(RING_PACKED))).isFalse();
        assertThat(d.negotiate(bit(VERSION_1) | bit(3))).isFalse();
        assertThat(d.negotiate(bit(VERSION_1) | bit(RING_EVENT_IDX))).isTrue();
    }

    @Test
    void afterFeaturesOkTheDriverFeaturesAreFrozen() {
        t.plug(3, TestDevice.simple('a'));
        PciTestbed.Driver d = t.driver(3);
        d.negotiate(bit(VERSION_1) | bit(RING_EVENT_IDX));

        d.driverFeatures(bit(VERSION_1) | bit(RING_INDIRECT_DESC));

        assertThat(d.driverFeatures()).isEqualTo(bit(VERSION_1) | bit(RING_EVENT_IDX));
    }

    @Test
    void statusBitsCanOnlyBeAddedExceptByReset() {
        t.plug(3, TestDevice.simple('a'));
        PciTestbed.Driver d = t.driver(3);
        d.status(ACK | DRV);

        d.status(ACK);
        assertThat(d.status()).isEqualTo(ACK | DRV);

        d.status(STATUS_FAILED);
        assertThat(d.status()).isEqualTo(ACK | DRV | STATUS_FAILED);
    }

    @Test
    void theDriverCannotSetDeviceNeedsReset() {
        t.plug(3, TestDevice.simple('a'));
        PciTestbed.Driver d = t.driver(3);

        d.status(ACK | STATUS_DEVICE_NEEDS_RESET);

        assertThat(d.status()).isEqualTo(ACK);
    }

    @Test
    void driverOkWithoutFeaturesOkNeedsResetAndDoesNotActivate() {
        TestDevice dev = TestDevice.simple('a');
        VirtioPciTransport tr = t.plug(3, dev);
        PciTestbed.Driver d = t.driver(3);
        d.status(ACK | DRV);

        d.status(ACK | DRV | STATUS_DRIVER_OK);

        assertThat(d.needsReset()).isTrue();
        assertThat(tr.lastError()).contains("DRIVER_OK without FEATURES_OK");
        assertThat(dev.activations).isEmpty();
        assertThat(tr.context()).isNull();
    }

    @Test
    void driverOkActivatesTheDeviceWithTheNegotiatedFeaturesAndEnabledQueues() {
        TestDevice dev = new TestDevice(63, 2, 16, bit(RING_EVENT_IDX), 8, 'a');
        VirtioPciTransport tr = t.plug(3, dev);
        PciTestbed.Driver d = t.driver(3);
        d.negotiate(bit(VERSION_1) | bit(RING_EVENT_IDX));
        d.setupQueue(0, 8, 0x1000);

        d.driverOk();

        assertThat(dev.activations).hasSize(1);
        VirtioContext ctx = dev.activations.getFirst();
        assertThat(tr.context()).isSameAs(ctx);
        assertThat(ctx.memory()).isSameAs(t.memory);
        assertThat(ctx.negotiatedFeatures()).isEqualTo(bit(VERSION_1) | bit(RING_EVENT_IDX));
        assertThat(ctx.queue(0)).isNotNull();
        assertThat(ctx.queue(0).size()).isEqualTo(8);
        assertThat(ctx.queue(0).features()).isEqualTo(ctx.negotiatedFeatures());
        assertThat(ctx.queue(1)).as("not enabled").isNull();
        assertThat(ctx.queue(2)).as("does not exist").isNull();
        assertThat(d.status()).isEqualTo(ACK | DRV | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    }

    @Test
    void resetReturnsEveryRegisterToItsResetValueAndResetsTheDevice() {
        TestDevice dev = TestDevice.simple('a');
        VirtioPciTransport tr = t.plug(3, dev);
        PciTestbed.Driver d = t.driver(3);
        TestRing ring = d.startMsix(1);
        VirtioContext ctx = tr.context();
        VirtQueue q = ctx.queue(0);
        int resetsBefore = dev.resets.get();

        d.status(0);

        assertThat(d.status()).isZero();
        assertThat(dev.resets).hasValue(resetsBefore + 1);
        assertThat(d.driverFeatures()).isZero();
        assertThat(d.read(VIRTIO_PCI_COMMON_MSIX, 2)).isEqualTo(NO_VECTOR);
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_SELECT, 2)).isZero();
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_SIZE, 2)).as("back to the maximum").isEqualTo(16);
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_MSIX, 2)).isEqualTo(NO_VECTOR);
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_ENABLE, 2)).isZero();
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_DESCLO, 8)).isZero();
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_AVAILLO, 8)).isZero();
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_USEDLO, 8)).isZero();
        assertThat(tr.context()).isNull();
        assertThat(ctx.queue(0)).as("the old context is dead").isNull();
        ring.desc(0, 0x10000, 8, TestRing.WRITE, 0);
        ring.publish(0);
        assertThat(q.pop()).as("the old queue is retired").isNull();
    }

    @Test
    void resetClearsIsrAndLowersIntx() {
        TestDevice dev = TestDevice.simple('a');
        VirtioPciTransport tr = t.plug(3, dev);
        PciTestbed.Driver d = t.driver(3);
        d.start(0, 8, 0x1000);
        tr.context().configChanged();
        assertThat(t.irq.level(PciTestbed.gsi(3))).isTrue();

        d.status(0);

        assertThat(t.irq.level(PciTestbed.gsi(3))).isFalse();
        assertThat(d.readIsr()).isZero();
    }

    @Test
    void resetClearsNeedsResetAndTheDeviceWorksAgain() {
        TestDevice dev = TestDevice.simple('a');
        VirtioPciTransport tr = t.plug(3, dev);
        PciTestbed.Driver d = t.driver(3);
        d.start(0, 8, 0x1000);
        d.notifyQueue(5);
        assertThat(d.needsReset()).isTrue();

        TestRing ring = d.start(0, 8, 0x1000);
        ring.desc(0, 0x10000, 4, TestRing.WRITE, 0);
        ring.publish(0);
        d.notifyQueue(0);

        assertThat(d.needsReset()).isFalse();
        assertThat(ring.usedIdx()).isEqualTo(1);
        assertThat(tr.lastError()).as("the last error is kept for diagnosis").contains("queue 5");
    }

    @Test
    void numQueuesAndNotifyOffsetsDescribeTheQueues() {
        t.plug(3, new TestDevice(63, 3, 16, 0, 8, 'a'));
        PciTestbed.Driver d = t.driver(3);

        assertThat(d.read(VIRTIO_PCI_COMMON_NUMQ, 2)).isEqualTo(3);
        d.write(VIRTIO_PCI_COMMON_Q_SELECT, 2, 2);
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_NOFF, 2)).isEqualTo(2);
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_SIZE, 2)).isEqualTo(16);
        d.write(VIRTIO_PCI_COMMON_Q_SELECT, 2, 3);
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_SIZE, 2)).as("no queue 3").isZero();
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_MSIX, 2)).isEqualTo(NO_VECTOR);
    }

    @Test
    void commonConfigAccessesOfAnyWidthSeeTheRegistersTheyCover() {
        t.plug(3, new TestDevice(63, 3, 16, 0, 8, 'a'));
        PciTestbed.Driver d = t.driver(3);
        d.status(ACK);

        // num_queues (18) and device_status (20) in one 4-byte read at 18, with config_generation at 21
        assertThat(d.read(VIRTIO_PCI_COMMON_NUMQ, 4)).isEqualTo(3 | ACK << 16);
        assertThat(d.read(VIRTIO_PCI_COMMON_NUMQ + 1, 1)).isZero();
        assertThat(d.read(0x100, 4)).as("past the structure").isZero();
    }
}
