package vmm.core.virtio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static vmm.core.virtio.TestRing.WRITE;
import static vmm.core.virtio.VirtioFeatures.*;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vmm.core.Await;
import vmm.core.device.SwapGate;

/** The swap gate around calls into the device, and replacing the device under a running driver. */
class VirtioPciSwapTest {
    private final PciTestbed t = new PciTestbed();

    @AfterEach
    void close() {
        t.close();
    }

    @Test
    void anAccessToAClosedGateWaitsForTheBoundThenReadsAllOnesAndDropsWrites() throws Exception {
        SwapGate gate = new SwapGate(150);
        TestDevice dev = TestDevice.simple('e');
        t.plug(3, dev, false, gate);
        PciTestbed.Driver d = t.driver(3);
        d.writeConfig(0, 4, 0x11223344);

        gate.close();
        try {
            long start = System.nanoTime();
            long read = CompletableFuture.supplyAsync(() -> d.readConfig(0, 4))
                    .get(Await.BOUND.toSeconds(), TimeUnit.SECONDS);
            long waitedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            CompletableFuture.runAsync(() -> d.writeConfig(0, 4, 0x55667788))
                    .get(Await.BOUND.toSeconds(), TimeUnit.SECONDS);
            int status = CompletableFuture.supplyAsync(d::status).get(Await.BOUND.toSeconds(), TimeUnit.SECONDS);

            assertThat(read).isEqualTo(0xffff_ffffL);
            assertThat(waitedMillis).isGreaterThanOrEqualTo(140);
            assertThat(status).as("registers that do not call the device do not wait").isZero();
        } finally {
            gate.open();
        }
        assertThat(d.readConfig(0, 4)).as("the write was dropped").isEqualTo(0x11223344L);
        assertThat(gate.timedOutAccesses()).isEqualTo(2);
    }

    @Test
    void anAccessWaitingAtTheGateProceedsWhenItOpens() throws Exception {
        SwapGate gate = new SwapGate(Await.BOUND.toMillis());
        TestDevice dev = TestDevice.simple('e');
        t.plug(3, dev, false, gate);
        PciTestbed.Driver d = t.driver(3);
        TestRing ring = d.start(0, 8, 0x1000);
        ring.desc(0, 0x10000, 4, WRITE, 0);
        ring.publish(0);

        gate.close();
        Thread kick = Thread.ofPlatform().start(() -> d.notifyQueue(0));
        Await.untilWaiting(kick);
        assertThat(kick.isAlive()).as("held at the gate").isTrue();
        assertThat(gate.timedOutAccesses()).isZero();
        gate.open();
        kick.join(Await.BOUND);
        assertThat(kick.isAlive()).isFalse();

        assertThat(ring.usedIdx()).isEqualTo(1);
    }

    @Test
    void aStatusWriteAtAClosedGateIsDropped() throws Exception {
        SwapGate gate = new SwapGate(50);
        TestDevice dev = TestDevice.simple('e');
        t.plug(3, dev, false, gate);
        PciTestbed.Driver d = t.driver(3);

        gate.close();
        try {
            CompletableFuture.runAsync(() -> d.status(STATUS_ACKNOWLEDGE))
                    .get(Await.BOUND.toSeconds(), TimeUnit.SECONDS);
        } finally {
            gate.open();
        }

        assertThat(d.status()).isZero();
    }

    @Test
    void aReplacementIsActivatedWithTheSameContextAndPicksUpWorkOfferedDuringTheSwap() {
        SwapGate gate = new SwapGate();
        TestDevice first = TestDevice.simple('A'), second = TestDevice.simple('B');
        VirtioPciTransport tr = t.plug(3, first, false, gate);
        PciTestbed.Driver d = t.driver(3);
        TestRing ring = d.start(0, 8, 0x1000);
        VirtioContext ctx = tr.context();

        gate.close();
        first.serve = false; // a paused device takes no work
        ring.desc(0, 0x10000, 4, WRITE, 0);
        ring.publish(0);
        tr.replaceDevice(second);
        gate.open();
        tr.kickEnabledQueues();

        assertThat(tr.device()).isSameAs(second);
        assertThat(second.activations).containsExactly(ctx);
        assertThat(second.notifies).containsExactly(0);
        assertThat(ring.usedIdx()).isEqualTo(1);
        assertThat(t.memory.readU8(0x10000)).isEqualTo('B');
        assertThat(tr.context()).isSameAs(ctx);
    }

    @Test
    void aReplacementOfAnInactiveDeviceIsNotActivated() {
        TestDevice first = TestDevice.simple('A'), second = TestDevice.simple('B');
        VirtioPciTransport tr = t.plug(3, first);
        PciTestbed.Driver d = t.driver(3);
        d.negotiate(bit(VERSION_1));

        tr.replaceDevice(second);
        tr.kickEnabledQueues();

        assertThat(second.activations).isEmpty();
        assertThat(second.notifies).isEmpty();
        d.setupQueue(0, 8, 0x1000);
        d.driverOk();
        assertThat(second.activations).hasSize(1);
        assertThat(first.activations).isEmpty();
    }

    @Test
    void aReplacementOfADeviceThatNeedsResetIsNotActivated() {
        TestDevice first = TestDevice.simple('A'), second = TestDevice.simple('B');
        VirtioPciTransport tr = t.plug(3, first);
        PciTestbed.Driver d = t.driver(3);
        d.start(0, 8, 0x1000);
        d.notifyQueue(4);

        tr.replaceDevice(second);

        assertThat(second.activations).isEmpty();
    }

    @Test
    void aReplacementOfAnotherShapeIsRefused() {
        VirtioPciTransport tr = t.plug(3, TestDevice.simple('A'));
        PciTestbed.Driver d = t.driver(3);
        d.start(0, 16, 0x1000);

        assertThatThrownBy(() -> tr.replaceDevice(new TestDevice(63, 2, 16, 0, 8, 'x')))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> tr.replaceDevice(new TestDevice(63, 1, 8, 0, 8, 'x')))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("queue 0");
        assertThat(tr.device().deviceId()).isEqualTo(63);
    }
}
