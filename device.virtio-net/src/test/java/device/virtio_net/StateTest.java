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

    /** A saved state as a snapshot file could hold it, {@code field} replaced by {@code value}. */
    private static DeviceState hostile(DeviceState good, String field, Object value) {
        DeviceState.Builder b = DeviceState.builder(good.type(), good.version());
        for (String n : good.names()) {
            Object v = n.equals(field) ? value : switch (n) {
                case "mac" -> good.getBytes(n);
                case "mac-table-unicast", "mac-table-multicast", "counters", "rx-pending" -> good.getList(n);
                default -> good.getLong(n);
            };
            switch (v) {
                case Long l -> b.put(n, l);
                case Integer i -> b.put(n, i);
                case byte[] bytes -> b.put(n, bytes);
                case String str -> b.put(n, str);
                case List<?> l -> b.putList(n, l);
                default -> throw new IllegalArgumentException(String.valueOf(v));
            }
        }
        return DeviceState.decode(b.build().encode());
    }

    @Test
    void aHostileStateIsRefusedNamingTheFieldAndTheModelKeepsItsOwn() {
        NetModel model = (NetModel) new VirtioNetProvider((id, o) -> new FakeBackend()).create(ConfigurationTest.context(VirtioNetTest.CONFIG));
        DeviceState good = model.saveState();
        Map<String, Object[]> cases = new java.util.LinkedHashMap<>();
        cases.put("mac is 2 bytes", new Object[] {"mac", new byte[2]});
        cases.put("status=0x", new Object[] {"status", 0x80L});
        cases.put("rx-mode=0x", new Object[] {"rx-mode", 0x100L});
        cases.put("'rx-mode'", new Object[] {"rx-mode", 1L << 40});
        cases.put("mac-table-unicast holds 65", new Object[] {"mac-table-unicast", java.util.Collections.nCopies(65, new byte[6])});
        cases.put("mac-table-multicast is 7 bytes", new Object[] {"mac-table-multicast", List.of(new byte[7])});
        cases.put("mac-table-unicast holds x", new Object[] {"mac-table-unicast", List.of("x")});
        cases.put("queue-pairs=0", new Object[] {"queue-pairs", 0L});
        cases.put("queue-pairs=9", new Object[] {"queue-pairs", 9L});
        cases.put("counters holds -1", new Object[] {"counters", List.of(-1L)});
        cases.put("counters holds many", new Object[] {"counters", List.of("many")});
        cases.put("a frame of 70000 bytes", new Object[] {"rx-pending", List.of(new byte[70_000])});
        cases.put("rx-pending holds frame", new Object[] {"rx-pending", List.of("frame")});
        cases.put("rx-pending holds 4097 frames", new Object[] {"rx-pending", java.util.Collections.nCopies(4097, new byte[60])});
        for (Map.Entry<String, Object[]> c : cases.entrySet()) {
            DeviceState bad = hostile(good, (String) c.getValue()[0], c.getValue()[1]);
            assertThatThrownBy(() -> model.restoreState(bad)).as(c.getKey())
                    .isInstanceOf(IncompatibleStateException.class).hasMessageContaining(c.getKey())
                    .hasMessageNotContaining("\n");
        }
        assertThat(model.saveState()).as("nothing adopted").isEqualTo(good);
        model.stop();
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
