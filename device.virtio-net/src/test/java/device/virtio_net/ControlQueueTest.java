package device.virtio_net;

import static device.virtio_net.protocol.VirtioNetSpec.*;
import static vmm.testing.VmmAssertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import device.virtio_net.protocol.MacAddress;
import device.virtio_net.protocol.NetConfigField;
import device.virtio_net.protocol.NetCounters.Counter;
import vmm.core.machine.DeviceInstance;
import vmm.testing.DriverQueue;
import vmm.testing.HangGuard;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;
import vmm.testing.VirtioDriver;
import device.virtio_net.fixtures.FakeBackend;
import device.virtio_net.fixtures.Frames;

/** The control queue as Linux's driver uses it: RX mode, MAC table, MAC address, announce acks, and bad commands. */
@ExtendWith(TestMachineExtension.class)
class ControlQueueTest {
    static final MacAddress OTHER = MacAddress.parse("52:54:00:99:99:99");
    static final MacAddress GROUP = MacAddress.parse("01:00:5e:00:00:fb");
    static final MacAddress OTHER_GROUP = MacAddress.parse("01:00:5e:00:00:01");
    final FakeBackend fake = new FakeBackend();

    static int command(DriverQueue ctrl, int cls, int cmd, byte[] data) {
        byte[] out = new byte[2 + data.length];
        out[0] = (byte) cls;
        out[1] = (byte) cmd;
        System.arraycopy(data, 0, out, 2, data.length);
        ctrl.add(List.of(out), 1);
        ctrl.kick();
        DriverQueue.Completion c = ctrl.await(VirtioNetTest.TIMEOUT);
        return c.length() == 1 ? c.data()[0] : -1;
    }

    static byte[] table(List<MacAddress> uni, List<MacAddress> multi) {
        ByteBuffer b = ByteBuffer.allocate(8 + 6 * (uni.size() + multi.size())).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(uni.size());
        uni.forEach(a -> b.put(a.bytes()));
        b.putInt(multi.size());
        multi.forEach(a -> b.put(a.bytes()));
        return b.array();
    }

    @Test
    void theRxModeAndMacTableDecideWhichFramesTheGuestGets(TestMachine m) throws InterruptedException {
        DeviceInstance dev = m.plug("virtio-net", VirtioNetTest.SLOT, new VirtioNetProvider((id, o) -> fake), "virtio-net", VirtioNetTest.CONFIG);
        VirtioDriver d = m.virtio(VirtioNetTest.SLOT).initialize(VirtioNetTest.SIMPLE, 64, 64, 16);
        DriverQueue rx = d.queue(0), ctrl = d.queue(2);
        assertThat(command(ctrl, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, new byte[] {0})).isEqualTo(VIRTIO_NET_OK);
        assertThat(command(ctrl, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table(List.of(), List.of(GROUP)))).isEqualTo(VIRTIO_NET_OK);
        for (int i = 0; i < 8; i++) rx.add(List.of(), 1526);
        rx.kick();

        fake.inject(Frames.frame(OTHER, Frames.HOST, 1, 60));                 // another host's unicast: filtered
        fake.inject(Frames.frame(Frames.GUEST, Frames.HOST, 2, 60));          // ours
        fake.inject(Frames.frame(MacAddress.BROADCAST, Frames.HOST, 3, 60));  // broadcast
        fake.inject(Frames.frame(GROUP, Frames.HOST, 4, 60));                 // a group in the table
        fake.inject(Frames.frame(OTHER_GROUP, Frames.HOST, 5, 60));           // a group not in it: filtered
        for (int want : new int[] {2, 3, 4}) assertThat(Frames.seq(rx.await(VirtioNetTest.TIMEOUT).data(), true)).isEqualTo(want);
        // Frame 5 must meet the filter before the modes change: wait until the device took it, and its round ended.
        HangGuard.await(fake.inbound::isEmpty, "the data path read frame 5 from the back end");
        dev.model().pause();
        dev.model().resume();

        assertThat(command(ctrl, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOBCAST, new byte[] {1})).isEqualTo(VIRTIO_NET_OK);
        assertThat(command(ctrl, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, new byte[] {1})).isEqualTo(VIRTIO_NET_OK);
        fake.inject(Frames.frame(MacAddress.BROADCAST, Frames.HOST, 6, 60));  // now filtered
        fake.inject(Frames.frame(OTHER_GROUP, Frames.HOST, 7, 60));           // now passes
        assertThat(Frames.seq(rx.await(VirtioNetTest.TIMEOUT).data(), true)).isEqualTo(7);
        assertThat(VirtioNetTest.model(dev).counters().get(Counter.RX_FILTERED)).isEqualTo(3);
    }

    @Test
    void settingTheMacAddressChangesConfigSpaceAndWhatCountsAsOurs(TestMachine m) {
        m.plug("virtio-net", VirtioNetTest.SLOT, new VirtioNetProvider((id, o) -> fake), "virtio-net", VirtioNetTest.CONFIG);
        VirtioDriver d = m.virtio(VirtioNetTest.SLOT).initialize(VirtioNetTest.SIMPLE, 64, 64, 16);
        DriverQueue rx = d.queue(0), ctrl = d.queue(2);
        assertThat(command(ctrl, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, OTHER.bytes())).isEqualTo(VIRTIO_NET_OK);
        assertThat(command(ctrl, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, new byte[] {0})).isEqualTo(VIRTIO_NET_OK);
        long mac = 0;
        for (int i = 0; i < 6; i++) mac = mac << 8 | d.readConfig(NetConfigField.MAC.offset + i, 1);
        assertThat(mac).isEqualTo(OTHER.value());
        rx.add(List.of(), 1526);
        rx.kick();
        fake.inject(Frames.frame(Frames.GUEST, Frames.HOST, 1, 60));
        fake.inject(Frames.frame(OTHER, Frames.HOST, 2, 60));
        assertThat(Frames.seq(rx.await(VirtioNetTest.TIMEOUT).data(), true)).isEqualTo(2);
    }

    @Test
    void badCommandsAreRefusedCountedAndChangeNothing(TestMachine m) {
        DeviceInstance dev = m.plug("virtio-net", VirtioNetTest.SLOT, new VirtioNetProvider((id, o) -> fake), "virtio-net", VirtioNetTest.CONFIG);
        VirtioDriver d = m.virtio(VirtioNetTest.SLOT).initialize(VirtioNetTest.SIMPLE, 64, 64, 16);
        DriverQueue ctrl = d.queue(2);
        assertThat(command(ctrl, 99, 0, new byte[0])).isEqualTo(VIRTIO_NET_ERR);                                          // unknown class
        assertThat(command(ctrl, VIRTIO_NET_CTRL_RX, 17, new byte[] {1})).isEqualTo(VIRTIO_NET_ERR);                      // unknown command
        assertThat(command(ctrl, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, new byte[] {0, 0})).isEqualTo(VIRTIO_NET_ERR); // wrong length
        assertThat(command(ctrl, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, GROUP.bytes())).isEqualTo(VIRTIO_NET_ERR);  // a group address
        byte[] lying = table(List.of(), List.of());
        lying[0] = 100;                                                                                                   // claims 100 entries
        assertThat(command(ctrl, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, lying)).isEqualTo(VIRTIO_NET_ERR);
        assertThat(command(ctrl, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, new byte[] {2, 0})).isEqualTo(VIRTIO_NET_ERR); // MQ not offered
        ctrl.add(List.of(new byte[] {0}), 1);                                                                             // no command byte
        ctrl.add(List.of(new byte[] {0, 0, 1}));                                                                          // no room for the ack
        ctrl.kick();
        assertThat(ctrl.await(VirtioNetTest.TIMEOUT).data()).containsExactly(VIRTIO_NET_ERR);
        assertThat(ctrl.await(VirtioNetTest.TIMEOUT).length()).isZero();

        assertThat(VirtioNetTest.model(dev).counters().get(Counter.CTRL_ERRORS)).isEqualTo(8);
        assertThat(VirtioNetTest.model(dev).control().filter().promisc()).as("still the power-on filter").isTrue();
        assertThat(d).isHealthy();
    }

    @Test
    void anAnnounceRequestIsSetAfterARestoreAndClearedByTheDriversAck(TestMachine m) {
        DeviceInstance dev = m.plug("virtio-net", VirtioNetTest.SLOT, new VirtioNetProvider((id, o) -> fake), "virtio-net", VirtioNetTest.CONFIG);
        VirtioDriver d = m.virtio(VirtioNetTest.SLOT).initialize(VirtioNetTest.SIMPLE, 64, 64, 16);
        dev.swapTo("virtio-net-2", new VirtioNetProvider((id, o) -> new FakeBackend()));
        assertThat(d.readConfig(NetConfigField.STATUS.offset, 2)).isEqualTo(VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE);
        assertThat(m.interrupts()).receivesMsi(d.msiData(0), 1);
        assertThat(command(d.queue(2), VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, new byte[0])).isEqualTo(VIRTIO_NET_OK);
        assertThat(d.readConfig(NetConfigField.STATUS.offset, 2)).isEqualTo(VIRTIO_NET_S_LINK_UP);
    }
}
