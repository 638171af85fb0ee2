package device.virtio_net;

import static device.virtio_net.protocol.VirtioNetSpec.*;
import static vmm.testing.VmmAssertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import device.virtio_net.model.NetModel;
import device.virtio_net.protocol.NetConfigField;
import device.virtio_net.protocol.NetCounters.Counter;
import device.virtio_net.protocol.NetFeatures;
import device.virtio_net.protocol.NetHeader;
import vmm.core.machine.DeviceInstance;
import vmm.core.pci.PciAddress;
import vmm.core.virtio.VirtioFeatures;
import vmm.testing.DriverQueue;
import vmm.testing.HangGuard;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;
import vmm.testing.VirtioDriver;
import device.virtio_net.fixtures.FakeBackend;
import device.virtio_net.fixtures.Frames;

/** The device as a driver sees it through the kit: features, config, both data queues. */
@ExtendWith(TestMachineExtension.class)
class VirtioNetTest {
    static final PciAddress SLOT = PciAddress.slot(5);
    static final Duration TIMEOUT = HangGuard.BOUND;
    static final Map<String, Object> CONFIG = Map.of("tap", "fake0", "mac", Frames.GUEST.toString());
    /** What a simple driver accepts: no mergeable buffers, no event index. */
    static final long SIMPLE = NetFeatures.bits(VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, VIRTIO_NET_F_MTU, VIRTIO_NET_F_CTRL_VQ,
            VIRTIO_NET_F_CTRL_RX, VIRTIO_NET_F_CTRL_MAC_ADDR, VIRTIO_NET_F_GUEST_ANNOUNCE);

    final FakeBackend fake = new FakeBackend();

    DeviceInstance plug(TestMachine m) {
        return m.plug("virtio-net", SLOT, new VirtioNetProvider((id, o) -> fake), "virtio-net", CONFIG);
    }

    static NetModel model(DeviceInstance d) {
        return (NetModel) d.model();
    }

    @Test
    void offersTheSpecifiedFeaturesQueuesAndConfigLayout(TestMachine m) {
        plug(m);
        VirtioDriver d = m.virtio(SLOT);
        assertThat(d.deviceFeatures()).isEqualTo(NetFeatures.BASE | VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        assertThat(d.numQueues()).isEqualTo(3);
        assertThat(d.deviceConfigLength()).isGreaterThanOrEqualTo(NetConfigField.CONFIG_SIZE);
        long mac = 0;
        for (int i = 0; i < 6; i++) mac = mac << 8 | d.readConfig(NetConfigField.MAC.offset + i, 1);
        assertThat(mac).isEqualTo(Frames.GUEST.value());
        assertThat(d.readConfig(NetConfigField.STATUS.offset, 2)).isEqualTo(VIRTIO_NET_S_LINK_UP);
        assertThat(d.readConfig(NetConfigField.MAX_VIRTQUEUE_PAIRS.offset, 2)).isEqualTo(1);
        assertThat(d.readConfig(NetConfigField.MTU.offset, 2)).isEqualTo(1500);
    }

    @Test
    void transmitsEachFrameWithItsCheckedHeaderAndInterruptsPerFrame(TestMachine m) {
        DeviceInstance dev = plug(m);
        VirtioDriver d = m.virtio(SLOT).initialize(SIMPLE, 64, 64, 16);
        DriverQueue tx = d.queue(1);
        for (int i = 0; i < 10; i++) tx.add(List.of(Frames.tx(NetHeader.PLAIN, Frames.frame(Frames.HOST, Frames.GUEST, i, 60))));
        tx.kick();
        for (int i = 0; i < 10; i++) tx.await(TIMEOUT);

        assertThat(fake.sent()).hasSize(10);
        for (int i = 0; i < 10; i++) {
            assertThat(Frames.seq(fake.sent().get(i).frame(), false)).isEqualTo(i);
            assertThat(fake.sent().get(i).header()).isEqualTo(NetHeader.PLAIN);
        }
        assertThat(model(dev).counters().get(Counter.TX_PACKETS)).isEqualTo(10);
        assertThat(m.interrupts()).receivesMsi(d.msiData(2), 10);
        assertThat(d).isHealthy();
    }

    @Test
    void deliversAReceivedFrameWholeIntoOneBufferWithoutMergeableBuffers(TestMachine m) {
        plug(m);
        VirtioDriver d = m.virtio(SLOT).initialize(SIMPLE, 64, 64, 16);
        DriverQueue rx = d.queue(0);
        int head = rx.add(List.of(), 1526);
        rx.kick();
        fake.inject(Frames.toGuest(7, 1000));

        DriverQueue.Completion c = rx.await(TIMEOUT);
        assertThat(c).hasHead(head).hasLength(12 + 1000);
        assertThat(NetHeader.decode(c.data()).numBuffers()).isEqualTo(1);
        assertThat(Frames.seq(c.data(), true)).isEqualTo(7);
        assertThat(m.interrupts()).receivesMsi(d.msiData(1), 1);
    }

    @Test
    void spreadsALargeFrameOverSeveralMergeableBuffersAndCountsThemInTheHeader(TestMachine m) {
        plug(m);
        VirtioDriver d = m.virtio(SLOT).initialize(SIMPLE | NetFeatures.bit(VIRTIO_NET_F_MRG_RXBUF), 64, 64, 16);
        DriverQueue rx = d.queue(0);
        for (int i = 0; i < 8; i++) rx.add(List.of(), 512);
        rx.kick();
        byte[] frame = Frames.toGuest(3, 1400);
        fake.inject(frame);

        List<DriverQueue.Completion> parts = new ArrayList<>();
        for (int i = 0; i < 3; i++) parts.add(rx.await(TIMEOUT));
        assertThat(NetHeader.decode(parts.get(0).data()).numBuffers()).isEqualTo(3);
        byte[] joined = new byte[12 + 1400];
        int at = 0;
        for (DriverQueue.Completion p : parts) {
            System.arraycopy(p.data(), 0, joined, at, p.length());
            at += p.length();
        }
        assertThat(at).isEqualTo(12 + 1400);
        assertThat(java.util.Arrays.copyOfRange(joined, 12, joined.length)).isEqualTo(frame);
        assertThat(rx.poll()).as("the other buffers stay posted").isNull();
    }

    @Test
    void stopsReadingTheBackEndWithoutReceiveBuffersAndResumesOnTheKickWithoutLosingAFrame(TestMachine m) {
        DeviceInstance dev = plug(m);
        VirtioDriver d = m.virtio(SLOT).initialize(SIMPLE | NetFeatures.bit(VIRTIO_NET_F_MRG_RXBUF), 256, 64, 16);
        DriverQueue rx = d.queue(0), tx = d.queue(1);
        for (int i = 0; i < 100; i++) fake.inject(Frames.toGuest(i, 200));
        // Make the I/O thread run a full round: a transmit is served, then it looks at RX.
        tx.add(List.of(Frames.tx(NetHeader.PLAIN, Frames.frame(Frames.HOST, Frames.GUEST, 0, 60))));
        tx.kick();
        tx.await(TIMEOUT);
        dev.model().pause(); // the thread is idle after this: whatever it would read, it has read
        dev.model().resume();
        assertThat(fake.receiveCalls.get()).as("no buffer posted: the back end is not read").isZero();
        assertThat(fake.inbound).hasSize(100);

        for (int i = 0; i < 30; i++) rx.add(List.of(), 1526);
        rx.kick();
        List<Integer> got = new ArrayList<>();
        for (int i = 0; i < 30; i++) got.add(Frames.seq(rx.await(TIMEOUT).data(), true));
        dev.model().pause();
        dev.model().resume();
        assertThat(fake.inbound.size() + model(dev).dataPath().pendingFrames().size()).as("the rest waits").isEqualTo(70);

        for (int i = 0; i < 70; i++) rx.add(List.of(), 1526);
        rx.kick();
        for (int i = 0; i < 70; i++) got.add(Frames.seq(rx.await(TIMEOUT).data(), true));
        List<Integer> expected = new ArrayList<>();
        for (int i = 0; i < 100; i++) expected.add(i);
        assertThat(got).as("every frame, once, in order").isEqualTo(expected);
        // The second stall comes after the last frame is published: the data path finds no buffer for the next one.
        HangGuard.await(() -> model(dev).counters().get(Counter.RX_STALLS) >= 2, "a second receive stall counted");
        assertThat(model(dev).counters().get(Counter.RX_DROPPED)).isZero();
    }

    @Test
    void defaultsToAStableMacFromTheInstanceNameWhenNoneIsConfigured(TestMachine m) {
        m.plug("virtio-net", SLOT, new VirtioNetProvider((id, o) -> fake), "virtio-net", Map.of("tap", "x"));
        VirtioDriver d = m.virtio(SLOT);
        assertThat(d.readConfig(0, 1)).isEqualTo(0x52);
        assertThat(d.readConfig(1, 1)).isEqualTo(0x54);
        assertThat(d.readConfig(2, 1)).isEqualTo(0x00);
    }
}
