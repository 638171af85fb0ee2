package device.viona;

import static device.virtio_net.protocol.VirtioNetSpec.*;
import static vmm.testing.VmmAssertions.assertThat;
import static vmm.testing.VmmAssertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import device.virtio_net.VirtioNetProvider;
import device.virtio_net.protocol.NetConfigField;
import device.virtio_net.protocol.NetFeatures;
import device.virtio_net.protocol.NetHeader;
import vmm.core.machine.DeviceInstance;
import vmm.testing.DriverQueue;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;
import vmm.testing.VirtioDriver;
import device.virtio_net.fixtures.FakeBackend;
import device.virtio_net.fixtures.Frames;

/** virtio-net and viona are one device to the guest: each takes over from the other under traffic. */
@ExtendWith(TestMachineExtension.class)
class SwapTest {
    final FakeBackend fake = new FakeBackend(1, NetFeatures.OFFLOADS);

    @Test
    void swapsVirtioNetToVionaAndBackUnderTrafficLosingNoDescriptorAndKeepingTheLink(TestMachine m) {
        DeviceInstance dev = m.plug("virtio-net", VionaTest.SLOT, new VirtioNetProvider((id, o) -> fake), "virtio-net",
                VionaTest.config("offload", "false"));
        VirtioDriver d = m.virtio(VionaTest.SLOT).initialize(VionaTest.SIMPLE | NetFeatures.bit(VIRTIO_NET_F_MRG_RXBUF)
                | NetFeatures.bit(vmm.core.virtio.VirtioFeatures.RING_EVENT_IDX), 256, 256, 16);
        DriverQueue rx = d.queue(0), tx = d.queue(1);
        int sentTx = 0, injected = 0;
        Set<Integer> txHeads = new HashSet<>();
        List<Integer> received = new ArrayList<>();
        int rxPosted = 0;
        String[] order = {"viona", "virtio-net", "viona", "virtio-net"};
        for (String next : order) {
            for (int i = 0; i < 60; i++, sentTx++) txHeads.add(tx.add(List.of(Frames.tx(NetHeader.PLAIN, Frames.frame(Frames.HOST, Frames.GUEST, sentTx, 80)))));
            for (int i = 0; i < 60; i++, injected++) fake.inject(Frames.toGuest(injected, 90));
            for (int i = 0; i < 50; i++, rxPosted++) rx.add(List.of(), 1526);
            tx.kick();
            rx.kick();
            dev.swapTo(next, next.equals("viona") ? new VionaProvider((id, o) -> fake, VionaTest.NO_VHOST) : new VirtioNetProvider((id, o) -> fake));
            assertThat(d.readConfig(NetConfigField.STATUS.offset, 2) & VIRTIO_NET_S_LINK_UP).as("link up after the swap to %s", next).isNotZero();
            reap(tx, txHeads);
            while (received.size() < rxPosted) received.add(Frames.seq(rx.await(VionaTest.TIMEOUT).data(), true));
        }
        for (int i = 0; i < 10 * 4 + 10; i++, rxPosted++) rx.add(List.of(), 1526);
        rx.kick();
        while (received.size() < injected) received.add(Frames.seq(rx.await(VionaTest.TIMEOUT).data(), true));

        List<Integer> sentSeqs = fake.sent().stream().map(s -> Frames.seq(s.frame(), false)).toList();
        List<Integer> all = new ArrayList<>();
        for (int i = 0; i < sentTx; i++) all.add(i);
        assertThat(sentSeqs).as("every transmit sent once, in order").isEqualTo(all);
        all.clear();
        for (int i = 0; i < injected; i++) all.add(i);
        assertThat(received).as("every received frame delivered once, in order").isEqualTo(all);
        assertThat(dev.swapCount()).isEqualTo(4);
        assertThat(dev.implementation()).isEqualTo("virtio-net");
        assertThat(d).isHealthy();
    }

    private static void reap(DriverQueue tx, Set<Integer> heads) {
        while (!heads.isEmpty()) {
            DriverQueue.Completion c = tx.await(VionaTest.TIMEOUT);
            assertThat(heads.remove(c.head())).as("head %d completed once", c.head()).isTrue();
        }
    }

    @Test
    void aSwapToADifferentlyConfiguredDeviceIsRefusedAndTheOldOneKeepsServing(TestMachine m) {
        // virtio-net defaults to no offloads, viona to offloads: the guest negotiated what viona must then offer.
        DeviceInstance dev = m.plug("virtio-net", VionaTest.SLOT, new VionaProvider((id, o) -> fake, VionaTest.NO_VHOST), "viona", VionaTest.config());
        VirtioDriver d = m.virtio(VionaTest.SLOT).initialize(VionaTest.SIMPLE | NetFeatures.OFFLOADS, 64, 64, 16);
        assertThatThrownBy(() -> dev.swapTo("virtio-net", new VirtioNetProvider((id, o) -> fake))).hasMessageContaining("does not match");
        assertThat(dev.implementation()).isEqualTo("viona");
        d.queue(1).add(List.of(Frames.tx(NetHeader.PLAIN, Frames.frame(Frames.HOST, Frames.GUEST, 1, 60))));
        d.queue(1).kick();
        d.queue(1).await(VionaTest.TIMEOUT);
        assertThat(fake.sent()).hasSize(1);
    }
}
