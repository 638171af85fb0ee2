package vmm.testing;

import static vmm.testing.VmmAssertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import vmm.core.memory.GuestMemory;
import vmm.core.pci.PciAddress;
import vmm.core.virtio.VirtioFeatures;

/**
 * A guest that breaks the virtio rules: each case must end with the device
 * in DEVICE_NEEDS_RESET, a second device on the same machine still serving,
 * and the broken device working again after the driver resets it.
 */
@ExtendWith(TestMachineExtension.class)
class HostileGuestTest {
    private static final PciAddress VICTIM = PciAddress.slot(4), BYSTANDER = PciAddress.slot(5);
    private static final Duration WAIT = HangGuard.BOUND; // a hang guard: each wait returns once the state is there
    private static final int F = DriverQueue.VIRTQ_DESC_F_NEXT, W = DriverQueue.VIRTQ_DESC_F_WRITE, I = DriverQueue.VIRTQ_DESC_F_INDIRECT;
    private static final long INDIRECT = VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC);

    private void attack(TestMachine m, Consumer<DriverQueue> hostile) {
        m.plug(EchoDevice.TYPE, VICTIM, EchoDevice.provider('v', 0));
        m.plug(EchoDevice.TYPE, BYSTANDER, EchoDevice.provider('b', 0));
        VirtioDriver victim = m.virtio(VICTIM).initialize(INDIRECT, 8);
        VirtioDriver bystander = m.virtio(BYSTANDER).initialize(INDIRECT, 8);

        hostile.accept(victim.queue(0));
        victim.queue(0).kick();

        assertThat(victim).needsReset();
        assertThat(m.interrupts()).receivesMsi(victim.msiData(0), 1);
        echoes(bystander, (byte) 'b');
        victim.initialize(INDIRECT, 8);
        echoes(victim, (byte) 'v');
    }

    private static void echoes(VirtioDriver d, byte tag) {
        DriverQueue q = d.queue(0);
        q.add(List.of(new byte[] {1, 2, 3}), 8);
        q.kick();
        assertThat(q.await(WAIT)).hasLength(4).hasData(new byte[] {tag, 1, 2, 3});
        assertThat(d).isHealthy();
    }

    private static long buffer(DriverQueue q, TestMachine m) {
        return m.allocator().allocate(64, 8);
    }

    @Test
    void aDescriptorLoopNeedsReset(TestMachine m) {
        attack(m, q -> {
            long b = m.allocator().allocate(64, 8);
            q.writeDescriptor(0, b, 16, F, 1);
            q.writeDescriptor(1, b + 16, 16, F, 0);
            q.publish(0);
        });
    }

    @Test
    void aNextIndexBeyondTheQueueNeedsReset(TestMachine m) {
        attack(m, q -> {
            q.writeDescriptor(0, buffer(q, m), 16, F, 8);
            q.publish(0);
        });
    }

    @Test
    void aHeadBeyondTheQueueNeedsReset(TestMachine m) {
        attack(m, q -> q.publish(200));
    }

    @Test
    void anIndirectTableInsideAnIndirectTableNeedsReset(TestMachine m) {
        attack(m, q -> {
            long inner = m.allocator().allocate(32, 16);
            long outer = m.allocator().allocate(32, 16);
            q.writeDescriptorAt(inner, 0, buffer(q, m), 16, W, 0);
            q.writeDescriptorAt(outer, 0, inner, 16, I, 0);
            q.writeDescriptor(0, outer, 16, I, 0);
            q.publish(0);
        });
    }

    @Test
    void aLoopInsideAnIndirectTableNeedsReset(TestMachine m) {
        attack(m, q -> {
            long table = m.allocator().allocate(64, 16);
            long b = buffer(q, m);
            q.writeDescriptorAt(table, 0, b, 8, F, 1);
            q.writeDescriptorAt(table, 1, b + 8, 8, F, 0);
            q.writeDescriptor(0, table, 32, I, 0);
            q.publish(0);
        });
    }

    @Test
    void anIndirectTableOfABadLengthNeedsReset(TestMachine m) {
        attack(m, q -> {
            long table = m.allocator().allocate(64, 16);
            q.writeDescriptorAt(table, 0, buffer(q, m), 8, W, 0);
            q.writeDescriptor(0, table, 20, I, 0);
            q.publish(0);
        });
    }

    @Test
    void aZeroLengthBufferNeedsReset(TestMachine m) {
        attack(m, q -> {
            q.writeDescriptor(0, buffer(q, m), 0, W, 0);
            q.publish(0);
        });
    }

    @Test
    void aBufferPastTheEndOfRamNeedsReset(TestMachine m) {
        attack(m, q -> {
            q.writeDescriptor(0, TestMachine.DEFAULT_MEMORY - 8, 16, W, 0);
            q.publish(0);
        });
    }

    @Test
    void aBufferAtAHugeAddressThatWouldOverflowNeedsReset(TestMachine m) {
        attack(m, q -> {
            q.writeDescriptor(0, -8L, 16, W, 0);
            q.publish(0);
        });
    }

    @Test
    void aReadableBufferAfterAWritableOneNeedsReset(TestMachine m) {
        attack(m, q -> {
            long b = buffer(q, m);
            q.writeDescriptor(0, b, 8, W | F, 1);
            q.writeDescriptor(1, b + 8, 8, 0, 0);
            q.publish(0);
        });
    }

    @Test
    void anAvailableIndexThatJumpsPastTheQueueSizeNeedsReset(TestMachine m) {
        attack(m, q -> q.setAvailIndex(9));
    }

    @Test
    void aBufferAcrossTheEdgeOfTwoRamRegionsNeedsReset() {
        GuestMemory mem = GuestMemory.builder().ram("low", 0, 8 << 20).ram("high", 8 << 20, 8 << 20).build();
        try (TestMachine m = TestMachine.create(mem)) {
            attack(m, q -> {
                q.writeDescriptor(0, (8 << 20) - 8, 16, W, 0);
                q.publish(0);
            });
        }
    }

    @Test
    void aQueueSizeThatIsNotAPowerOfTwoNeedsResetAndLeavesTheQueueDisabled(TestMachine m) {
        m.plug(EchoDevice.TYPE, VICTIM, EchoDevice.provider('v', 0));
        VirtioDriver d = m.virtio(VICTIM);
        d.negotiate(0);
        d.setupQueue(0, 6);

        assertThat(d).needsReset();
        d.commonWrite(VirtioDriver.QUEUE_SELECT, 2, 0);
        assertThat(d.commonRead(VirtioDriver.QUEUE_ENABLE, 2)).isZero();
    }

    @Test
    void aQueueSizeAboveTheMaximumNeedsReset(TestMachine m) {
        m.plug(EchoDevice.TYPE, VICTIM, EchoDevice.provider('v', 0));
        VirtioDriver d = m.virtio(VICTIM);
        d.negotiate(0);
        d.setupQueue(0, 1024);

        assertThat(d).needsReset();
    }

    @Test
    void aNotifyForAQueueThatDoesNotExistNeedsReset(TestMachine m) {
        attack(m, q -> m.virtio(VICTIM).notifyRaw(7));
    }

    @Test
    void aNotifyBeforeTheQueueIsEnabledNeedsReset(TestMachine m) {
        m.plug(EchoDevice.TYPE, VICTIM, EchoDevice.provider('v', 0));
        VirtioDriver d = m.virtio(VICTIM);
        d.negotiate(0);
        d.driverOk();
        d.notifyRaw(0);

        assertThat(d).needsReset();
    }

    @Test
    void featuresTheDeviceDidNotOfferAreRefused(TestMachine m) {
        m.plug(EchoDevice.TYPE, VICTIM, EchoDevice.provider('v', 0));
        VirtioDriver d = m.virtio(VICTIM);

        assertThat(d.tryNegotiate(VirtioFeatures.bit(VirtioFeatures.VERSION_1) | VirtioFeatures.bit(VirtioFeatures.RING_PACKED))).isFalse();
        assertThat(d.tryNegotiate(0)).as("a modern device requires VERSION_1").isFalse();
        assertThat(d.tryNegotiate(VirtioFeatures.bit(VirtioFeatures.VERSION_1))).isTrue();
    }
}
