package device.virtio_net;

import static device.virtio_net.protocol.VirtioNetSpec.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static vmm.testing.VmmAssertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import device.virtio_net.backend.BackendSpec;
import device.virtio_net.backend.Backends;
import device.virtio_net.protocol.MacAddress;
import device.virtio_net.protocol.NetHeader;
import vmm.core.machine.DeviceInstance;
import vmm.core.pci.PciAddress;
import vmm.testing.DriverQueue;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;
import vmm.testing.VirtioDriver;
import device.virtio_net.fixtures.Frames;
import device.virtio_net.fixtures.HostNet;

/** The real back ends: a Unix datagram cable between two machines, and a TAP in a network namespace. */
@ExtendWith(TestMachineExtension.class)
class RealBackendTest {
    private static final Duration TIMEOUT = VirtioNetTest.TIMEOUT;
    @TempDir
    Path dir;

    @Test
    void twoDevicesLinkedByDatagramSocketsExchangeFramesInOrder(TestMachine a) {
        try (TestMachine b = TestMachine.create()) {
            Path sa = dir.resolve("a.sock"), sb = dir.resolve("b.sock");
            a.plug("virtio-net", VirtioNetTest.SLOT, new VirtioNetProvider(), "virtio-net", Map.of("dgram", sa.toString(), "peer", sb.toString()));
            b.plug("virtio-net", VirtioNetTest.SLOT, new VirtioNetProvider(), "virtio-net",
                    Map.of("dgram", sb.toString(), "peer", sa.toString(), "mac", Frames.GUEST.toString()));
            VirtioDriver da = a.virtio(VirtioNetTest.SLOT).initialize(VirtioNetTest.SIMPLE, 64, 64, 16);
            VirtioDriver db = b.virtio(VirtioNetTest.SLOT).initialize(VirtioNetTest.SIMPLE, 64, 64, 16);
            DriverQueue rx = db.queue(0), tx = da.queue(1);
            for (int i = 0; i < 40; i++) rx.add(List.of(), 1526);
            rx.kick();
            List<Integer> got = new ArrayList<>();
            // Batches smaller than the host's datagram queue (net.unix.max_dgram_qlen, 10 by default).
            for (int batch = 0; batch < 8; batch++) {
                for (int i = 0; i < 5; i++) tx.add(List.of(Frames.tx(NetHeader.PLAIN, Frames.toGuest(batch * 5 + i, 100 + i))));
                tx.kick();
                for (int i = 0; i < 5; i++) tx.await(TIMEOUT);
                for (int i = 0; i < 5; i++) got.add(Frames.seq(rx.await(TIMEOUT).data(), true));
            }
            List<Integer> expected = new ArrayList<>();
            for (int i = 0; i < 40; i++) expected.add(i);
            assertThat(got).isEqualTo(expected);
        }
    }

    @Test
    void aTapInANetworkNamespaceAnswersTheGuestsArpRequest(TestMachine m) throws Exception {
        String missing = HostNet.missing();
        assumeTrue(missing == null, () -> "cannot run: " + missing);
        String tap = "vnt" + Integer.toHexString((int) (System.nanoTime() & 0xfffff));
        try (HostNet net = new HostNet()) {
            DeviceInstance dev = m.plug("virtio-net", VirtioNetTest.SLOT, new VirtioNetProvider(), "virtio-net",
                    Map.of("tap", tap, "mac", Frames.GUEST.toString()));
            net.adopt(tap, "10.199.7.1/24");
            VirtioDriver d = m.virtio(VirtioNetTest.SLOT).initialize(VirtioNetTest.SIMPLE | (1L << VIRTIO_NET_F_MRG_RXBUF), 64, 64, 16);
            for (int i = 0; i < 32; i++) d.queue(0).add(List.of(), 1526);
            d.queue(0).kick();
            d.queue(1).add(List.of(Frames.tx(NetHeader.PLAIN, arpRequest(Frames.GUEST, new byte[] {10, (byte) 199, 7, 2}, new byte[] {10, (byte) 199, 7, 1}))));
            d.queue(1).kick();
            d.queue(1).await(TIMEOUT);

            byte[] reply = null;
            for (int i = 0; i < 32 && reply == null; i++) {
                byte[] f = d.queue(0).await(TIMEOUT).data();
                ByteBuffer b = ByteBuffer.wrap(f);
                if (f.length >= 12 + 42 && b.getShort(12 + 12) == 0x0806 && b.getShort(12 + 20) == 2) reply = f;
            }
            assertThat(reply).as("an ARP reply from the namespace").isNotNull();
            assertThat(MacAddress.of(reply, 12)).isEqualTo(Frames.GUEST);
            assertThat(java.util.Arrays.copyOfRange(reply, 12 + 28, 12 + 32)).containsExactly(10, (byte) 199, 7, 1);
            assertThat(d).isHealthy();
            dev.model().stop();
        }
        assertThat(Backends.isOpen(new BackendSpec.Tap(tap))).isFalse();
    }

    static byte[] arpRequest(MacAddress from, byte[] fromIp, byte[] toIp) {
        ByteBuffer b = ByteBuffer.allocate(60);
        b.put(MacAddress.BROADCAST.bytes()).put(from.bytes()).putShort((short) 0x0806);
        b.putShort((short) 1).putShort((short) 0x0800).put((byte) 6).put((byte) 4).putShort((short) 1);
        b.put(from.bytes()).put(fromIp).put(new byte[6]).put(toIp);
        return b.array();
    }
}
