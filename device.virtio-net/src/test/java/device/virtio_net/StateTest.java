package device.virtio_net;

import static device.virtio_net.protocol.VirtioNetSpec.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import device.virtio_net.model.NetModel;
import device.virtio_net.protocol.NetCounters.Counter;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;
import vmm.core.machine.DeviceInstance;
import vmm.testing.DriverQueue;
import vmm.testing.HangGuard;
import vmm.testing.TestMachine;
import vmm.testing.TestMachineExtension;
import vmm.testing.VirtioDriver;
import device.virtio_net.fixtures.FakeBackend;
import device.virtio_net.fixtures.Frames;

/** What a swap or a snapshot carries: MAC, status, filter, counters and undelivered frames. */
@ExtendWith(TestMachineExtension.class)
class StateTest {
    final FakeBackend fake = new FakeBackend();

    @Test
    void saveAndRestoreCarryMacFilterCountersAndUndeliveredFrames(TestMachine m) throws InterruptedException {
        DeviceInstance dev = m.plug("virtio-net", VirtioNetTest.SLOT, new VirtioNetProvider((id, o) -> fake), "virtio-net", VirtioNetTest.CONFIG);
        VirtioDriver d = m.virtio(VirtioNetTest.SLOT).initialize(VirtioNetTest.SIMPLE | (1L << VIRTIO_NET_F_MRG_RXBUF), 64, 64, 16);
        DriverQueue ctrl = d.queue(2), rx = d.queue(0);
        ControlQueueTest.command(ctrl, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, ControlQueueTest.OTHER.bytes());
        ControlQueueTest.command(ctrl, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, new byte[] {0});
        ControlQueueTest.command(ctrl, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
                ControlQueueTest.table(List.of(Frames.GUEST), List.of(ControlQueueTest.GROUP)));
        // A 1000-byte frame against one 512-byte buffer: read from the back end, held for more buffers.
        rx.add(List.of(), 512);
        rx.kick();
        fake.inject(Frames.frame(ControlQueueTest.OTHER, Frames.HOST, 42, 1000));
        NetModel old = VirtioNetTest.model(dev);
        HangGuard.await(fake.inbound::isEmpty, "the data path read the frame from the back end");
        old.pause();
        DeviceState s = old.saveState();
        old.resume();

        NetModel fresh = (NetModel) new VirtioNetProvider((id, o) -> new FakeBackend()).create(ConfigurationTest.context(VirtioNetTest.CONFIG));
        fresh.restoreState(DeviceState.decode(s.encode()));
        assertThat(fresh.control().mac()).isEqualTo(ControlQueueTest.OTHER);
        assertThat(fresh.control().filter()).isEqualTo(old.control().filter());
        assertThat(fresh.counters().get(Counter.RX_STALLS)).isEqualTo(old.counters().get(Counter.RX_STALLS)).isPositive();
        assertThat(fresh.dataPath().pendingFrames()).hasSize(1);
        assertThat(Frames.seq(fresh.dataPath().pendingFrames().get(0), true)).isEqualTo(42);
        assertThat(rx.poll()).as("the held buffer went back empty at the pause").isNotNull().extracting(DriverQueue.Completion::length).isEqualTo(0);
        fresh.stop();
    }

    @Test
    void stateOfAnotherDeviceTypeIsRefused() {
        NetModel model = (NetModel) new VirtioNetProvider((id, o) -> new FakeBackend()).create(ConfigurationTest.context(VirtioNetTest.CONFIG));
        assertThatThrownBy(() -> model.restoreState(DeviceState.builder("virtio-blk", 1).build())).isInstanceOf(IncompatibleStateException.class);
        model.stop();
    }

    @Test
    void aDeviceResetForgetsTheFilterButKeepsTheConfiguredMac(TestMachine m) {
        DeviceInstance dev = m.plug("virtio-net", VirtioNetTest.SLOT, new VirtioNetProvider((id, o) -> fake), "virtio-net", Map.of("tap", "x", "mac", "52:54:00:00:00:07"));
        VirtioDriver d = m.virtio(VirtioNetTest.SLOT).initialize(VirtioNetTest.SIMPLE, 64, 64, 16);
        ControlQueueTest.command(d.queue(2), VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, ControlQueueTest.OTHER.bytes());
        ControlQueueTest.command(d.queue(2), VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, new byte[] {0});
        d.reset();
        NetModel model = VirtioNetTest.model(dev);
        assertThat(model.control().mac().toString()).isEqualTo("52:54:00:00:00:07");
        assertThat(model.control().filter().promisc()).isTrue();
    }
}
