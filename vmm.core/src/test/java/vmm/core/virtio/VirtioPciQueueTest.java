package vmm.core.virtio;

import static org.assertj.core.api.Assertions.assertThat;
import static vmm.core.virtio.TestRing.NEXT;
import static vmm.core.virtio.TestRing.WRITE;
import static vmm.core.virtio.VirtioFeatures.*;
import static vmm.core.virtio.VirtioPciTransport.*;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vmm.core.irq.MsiMessage;

/**
 * Queue setup and notification, interrupts (MSI-X, ISR and INTx), device
 * configuration and the PCI_CFG window, driven as a guest driver would.
 */
class VirtioPciQueueTest {
    static final long BUF = 0x10000;

    private final PciTestbed t = new PciTestbed();

    @AfterEach
    void close() {
        t.close();
    }

    /** Offers one chain (2 readable bytes, 8 writable) on descriptors 0 and 1. */
    static void offerRequest(TestRing ring) {
        ring.memory.write(BUF, new byte[] {7, 8}, 0, 2);
        ring.desc(0, BUF, 2, NEXT, 1);
        ring.desc(1, BUF + 0x100, 8, WRITE, 0);
        ring.publish(0);
    }

    @Test
    void aRequestIsServedAndInterruptsOnTheQueuesMsixVector() {
        t.plug(3, TestDevice.simple('e'));
        PciTestbed.Driver d = t.driver(3);
        TestRing ring = d.startMsix(1);

        offerRequest(ring);
        d.notifyQueue(0);

        assertThat(ring.usedIdx()).isEqualTo(1);
        assertThat(ring.usedElem(0)).containsExactly(0, 3);
        assertThat(t.memory.readU8(BUF + 0x100)).isEqualTo('e');
        assertThat(t.irq.msis()).containsExactly(new MsiMessage(PciTestbed.MSI_ADDRESS, d.msiData(1)));
        assertThat(t.irq.level(PciTestbed.gsi(3))).as("no INTx with MSI-X").isFalse();
    }

    @Test
    void msixVectorsInRangeReadBackAndOthersReadNoVector() {
        t.plug(3, new TestDevice(63, 2, 16, 0, 8, 'a')); // 3 vectors
        PciTestbed.Driver d = t.driver(3);

        d.write(VIRTIO_PCI_COMMON_MSIX, 2, 2);
        assertThat(d.read(VIRTIO_PCI_COMMON_MSIX, 2)).isEqualTo(2);
        d.write(VIRTIO_PCI_COMMON_MSIX, 2, 3);
        assertThat(d.read(VIRTIO_PCI_COMMON_MSIX, 2)).isEqualTo(NO_VECTOR);

        d.write(VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
        d.write(VIRTIO_PCI_COMMON_Q_MSIX, 2, 1);
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_MSIX, 2)).isEqualTo(1);
        d.write(VIRTIO_PCI_COMMON_Q_MSIX, 2, 0x7ff);
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_MSIX, 2)).isEqualTo(NO_VECTOR);
        d.write(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_MSIX, 2)).as("queue 0 untouched").isEqualTo(NO_VECTOR);
    }

    @Test
    void withMsixEnabledAQueueWithoutAVectorDoesNotInterrupt() {
        t.plug(3, TestDevice.simple('e'));
        PciTestbed.Driver d = t.driver(3);
        d.enableMsix();
        TestRing ring = d.start(0, 8, 0x1000);

        offerRequest(ring);
        d.notifyQueue(0);

        assertThat(ring.usedIdx()).isEqualTo(1);
        assertThat(t.irq.msis()).isEmpty();
        assertThat(t.irq.level(PciTestbed.gsi(3))).isFalse();
    }

    @Test
    void withoutMsixAQueueInterruptSetsIsrBitZeroAndRaisesIntxUntilIsrIsRead() {
        t.plug(3, TestDevice.simple('e'));
        PciTestbed.Driver d = t.driver(3);
        TestRing ring = d.start(0, 8, 0x1000);
        int gsi = PciTestbed.gsi(3);

        offerRequest(ring);
        d.notifyQueue(0);

        assertThat(t.irq.level(gsi)).isTrue();
        assertThat(d.readIsr()).isEqualTo(VIRTIO_PCI_ISR_QUEUE);
        assertThat(t.irq.level(gsi)).isFalse();
        assertThat(d.readIsr()).as("read clears").isZero();
    }

    @Test
    void aConfigChangeBumpsTheGenerationAndInterruptsOnTheConfigVector() {
        VirtioPciTransport tr = t.plug(3, TestDevice.simple('e'));
        PciTestbed.Driver d = t.driver(3);
        d.enableMsix();
        d.negotiate(bit(VERSION_1));
        d.write(VIRTIO_PCI_COMMON_MSIX, 2, 0);
        d.driverOk();
        int before = (int) d.read(VIRTIO_PCI_COMMON_CFGGENERATION, 1);

        tr.context().configChanged();

        assertThat(d.read(VIRTIO_PCI_COMMON_CFGGENERATION, 1)).isEqualTo(before + 1);
        assertThat(t.irq.msiCount(d.msiData(0))).isEqualTo(1);
    }

    @Test
    void withoutMsixAConfigChangeSetsIsrBitOne() {
        VirtioPciTransport tr = t.plug(3, TestDevice.simple('e'));
        PciTestbed.Driver d = t.driver(3);
        d.start(0, 8, 0x1000);

        tr.context().configChanged();

        assertThat(t.irq.level(PciTestbed.gsi(3))).isTrue();
        assertThat(d.readIsr()).isEqualTo(VIRTIO_PCI_ISR_CONFIG);
        assertThat(t.irq.level(PciTestbed.gsi(3))).isFalse();
    }

    @Test
    void queueSizeIsWritableBeforeEnableAndFixedAfter() {
        t.plug(3, TestDevice.simple('e'));
        PciTestbed.Driver d = t.driver(3);
        d.negotiate(bit(VERSION_1));
        d.setupQueue(0, 4, 0x1000);

        d.write(VIRTIO_PCI_COMMON_Q_SIZE, 2, 8);
        d.write(VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x5000);

        assertThat(d.read(VIRTIO_PCI_COMMON_Q_SIZE, 2)).isEqualTo(4);
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_DESCLO, 8)).isEqualTo(0x1000);
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_ENABLE, 2)).isEqualTo(1);
    }

    @Test
    void aQueueSizeThatIsNotAPowerOfTwoNeedsResetAndOtherDevicesAreUnaffected() {
        VirtioPciTransport victim = t.plug(3, TestDevice.simple('v'));
        t.plug(4, TestDevice.simple('b'));
        PciTestbed.Driver bad = t.driver(3), good = t.driver(4);
        TestRing goodRing = good.start(0, 8, 0x4000);
        bad.negotiate(bit(VERSION_1));

        bad.setupQueue(0, 6, 0x1000);

        assertThat(bad.needsReset()).isTrue();
        assertThat(victim.lastError()).isEqualTo("queue 0: size 6 is not a power of two");
        assertThat(bad.read(VIRTIO_PCI_COMMON_Q_ENABLE, 2)).as("the queue stays disabled").isZero();
        offerRequest(goodRing);
        good.notifyQueue(0);
        assertThat(goodRing.usedIdx()).isEqualTo(1);
        assertThat(good.needsReset()).isFalse();
    }

    @Test
    void aQueueSizeAboveTheMaximumNeedsReset() {
        VirtioPciTransport tr = t.plug(3, TestDevice.simple('v'));
        PciTestbed.Driver d = t.driver(3);
        d.negotiate(bit(VERSION_1));

        d.setupQueue(0, 32, 0x1000);

        assertThat(d.needsReset()).isTrue();
        assertThat(tr.lastError()).isEqualTo("queue 0: size 32 exceeds the maximum 16");
    }

    @Test
    void ringsOutsideRamNeedReset() {
        VirtioPciTransport tr = t.plug(3, TestDevice.simple('v'));
        PciTestbed.Driver d = t.driver(3);
        d.negotiate(bit(VERSION_1));

        d.setupQueue(0, 8, (1 << 20) - 0x40);

        assertThat(d.needsReset()).isTrue();
        assertThat(tr.lastError()).startsWith("queue 0: descriptor table").contains("not in guest RAM");
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_ENABLE, 2)).isZero();
    }

    @Test
    void aNotifyForAQueueThatIsNotEnabledNeedsResetWithAConfigInterrupt() {
        TestDevice dev = new TestDevice(63, 2, 16, 0, 8, 'e');
        VirtioPciTransport tr = t.plug(3, dev);
        PciTestbed.Driver d = t.driver(3);
        d.enableMsix();
        d.negotiate(bit(VERSION_1));
        d.write(VIRTIO_PCI_COMMON_MSIX, 2, 0);
        d.setupQueue(0, 8, 0x1000);
        d.driverOk();

        d.notifyQueue(1);

        assertThat(d.needsReset()).isTrue();
        assertThat(tr.lastError()).isEqualTo("notify for queue 1, which is not enabled");
        assertThat(t.irq.msiCount(d.msiData(0))).isEqualTo(1);
        assertThat(dev.notifies).as("only the kick that came with activation").containsExactly(0);
    }

    @Test
    void aNotifyForAQueueThatDoesNotExistNeedsReset() {
        VirtioPciTransport tr = t.plug(3, TestDevice.simple('e'));
        PciTestbed.Driver d = t.driver(3);
        d.start(0, 8, 0x1000);

        d.notifyQueue(7);

        assertThat(d.needsReset()).isTrue();
        assertThat(tr.lastError()).contains("queue 7, which does not exist");
    }

    @Test
    void aNotifyBeforeDriverOkIsDeliveredWhenTheDeviceIsActivated() {
        TestDevice dev = TestDevice.simple('e');
        t.plug(3, dev);
        PciTestbed.Driver d = t.driver(3);
        d.negotiate(bit(VERSION_1));
        TestRing ring = d.setupQueue(0, 8, 0x1000);
        offerRequest(ring);

        d.notifyQueue(0);
        assertThat(dev.notifies).as("the device may not consume buffers before DRIVER_OK").isEmpty();
        assertThat(d.needsReset()).isFalse();

        d.driverOk();
        assertThat(dev.notifies).containsExactly(0);
        assertThat(ring.usedIdx()).isEqualTo(1);
    }

    @Test
    void aMalformedChainNeedsResetOnceAndLaterNotifiesAreNotDelivered() {
        TestDevice dev = TestDevice.simple('e');
        VirtioPciTransport tr = t.plug(3, dev);
        PciTestbed.Driver d = t.driver(3);
        TestRing ring = d.startMsix(NO_VECTOR);
        int notifiesBefore = dev.notifies.size();

        ring.desc(0, BUF, 8, NEXT, 0);
        ring.publish(0);
        d.notifyQueue(0);
        d.notifyQueue(0);

        assertThat(d.needsReset()).isTrue();
        assertThat(tr.lastError()).startsWith("queue 0: head 0:").contains("loop");
        assertThat(t.irq.msiCount(d.msiData(0))).as("one config interrupt").isEqualTo(1);
        assertThat(dev.notifies).as("the device is left alone after the error").hasSize(notifiesBefore + 1);
    }

    @Test
    void aDeviceErrorNeedsResetWithTheDevicesReason() {
        VirtioPciTransport tr = t.plug(3, TestDevice.simple('e'));
        PciTestbed.Driver d = t.driver(3);
        d.start(0, 8, 0x1000);

        tr.context().deviceError("backend gone");
        tr.context().deviceError("again");

        assertThat(d.needsReset()).isTrue();
        assertThat(tr.lastError()).isEqualTo("device error: backend gone");
        assertThat(d.readIsr()).isEqualTo(VIRTIO_PCI_ISR_CONFIG);
    }

    @Test
    void deviceConfigIsReachableWithinItsSizeOnly() {
        TestDevice dev = TestDevice.simple('e');
        t.plug(3, dev);
        PciTestbed.Driver d = t.driver(3);

        d.writeConfig(4, 4, 0x12345678);
        d.writeConfig(8, 4, 0xdeadbeefL);

        assertThat(d.readConfig(4, 4)).isEqualTo(0x12345678);
        assertThat(d.readConfig(6, 2)).isEqualTo(0x1234);
        assertThat(d.readConfig(0, 8)).isEqualTo(0x12345678L << 32);
        assertThat(d.readConfig(8, 4)).as("beyond config_size").isZero();
        assertThat(d.deviceLength).isEqualTo(8);
    }

    @Test
    void thePciCfgWindowReachesTheRegistersTheDriverPointsItAt() {
        TestDevice dev = TestDevice.simple('e');
        t.plug(3, dev);
        PciTestbed.Driver d = t.driver(3);
        int cap = d.pciCfgCap;

        t.cfg(3, cap + VIRTIO_PCI_CAP_BAR, 1, MODERN_BAR);
        t.cfg(3, cap + VIRTIO_PCI_CAP_OFFSET, 4, (int) COMMON_CFG_OFFSET + VIRTIO_PCI_COMMON_NUMQ);
        t.cfg(3, cap + VIRTIO_PCI_CAP_LENGTH, 4, 2);
        assertThat(t.cfg(3, cap + VIRTIO_PCI_CFG_DATA, 4) & 0xffff).as("num_queues through the window").isEqualTo(1);

        t.cfg(3, cap + VIRTIO_PCI_CAP_OFFSET, 4, (int) DEVICE_CFG_OFFSET + 4);
        t.cfg(3, cap + VIRTIO_PCI_CAP_LENGTH, 4, 4);
        t.cfg(3, cap + VIRTIO_PCI_CFG_DATA, 4, 0xcafef00d);
        assertThat(d.readConfig(4, 4)).isEqualTo(0xcafef00dL);

        t.cfg(3, cap + VIRTIO_PCI_CAP_OFFSET, 4, (int) COMMON_CFG_OFFSET + VIRTIO_PCI_COMMON_STATUS);
        t.cfg(3, cap + VIRTIO_PCI_CAP_LENGTH, 4, 1);
        t.cfg(3, cap + VIRTIO_PCI_CFG_DATA, 1, STATUS_ACKNOWLEDGE);
        assertThat(d.status()).as("status written through the window").isEqualTo(STATUS_ACKNOWLEDGE);

        assertThat(t.cfg(3, cap + VIRTIO_PCI_CAP_OFFSET, 4)).isEqualTo(VIRTIO_PCI_COMMON_STATUS);
        assertThat(t.cfg(3, cap + VIRTIO_PCI_CAP_CFG_TYPE, 1)).as("read-only").isEqualTo(VIRTIO_PCI_CAP_PCI_CFG);
        t.cfg(3, cap + VIRTIO_PCI_CAP_CFG_TYPE, 1, 9);
        assertThat(t.cfg(3, cap + VIRTIO_PCI_CAP_CFG_TYPE, 1)).isEqualTo(VIRTIO_PCI_CAP_PCI_CFG);
    }

    @Test
    void thePciCfgWindowIgnoresAnAccessItCannotPerform() {
        t.plug(3, TestDevice.simple('e'));
        PciTestbed.Driver d = t.driver(3);
        int cap = d.pciCfgCap;

        t.cfg(3, cap + VIRTIO_PCI_CAP_BAR, 1, MODERN_BAR);
        t.cfg(3, cap + VIRTIO_PCI_CAP_OFFSET, 4, VIRTIO_PCI_COMMON_NUMQ);
        t.cfg(3, cap + VIRTIO_PCI_CAP_LENGTH, 4, 3);
        assertThat(t.cfg(3, cap + VIRTIO_PCI_CFG_DATA, 4)).as("length 3").isZero();

        t.cfg(3, cap + VIRTIO_PCI_CAP_BAR, 1, 2);
        t.cfg(3, cap + VIRTIO_PCI_CAP_LENGTH, 4, 2);
        assertThat(t.cfg(3, cap + VIRTIO_PCI_CFG_DATA, 4)).as("no BAR2").isZero();
    }

    @Test
    void anEightByteAccessProgramsA64BitQueueAddress() {
        t.plug(3, TestDevice.simple('e'));
        PciTestbed.Driver d = t.driver(3);

        d.write(VIRTIO_PCI_COMMON_Q_DESCLO, 8, 0x1_2345_6780L);
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_DESCLO, 8)).isEqualTo(0x1_2345_6780L);
        d.write(VIRTIO_PCI_COMMON_Q_DESCLO + 4, 4, 0);
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_DESCLO, 4)).as("halves are separate").isEqualTo(0x2345_6780L);
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_DESCLO, 8)).isEqualTo(0x2345_6780L);
    }
}
