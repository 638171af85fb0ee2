package device.virtio_net;

import static device.virtio_net.protocol.VirtioNetSpec.*;
import static vmm.testing.VmmAssertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import device.virtio_net.protocol.NetCounters.Counter;
import device.virtio_net.protocol.NetHeader;
import vmm.core.machine.DeviceInstance;
import vmm.testing.DriverQueue;
import vmm.testing.HangGuard;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;
import vmm.testing.VirtioDriver;
import device.virtio_net.fixtures.FakeBackend;
import device.virtio_net.fixtures.Frames;

/**
 * A guest that sends what no driver should: each bad transmit chain is
 * returned, counted and not sent, the device keeps working; a chain the
 * core's ring walker refuses puts the device in NEEDS_RESET.
 */
@ExtendWith(TestMachineExtension.class)
class HostileGuestTest {
    final FakeBackend fake = new FakeBackend();

    private DeviceInstance plug(TestMachine m) {
        return m.plug("virtio-net", VirtioNetTest.SLOT, new VirtioNetProvider((id, o) -> fake), "virtio-net", VirtioNetTest.CONFIG);
    }

    static byte[] good(int seq) {
        return Frames.frame(Frames.HOST, Frames.GUEST, seq, 60);
    }

    @Test
    void dropsAndCountsEveryMalformedTransmitAndStillSendsTheNextGoodOne(TestMachine m) {
        DeviceInstance dev = plug(m);
        VirtioDriver d = m.virtio(VirtioNetTest.SLOT).initialize(VirtioNetTest.SIMPLE, 64, 64, 16);
        DriverQueue tx = d.queue(1);
        List<byte[]> bad = List.of(
                new byte[5],                                                                        // shorter than the header
                Frames.tx(NetHeader.PLAIN, new byte[10]),                                           // shorter than an Ethernet header
                Frames.tx(NetHeader.PLAIN, Frames.frame(Frames.HOST, Frames.GUEST, 1, 3000)),        // over the MTU, no TSO
                Frames.tx(new NetHeader(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 14, 16, 0), good(2)),  // CSUM not negotiated
                Frames.tx(new NetHeader(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16, 0), good(3)), // TSO not negotiated
                Frames.tx(new NetHeader(0x80, 0, 0, 0, 0, 0, 0), good(4)),                           // unknown flag
                Frames.tx(new NetHeader(VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0, 0, 0), good(5)),    // a receive-only flag
                Frames.tx(new NetHeader(0, 9, 0, 0, 0, 0, 0), good(6)),                              // unknown gso_type
                Frames.tx(new NetHeader(0, VIRTIO_NET_HDR_GSO_ECN, 0, 0, 0, 0, 0), good(7)));        // ECN alone
        for (byte[] b : bad) tx.add(List.of(b));
        tx.add(List.of(Frames.tx(NetHeader.PLAIN, good(99))));
        tx.add(List.of(), 64);                                                                       // nothing to send at all
        tx.kick();
        for (int i = 0; i < bad.size() + 2; i++) tx.await(VirtioNetTest.TIMEOUT);

        assertThat(fake.sent()).hasSize(1);
        assertThat(Frames.seq(fake.sent().get(0).frame(), false)).isEqualTo(99);
        assertThat(VirtioNetTest.model(dev).counters().get(Counter.TX_DROPPED)).isEqualTo(bad.size() + 1);
        assertThat(d).isHealthy();
    }

    @Test
    void anOversizedChainIsDroppedWithoutBeingCopied(TestMachine m) {
        DeviceInstance dev = plug(m);
        VirtioDriver d = m.virtio(VirtioNetTest.SLOT).initialize(VirtioNetTest.SIMPLE, 64, 64, 16);
        DriverQueue tx = d.queue(1);
        // Two descriptors of 64 KiB: larger than any frame plus header.
        tx.add(List.of(new byte[65536], new byte[65536]));
        tx.kick();
        tx.await(VirtioNetTest.TIMEOUT);
        assertThat(fake.sent()).isEmpty();
        assertThat(VirtioNetTest.model(dev).counters().get(Counter.TX_DROPPED)).isEqualTo(1);
        assertThat(d).isHealthy();
    }

    @Test
    void aDescriptorLoopInTheTransmitQueueNeedsResetAndTheDeviceRecoversAfterReset(TestMachine m) {
        plug(m);
        VirtioDriver d = m.virtio(VirtioNetTest.SLOT).initialize(VirtioNetTest.SIMPLE, 64, 64, 16);
        DriverQueue tx = d.queue(1);
        long buf = m.allocator().allocate(64, 8);
        tx.writeDescriptor(0, buf, 64, DriverQueue.VIRTQ_DESC_F_NEXT, 1);
        tx.writeDescriptor(1, buf, 64, DriverQueue.VIRTQ_DESC_F_NEXT, 0);
        tx.publish(0);
        tx.kick();
        HangGuard.await(d::needsReset, "the device reported the loop (DEVICE_NEEDS_RESET)");
        assertThat(d).needsReset();

        VirtioDriver again = m.virtio(VirtioNetTest.SLOT).initialize(VirtioNetTest.SIMPLE, 64, 64, 16);
        again.queue(1).add(List.of(Frames.tx(NetHeader.PLAIN, good(1))));
        again.queue(1).kick();
        again.queue(1).await(VirtioNetTest.TIMEOUT);
        assertThat(fake.sent()).hasSize(1);
        assertThat(again).isHealthy();
    }

    @Test
    void aReceiveBufferTooSmallForTheFrameIsReturnedEmptyAndTheFrameCounted(TestMachine m) {
        DeviceInstance dev = plug(m);
        VirtioDriver d = m.virtio(VirtioNetTest.SLOT).initialize(VirtioNetTest.SIMPLE, 64, 64, 16);
        DriverQueue rx = d.queue(0);
        int small = rx.add(List.of(), 200);
        int big = rx.add(List.of(), 1526);
        rx.kick();
        fake.inject(Frames.toGuest(1, 1000));
        fake.inject(Frames.toGuest(2, 1000));
        assertThat(rx.await(VirtioNetTest.TIMEOUT)).hasHead(small).hasLength(0);
        DriverQueue.Completion c = rx.await(VirtioNetTest.TIMEOUT);
        assertThat(c).hasHead(big).hasLength(1012);
        assertThat(Frames.seq(c.data(), true)).as("a larger buffer behind the small one still gets the next frame").isEqualTo(2);
        assertThat(VirtioNetTest.model(dev).counters().get(Counter.RX_DROPPED)).isEqualTo(1);
    }
}
