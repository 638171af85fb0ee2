package vmm.core.virtio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static vmm.core.virtio.TestRing.WRITE;

import java.util.List;

import org.junit.jupiter.api.Test;

import vmm.core.memory.GuestMemory;
import vmm.core.pci.PciConfigState;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * A virtio-pci transport's snapshot state: restored (after the PCI function's configuration) into a fresh
 * transport over a copy of guest memory, a device the driver had running is active again with the negotiated
 * features, its queue goes on from the saved ring indices, and work the guest offered while the device was held
 * is done exactly once; a state the transport cannot hold is refused naming what is wrong.
 */
class VirtioTransportStateTest {
    @Test
    void aRunningDeviceGoesOnFromItsRingIndicesAndTakesWorkOfferedWhileItWasHeld() {
        try (PciTestbed a = new PciTestbed(); GuestMemory copy = GuestMemory.ofSize(1 << 20)) {
            TestDevice first = TestDevice.simple('A');
            VirtioPciTransport ta = a.plug(3, first);
            PciTestbed.Driver da = a.driver(3);
            TestRing ring = da.start(TestRing.F_EVENT_IDX, 8, 0x1000);
            for (int i = 0; i < 3; i++) {
                ring.desc(i, 0x10000 + 0x100L * i, 4, WRITE, 0);
                ring.publish(i);
                da.notifyQueue(0);
            }
            assertThat(ring.usedIdx()).isEqualTo(3);
            first.serve = false; // held for the snapshot: what the guest offers now waits in the ring
            ring.desc(3, 0x10300, 4, WRITE, 0);
            ring.publish(3);
            da.notifyQueue(0);
            assertThat(ring.usedIdx()).isEqualTo(3);

            DeviceState transport = DeviceState.decode(ta.saveState().encode());
            List<PciConfigState> pci = a.bus.saveConfig();
            byte[] ram = new byte[1 << 20];
            a.memory.read(0, ram, 0, ram.length);
            copy.write(0, ram, 0, ram.length);

            try (PciTestbed b = new PciTestbed(copy)) {
                TestDevice second = TestDevice.simple('B');
                VirtioPciTransport tb = b.plug(3, second);
                b.bus.restoreConfig(pci);
                tb.restoreState(transport);

                assertThat(tb.status()).isEqualTo(ta.status());
                assertThat(second.activations).hasSize(1);
                assertThat(second.activations.getFirst().negotiatedFeatures())
                        .isEqualTo(first.activations.getFirst().negotiatedFeatures());
                TestRing after = new TestRing(copy, 8, 0x1000);
                assertThat(after.usedIdx()).as("the held request, done once, by the restored device").isEqualTo(4);
                assertThat(copy.readU8(0x10300)).isEqualTo('B');
                assertThat(copy.readU8(0x10000)).as("done before the snapshot, not again").isEqualTo('A');
                DeviceState saved = (DeviceState) transport.getList("queues").getFirst();
                DeviceState now = (DeviceState) tb.saveState().getList("queues").getFirst();
                assertThat(List.of(saved.getLong("last-avail"), saved.getLong("used"))).containsExactly(3L, 3L);
                assertThat(List.of(now.getLong("last-avail"), now.getLong("used"))).containsExactly(4L, 4L);
            }
        }
    }

    @Test
    void aStateTheTransportCannotHoldIsRefused() {
        try (PciTestbed a = new PciTestbed()) {
            VirtioPciTransport ta = a.plug(3, TestDevice.simple('A'));
            a.driver(3).start(0, 8, 0x1000);
            DeviceState good = ta.saveState();
            VirtioPciTransport fresh = a.plug(4, TestDevice.simple('B'));
            DeviceState otherDevice = DeviceState.builder(VirtioPciTransport.STATE_TYPE, 1)
                    .put("device-id", 1).putList("queues", List.of()).build();
            assertThatThrownBy(() -> fresh.restoreState(merge(good, otherDevice)))
                    .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("device ID 1");
            DeviceState q = (DeviceState) good.getList("queues").getFirst();
            DeviceState tooBig = DeviceState.builder("queue", 1).put("size", 64).put("vector", 0xffff)
                    .put("enabled", true).put("desc", q.getLong("desc")).put("driver", q.getLong("driver"))
                    .put("device", q.getLong("device")).put("live", true).put("last-avail", 0).put("used", 0).build();
            assertThatThrownBy(() -> fresh.restoreState(merge(good,
                    DeviceState.builder(VirtioPciTransport.STATE_TYPE, 1)
                    .putList("queues", List.of(tooBig)).build())))
                    .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("'size'");
            DeviceState outside = DeviceState.builder("queue", 1).put("size", 8).put("vector", 0xffff)
                    .put("enabled", true).put("desc", 0x7fff_f000L).put("driver", 0x7fff_f800L)
                    .put("device", 0x7fff_fc00L).put("live", true).put("last-avail", 0).put("used", 0).build();
            assertThatThrownBy(() -> fresh.restoreState(merge(good,
                    DeviceState.builder(VirtioPciTransport.STATE_TYPE, 1)
                    .putList("queues", List.of(outside)).build())))
                    .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("not in guest RAM");
            assertThat(fresh.status()).as("nothing taken from a refused state").isZero();
        }
    }

    /** {@code base} with the fields {@code over} has replaced. */
    private static DeviceState merge(DeviceState base, DeviceState over) {
        DeviceState.Builder b = DeviceState.builder(base.type(), base.version());
        for (String n : base.names()) {
            if (over.has(n)) {
                if (n.equals("queues")) b.putList(n, over.getList(n));
                else b.put(n, over.getLong(n));
            } else if (n.equals("queues")) {
                b.putList(n, base.getList(n));
            } else {
                b.put(n, base.getLong(n));
            }
        }
        return b.build();
    }
}
