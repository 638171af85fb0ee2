package device.viona;

import static device.virtio_net.protocol.VirtioNetSpec.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static vmm.testing.VmmAssertions.assertThat;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import device.virtio_net.protocol.MacAddress;
import device.virtio_net.protocol.NetFeatures;
import device.virtio_net.protocol.NetHeader;
import vmm.core.machine.DeviceInstance;
import vmm.testing.DriverQueue;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;
import vmm.testing.VirtioDriver;
import device.virtio_net.fixtures.Frames;
import device.virtio_net.fixtures.HostNet;

/** viona on a real multi-queue TAP in a network namespace, with the host's offloads negotiated. */
@ExtendWith(TestMachineExtension.class)
class RealTapTest {
    @Test
    void aMultiQueueTapWithOffloadsAnswersTheGuestsArpOnSomeQueue(TestMachine m) throws Exception {
        String missing = HostNet.missing();
        assumeTrue(missing == null, () -> "cannot run: " + missing);
        String tap = "vvt" + Integer.toHexString((int) (System.nanoTime() & 0xfffff));
        try (HostNet net = new HostNet()) {
            DeviceInstance dev = m.plug("virtio-net", VionaTest.SLOT, new VionaProvider(), "viona",
                    Map.of("tap", tap, "mac", Frames.GUEST.toString(), "queues", 2, "vhost-net", "off"));
            net.adopt(tap, "10.199.8.1/24");
            long offered = m.virtio(VionaTest.SLOT).deviceFeatures();
            assertThat(offered & NetFeatures.bits(VIRTIO_NET_F_CSUM, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_GUEST_TSO4))
                    .as("this host's tun driver takes checksum and TSO offloads").isEqualTo(NetFeatures.bits(VIRTIO_NET_F_CSUM, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_GUEST_TSO4));
            VirtioDriver d = m.virtio(VionaTest.SLOT).initialize(offered, 64, 64, 64, 64, 16);
            byte[] two = {VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 2, 0};
            d.queue(4).add(List.of(two), 1);
            d.queue(4).kick();
            assertThat(d.queue(4).await(VionaTest.TIMEOUT).data()).containsExactly(VIRTIO_NET_OK);
            for (int rxq : new int[] {0, 2}) {
                for (int i = 0; i < 16; i++) d.queue(rxq).add(List.of(), 65562);
                d.queue(rxq).kick();
            }
            d.queue(1).add(List.of(Frames.tx(NetHeader.PLAIN, arp(Frames.GUEST, new byte[] {10, (byte) 199, 8, 2}, new byte[] {10, (byte) 199, 8, 1}))));
            d.queue(1).kick();
            d.queue(1).await(VionaTest.TIMEOUT);

            byte[] reply = null;
            // A hang guard: the reply comes or never does.
            long deadline = System.nanoTime() + VionaTest.TIMEOUT.toNanos();
            while (reply == null && System.nanoTime() < deadline) {
                for (int rxq : new int[] {0, 2}) {
                    DriverQueue.Completion c = d.queue(rxq).poll();
                    if (c == null) continue;
                    ByteBuffer b = ByteBuffer.wrap(c.data());
                    if (c.length() >= 12 + 42 && b.getShort(24) == 0x0806 && b.getShort(32) == 2) reply = c.data();
                }
                Thread.sleep(1);
            }
            assertThat(reply).as("an ARP reply on one of the two receive queues").isNotNull();
            assertThat(MacAddress.of(reply, 12)).isEqualTo(Frames.GUEST);
            assertThat(d).isHealthy();
            dev.model().stop();
        }
    }

    static byte[] arp(MacAddress from, byte[] fromIp, byte[] toIp) {
        ByteBuffer b = ByteBuffer.allocate(60);
        b.put(MacAddress.BROADCAST.bytes()).put(from.bytes()).putShort((short) 0x0806);
        b.putShort((short) 1).putShort((short) 0x0800).put((byte) 6).put((byte) 4).putShort((short) 1);
        b.put(from.bytes()).put(fromIp).put(new byte[6]).put(toIp);
        return b.array();
    }
}
