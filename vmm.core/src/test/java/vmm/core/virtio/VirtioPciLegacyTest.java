package vmm.core.virtio;

import static org.assertj.core.api.Assertions.assertThat;
import static vmm.core.virtio.TestRing.NEXT;
import static vmm.core.virtio.TestRing.WRITE;
import static vmm.core.virtio.VirtioFeatures.*;
import static vmm.core.virtio.VirtioPciTransport.*;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vmm.core.device.SwapGate;

/** A legacy driver on the I/O BAR of a transitional device (4.1.4.10). */
class VirtioPciLegacyTest {
    private static final long OFFERED = bit(0) | bit(5) | bit(RING_INDIRECT_DESC);

    private final PciTestbed t = new PciTestbed();
    private final TestDevice net = new TestDevice(1, 2, 16, OFFERED, 8, 'L');
    private VirtioPciTransport transport;
    private PciTestbed.Driver d;

    @AfterEach
    void close() {
        t.close();
    }

    private void plug() {
        transport = t.plug(3, net, true, new SwapGate());
        d = t.driver(3);
        net.writeConfig(0, 8, 0x0807060504030201L);
    }

    @Test
    void aLegacyDriverSetsUpAQueueByPfnAndIsServedWithIntx() {
        plug();
        assertThat(d.legacyRead(VIRTIO_PCI_HOST_FEATURES, 4)).as("the low 32 offered bits, no VERSION_1").isEqualTo(OFFERED);
        d.legacyWrite(VIRTIO_PCI_STATUS, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
        d.legacyWrite(VIRTIO_PCI_GUEST_FEATURES, 4, bit(5) | bit(RING_INDIRECT_DESC) | bit(7));
        d.legacyWrite(VIRTIO_PCI_QUEUE_SEL, 2, 0);
        assertThat(d.legacyRead(VIRTIO_PCI_QUEUE_NUM, 2)).isEqualTo(16);
        d.legacyWrite(VIRTIO_PCI_QUEUE_PFN, 4, 0x2000 >> VIRTIO_PCI_QUEUE_ADDR_SHIFT);
        assertThat(d.legacyRead(VIRTIO_PCI_QUEUE_PFN, 4)).isEqualTo(2);

        d.legacyWrite(VIRTIO_PCI_STATUS, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK);

        VirtioContext ctx = transport.context();
        assertThat(ctx).isNotNull();
        assertThat(ctx.negotiatedFeatures()).as("unoffered bit 7 dropped").isEqualTo(bit(5) | bit(RING_INDIRECT_DESC));
        VirtQueue q = ctx.queue(0);
        assertThat(q.descTableAddress()).isEqualTo(0x2000);
        assertThat(q.availRingAddress()).isEqualTo(0x2000 + 16 * 16);
        assertThat(q.usedRingAddress()).as("on the next 4 KiB boundary").isEqualTo(0x3000);
        assertThat(q.features()).isEqualTo(ctx.negotiatedFeatures());

        TestRing ring = new TestRing(t.memory, 16, 0x2000, 0x2100, 0x3000);
        t.memory.write(0x10000, new byte[] {9}, 0, 1);
        ring.desc(0, 0x10000, 1, NEXT, 1);
        ring.desc(1, 0x10100, 4, WRITE, 0);
        ring.publish(0);
        d.legacyWrite(VIRTIO_PCI_QUEUE_NOTIFY, 2, 0);

        assertThat(ring.usedIdx()).isEqualTo(1);
        assertThat(t.memory.readU16(0x10100)).isEqualTo('L' | 9 << 8);
        assertThat(t.irq.level(PciTestbed.gsi(3))).isTrue();
        assertThat(d.legacyRead(VIRTIO_PCI_ISR, 1)).isEqualTo(VIRTIO_PCI_ISR_QUEUE);
        assertThat(t.irq.level(PciTestbed.gsi(3))).isFalse();
        assertThat(d.legacyRead(VIRTIO_PCI_STATUS, 1)).isEqualTo(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK);
    }

    @Test
    void deviceConfigStartsAt20WithoutMsixAndAt24WithIt() {
        plug();
        assertThat(d.legacyRead(VIRTIO_PCI_CONFIG_OFF_NO_MSIX, 4)).isEqualTo(0x04030201L);

        d.enableMsix();

        assertThat(d.legacyRead(VIRTIO_PCI_CONFIG_OFF_MSIX, 4)).isEqualTo(0x04030201L);
        assertThat(d.legacyRead(VIRTIO_MSI_CONFIG_VECTOR, 2)).isEqualTo(NO_VECTOR);
        d.legacyWrite(VIRTIO_MSI_CONFIG_VECTOR, 2, 0);
        d.legacyWrite(VIRTIO_PCI_QUEUE_SEL, 2, 1);
        d.legacyWrite(VIRTIO_MSI_QUEUE_VECTOR, 2, 2);
        d.legacyWrite(VIRTIO_PCI_QUEUE_SEL, 2, 0);
        d.legacyWrite(VIRTIO_MSI_QUEUE_VECTOR, 2, 3);
        assertThat(d.legacyRead(VIRTIO_MSI_QUEUE_VECTOR, 2)).as("out of range").isEqualTo(NO_VECTOR);
        d.legacyWrite(VIRTIO_PCI_QUEUE_SEL, 2, 1);
        assertThat(d.legacyRead(VIRTIO_MSI_QUEUE_VECTOR, 2)).isEqualTo(2);
        assertThat(d.legacyRead(VIRTIO_MSI_CONFIG_VECTOR, 2)).isZero();
        assertThat(d.read(VIRTIO_PCI_COMMON_MSIX, 2)).as("the same register as the modern one").isZero();

        d.legacyWrite(VIRTIO_PCI_CONFIG_OFF_MSIX + 4, 4, 0xaabbccddL);
        assertThat(d.readConfig(4, 4)).isEqualTo(0xaabbccddL);
    }

    @Test
    void pfnZeroDisablesTheQueue() {
        plug();
        d.legacyWrite(VIRTIO_PCI_QUEUE_PFN, 4, 2);
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_ENABLE, 2)).isEqualTo(1);

        d.legacyWrite(VIRTIO_PCI_QUEUE_PFN, 4, 0);

        assertThat(d.legacyRead(VIRTIO_PCI_QUEUE_PFN, 4)).isZero();
        assertThat(d.read(VIRTIO_PCI_COMMON_Q_ENABLE, 2)).isZero();
    }

    @Test
    void aPfnOutsideRamNeedsReset() {
        plug();

        d.legacyWrite(VIRTIO_PCI_QUEUE_PFN, 4, 0x100000);

        assertThat(d.legacyRead(VIRTIO_PCI_STATUS, 1) & STATUS_DEVICE_NEEDS_RESET).isNotZero();
        assertThat(transport.lastError()).contains("not in guest RAM");
    }

    @Test
    void writingZeroToTheLegacyStatusResets() {
        plug();
        d.legacyWrite(VIRTIO_PCI_GUEST_FEATURES, 4, bit(5));
        d.legacyWrite(VIRTIO_PCI_QUEUE_PFN, 4, 2);
        d.legacyWrite(VIRTIO_PCI_STATUS, 1, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK);

        d.legacyWrite(VIRTIO_PCI_STATUS, 1, 0);

        assertThat(net.resets).hasValue(1);
        assertThat(d.legacyRead(VIRTIO_PCI_STATUS, 1)).isZero();
        assertThat(d.legacyRead(VIRTIO_PCI_GUEST_FEATURES, 4)).isZero();
        assertThat(d.legacyRead(VIRTIO_PCI_QUEUE_PFN, 4)).isZero();
        assertThat(transport.context()).isNull();
    }

    @Test
    void aModernDriverStillNegotiatesVersion1OnATransitionalDevice() {
        plug();

        assertThat(d.deviceFeatures()).isEqualTo(OFFERED | bit(VERSION_1));
        assertThat(d.negotiate(bit(5))).isFalse();
        assertThat(d.negotiate(bit(5) | bit(VERSION_1))).isTrue();
    }
}
