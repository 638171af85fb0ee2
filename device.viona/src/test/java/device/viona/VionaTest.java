package device.viona;

import static device.virtio_net.protocol.VirtioNetSpec.*;
import static vmm.testing.VmmAssertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import device.viona.engine.WorkerDataPath;
import device.viona.vhost.VhostHost;
import device.virtio_net.model.NetModel;
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

/** viona's own data path through the kit: offloads, header copy, batching, multi-queue, hostile transmits, the engine choice. */
@ExtendWith(TestMachineExtension.class)
class VionaTest {
    static final PciAddress SLOT = PciAddress.slot(7);
    static final Duration TIMEOUT = HangGuard.BOUND;
    static final long SIMPLE = NetFeatures.bits(VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, VIRTIO_NET_F_MTU, VIRTIO_NET_F_CTRL_VQ,
            VIRTIO_NET_F_CTRL_RX, VIRTIO_NET_F_CTRL_MAC_ADDR, VIRTIO_NET_F_GUEST_ANNOUNCE);
    /** A host that has no vhost-net, whatever this machine has. */
    static final VhostHost NO_VHOST = new VhostHost() {
        @Override public String unavailable() { return "not in this test"; }
        @Override public device.viona.vhost.VhostIoctls open() { throw new AssertionError("vhost-net opened"); }
    };

    FakeBackend fake = new FakeBackend(1, NetFeatures.OFFLOADS);

    static Map<String, Object> config(Object... kv) {
        Map<String, Object> m = new HashMap<>(Map.of("tap", "fake0", "mac", Frames.GUEST.toString()));
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    DeviceInstance plug(TestMachine m, Map<String, Object> config) {
        return m.plug("virtio-net", SLOT, new VionaProvider((id, o) -> fake, NO_VHOST), "viona", config);
    }

    static NetModel model(DeviceInstance d) {
        return (NetModel) d.model();
    }

    @Test
    void offersTheBackEndsOffloadsByDefaultAndExactlyThePlainFeaturesWithoutThem(TestMachine m) {
        plug(m, config());
        assertThat(m.virtio(SLOT).deviceFeatures()).isEqualTo(NetFeatures.BASE | NetFeatures.OFFLOADS | VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        try (TestMachine other = TestMachine.create()) {
            other.plug("virtio-net", SLOT, new VionaProvider((id, o) -> fake, NO_VHOST), "viona", config("offload", "false"));
            assertThat(other.virtio(SLOT).deviceFeatures()).isEqualTo(NetFeatures.BASE | VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        }
    }

    @Test
    void negotiatedGuestOffloadsReachTheBackEndAndASegmentedSendGoesThroughWithItsHeader(TestMachine m) {
        plug(m, config());
        VirtioDriver d = m.virtio(SLOT).initialize(SIMPLE | NetFeatures.OFFLOADS, 64, 64, 16);
        assertThat(fake.receiveOffloads & NetFeatures.bit(VIRTIO_NET_F_GUEST_TSO4)).isNotZero();
        NetHeader tso = new NetHeader(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16, 0);
        byte[] big = Frames.frame(Frames.HOST, Frames.GUEST, 5, 20000);
        d.queue(1).add(List.of(Frames.tx(tso, big)));
        d.queue(1).kick();
        d.queue(1).await(TIMEOUT);
        assertThat(fake.sent()).hasSize(1);
        assertThat(fake.sent().get(0).header()).isEqualTo(tso);
        assertThat(fake.sent().get(0).frame()).isEqualTo(big);
    }

    @Test
    void aGuestRewritingTheHeaderAfterTheCheckDoesNotChangeWhatIsSent(TestMachine m) {
        DeviceInstance dev = plug(m, config("offload", "false"));
        VirtioDriver d = m.virtio(SLOT).initialize(SIMPLE, 64, 64, 16);
        DriverQueue tx = d.queue(1);
        dev.model().pause(); // nothing is taken before the racing guest below is in place
        // Header and frame in separate descriptors, as Linux sends them.
        int head = tx.add(List.of(NetHeader.PLAIN.toBytes(), Frames.frame(Frames.HOST, Frames.GUEST, 1, 60)));
        long headerAddress = m.memory().readU64(tx.descriptorTableAddress() + 16L * head);
        NetHeader hostile = new NetHeader(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 9999, 1, 0xffff, 0xffff, 0);
        // The "guest" strikes between the check and the use: when the back end is handed the frame.
        fake.onSend = header -> m.memory().write(headerAddress, hostile.toBytes(), 0, 12);
        dev.model().resume();
        tx.kick();
        tx.await(TIMEOUT);

        assertThat(NetHeader.decode(m.memory().slice(headerAddress, 12))).as("the guest did rewrite it").isEqualTo(hostile);
        assertThat(fake.sent()).hasSize(1);
        assertThat(fake.sent().get(0).header()).as("what was sent is what was checked").isEqualTo(NetHeader.PLAIN);
        assertThat(model(dev).counters().get(Counter.TX_DROPPED)).isZero();
    }

    @Test
    void aBatchOfTransmitsIsCompletedWithOneInterrupt(TestMachine m) {
        DeviceInstance dev = plug(m, config("offload", "false"));
        VirtioDriver d = m.virtio(SLOT).initialize(SIMPLE, 64, 128, 16);
        DriverQueue tx = d.queue(1);
        dev.model().pause(); // the worker is idle: the whole batch is there when it looks
        for (int i = 0; i < 100; i++) tx.add(List.of(Frames.tx(NetHeader.PLAIN, Frames.frame(Frames.HOST, Frames.GUEST, i, 60))));
        dev.model().resume();
        tx.kick();
        for (int i = 0; i < 100; i++) tx.await(TIMEOUT);
        assertThat(fake.sent()).hasSize(100);
        for (int i = 0; i < 100; i++) assertThat(Frames.seq(fake.sent().get(i).frame(), false)).isEqualTo(i);
        // The interrupt follows the batch's used index: wait for it, then that it was the only one.
        assertThat(m.interrupts()).receivesMsi(d.msiData(2), 1).hasMsiCount(d.msiData(2), 1);
    }

    @Test
    void receivesWithoutLossUnderBackPressureInBatches(TestMachine m) {
        DeviceInstance dev = plug(m, config("offload", "false"));
        VirtioDriver d = m.virtio(SLOT).initialize(SIMPLE | NetFeatures.bit(VIRTIO_NET_F_MRG_RXBUF), 256, 64, 16);
        DriverQueue rx = d.queue(0);
        for (int i = 0; i < 300; i++) fake.inject(Frames.toGuest(i, 100 + i));
        dev.model().pause();
        dev.model().resume();
        assertThat(fake.receiveCalls.get()).as("no buffers: the back end is not read").isZero();
        int next = 0;
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < 100; i++) rx.add(List.of(), 1526);
            rx.kick();
            for (int i = 0; i < 100; i++, next++) assertThat(Frames.seq(rx.await(TIMEOUT).data(), true)).isEqualTo(next);
        }
        assertThat(model(dev).counters().get(Counter.RX_PACKETS)).isEqualTo(300);
        assertThat(model(dev).counters().get(Counter.RX_DROPPED)).isZero();
    }

    @Test
    void eachQueuePairHasItsOwnWorkerOnceTheDriverEnablesThePairs(TestMachine m) {
        fake = new FakeBackend(2, 0) {
            @Override
            public int receive(int pair, java.lang.foreign.MemorySegment buffer) {
                return pair == 1 ? super.receive(pair, buffer) : 0; // frames come in on the second TAP queue only
            }
        };
        DeviceInstance dev = plug(m, config("queues", 2, "offload", "false"));
        VirtioDriver d = m.virtio(SLOT).initialize(SIMPLE | NetFeatures.bit(VIRTIO_NET_F_MQ), 64, 64, 64, 64, 16);
        assertThat(d.numQueues()).isEqualTo(5);
        byte[] pairs = ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort((short) 2).array();
        byte[] cmd = {VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, pairs[0], pairs[1]};
        d.queue(4).add(List.of(cmd), 1);
        d.queue(4).kick();
        assertThat(d.queue(4).await(TIMEOUT).data()).containsExactly(VIRTIO_NET_OK);

        d.queue(2).add(List.of(), 1526);
        d.queue(2).kick();
        fake.inject(Frames.toGuest(9, 80));
        assertThat(Frames.seq(d.queue(2).await(TIMEOUT).data(), true)).isEqualTo(9);
        d.queue(3).add(List.of(Frames.tx(NetHeader.PLAIN, Frames.frame(Frames.HOST, Frames.GUEST, 4, 60))));
        d.queue(3).kick();
        d.queue(3).await(TIMEOUT);
        assertThat(fake.sent()).hasSize(1);
        assertThat(model(dev).dataPath().engine()).contains("2 workers");
    }

    @Test
    void dropsAndCountsMalformedTransmitsLikeThePlainDevice(TestMachine m) {
        DeviceInstance dev = plug(m, config("offload", "false"));
        VirtioDriver d = m.virtio(SLOT).initialize(SIMPLE, 64, 64, 16);
        DriverQueue tx = d.queue(1);
        byte[] good = Frames.frame(Frames.HOST, Frames.GUEST, 1, 60);
        tx.add(List.of(new byte[3]));
        tx.add(List.of(new byte[8], new byte[2]));                                                              // header split, still short
        tx.add(List.of(Frames.tx(NetHeader.PLAIN, Frames.frame(Frames.HOST, Frames.GUEST, 2, 1600))));
        tx.add(List.of(Frames.tx(new NetHeader(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV6, 74, 1440, 54, 16, 0), good)));
        tx.add(List.of(new byte[65536], new byte[65536]));
        tx.add(List.of(NetHeader.PLAIN.toBytes(), good));
        tx.kick();
        for (int i = 0; i < 6; i++) tx.await(TIMEOUT);
        assertThat(fake.sent()).hasSize(1);
        assertThat(model(dev).counters().get(Counter.TX_DROPPED)).isEqualTo(5);
        assertThat(d).isHealthy();
    }

    @Test
    void withoutVhostNetOnTheHostTheInProcessEngineRunsAndSaysWhy(TestMachine m) {
        DeviceInstance dev = m.plug("virtio-net", SLOT, new VionaProvider((id, o) -> fake, VhostHost.LINUX), "viona", config());
        if (VhostHost.LINUX.unavailable() != null) {
            assertThat(VhostHost.LINUX.unavailable()).contains("/dev/vhost-net");
            assertThat(model(dev).dataPath()).isInstanceOf(WorkerDataPath.class);
            assertThat(model(dev).dataPath().engine()).contains("in-process");
        }
        fake.tapFd = java.util.OptionalInt.of(99);
        try (TestMachine other = TestMachine.create()) {
            DeviceInstance off = other.plug("virtio-net", SLOT, new VionaProvider((id, o) -> fake, VhostHost.LINUX), "viona", config("vhost-net", "off"));
            assertThat(model(off).dataPath()).isInstanceOf(WorkerDataPath.class);
        }
    }
}
