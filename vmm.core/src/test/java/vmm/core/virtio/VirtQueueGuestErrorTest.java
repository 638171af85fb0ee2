package vmm.core.virtio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static vmm.core.virtio.TestRing.F_INDIRECT;
import static vmm.core.virtio.TestRing.INDIRECT;
import static vmm.core.virtio.TestRing.NEXT;
import static vmm.core.virtio.TestRing.WRITE;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

import vmm.core.memory.GuestMemory;

/**
 * Every rule of section 2.7 a hostile driver can break: each must throw
 * {@link VirtqueueException}, report the reason once through the error
 * callback, and leave the queue broken so that later pops throw again.
 */
class VirtQueueGuestErrorTest {
    private static final long BUF = 0x10000, TABLE = 0x8000;

    @AutoClose
    private final GuestMemory memory = GuestMemory.ofSize(1 << 20);
    private final TestRing ring = new TestRing(memory, 8, 0x1000);

    /** Pops, expecting a guest error naming {@code reason}; checks the report and that the queue stays broken. */
    private void assertGuestError(TestRing r, VirtQueue q, String reason) {
        assertThatThrownBy(q::pop).isInstanceOf(VirtqueueException.class).hasMessageContaining(reason);
        assertThat(r.errors).hasSize(1);
        assertThat(r.errors.getFirst()).startsWith("queue 0: ").contains(reason);
        assertThat(q.error()).isEqualTo(r.errors.getFirst());
        assertThat(q.outstanding()).isZero();

        // A well-formed chain offered afterwards changes nothing: the driver must reset.
        r.desc(7, BUF, 8, WRITE, 0);
        r.publish(7);
        assertThatThrownBy(q::pop).isInstanceOf(VirtqueueException.class).hasMessage(r.errors.getFirst());
        assertThat(r.errors).as("reported once").hasSize(1);
        assertThat(q.hasAvailable()).isFalse();
    }

    private void assertGuestError(VirtQueue q, String reason) {
        assertGuestError(ring, q, reason);
    }

    @Test
    void anAvailableIndexMovedByMoreThanTheQueueSizeIsAnError() {
        VirtQueue q = ring.queue(0);
        ring.setAvailIdx(9);

        assertGuestError(q, "available index moved from 0 to 9");
    }

    @Test
    void anAvailableIndexMovedBackwardsIsAnError() {
        VirtQueue q = ring.queue(0);
        ring.setAvailIdx(0xffff);

        assertGuestError(q, "available index moved from 0 to 65535");
    }

    @Test
    void aHeadBeyondTheQueueSizeIsAnError() {
        ring.publish(8);

        assertGuestError(ring.queue(0), "names head 8, beyond the queue size 8");
    }

    @Test
    void aNextIndexBeyondTheQueueSizeIsAnError() {
        ring.desc(0, BUF, 16, NEXT, 8);
        ring.publish(0);

        assertGuestError(ring.queue(0), "has next 8, beyond the queue size 8");
    }

    @Test
    void aDirectChainThatLoopsIsAnError() {
        ring.desc(0, BUF, 16, NEXT, 1);
        ring.desc(1, BUF + 16, 16, NEXT, 0);
        ring.publish(0);

        assertGuestError(ring.queue(0), "longer than the queue size 8");
    }

    @Test
    void aDescriptorThatPointsAtItselfIsAnError() {
        ring.desc(3, BUF, 16, NEXT, 3);
        ring.publish(3);

        assertGuestError(ring.queue(0), "longer than the queue size");
    }

    @Test
    void anIndirectDescriptorWithoutTheNegotiatedFeatureIsAnError() {
        ring.descAt(TABLE, 0, BUF, 16, WRITE, 0);
        ring.desc(0, TABLE, 16, INDIRECT, 0);
        ring.publish(0);

        assertGuestError(ring.queue(0), "VIRTIO_F_INDIRECT_DESC was not negotiated");
    }

    @Test
    void anIndirectDescriptorWithNextIsAnError() {
        ring.descAt(TABLE, 0, BUF, 16, WRITE, 0);
        ring.desc(0, TABLE, 16, INDIRECT | NEXT, 1);
        ring.desc(1, BUF + 64, 16, WRITE, 0);
        ring.publish(0);

        assertGuestError(ring.queue(F_INDIRECT), "both INDIRECT and NEXT");
    }

    @Test
    void anEmptyIndirectTableIsAnError() {
        ring.desc(0, TABLE, 0, INDIRECT, 0);
        ring.publish(0);

        assertGuestError(ring.queue(F_INDIRECT), "indirect table of 0 bytes");
    }

    @Test
    void anIndirectTableWhoseLengthIsNotAMultipleOf16IsAnError() {
        ring.descAt(TABLE, 0, BUF, 8, WRITE, 0);
        ring.desc(0, TABLE, 20, INDIRECT, 0);
        ring.publish(0);

        assertGuestError(ring.queue(F_INDIRECT), "indirect table of 20 bytes is not a non-empty multiple of 16");
    }

    @Test
    void anIndirectTableOutsideRamIsAnError() {
        ring.desc(0, (1 << 20) - 16, 32, INDIRECT, 0);
        ring.publish(0);

        assertGuestError(ring.queue(F_INDIRECT), "is not in guest RAM");
    }

    @Test
    void anIndirectDescriptorInsideAnIndirectTableIsAnError() {
        long inner = TABLE + 0x100;
        ring.descAt(inner, 0, BUF, 16, WRITE, 0);
        ring.descAt(TABLE, 0, inner, 16, INDIRECT, 0);
        ring.desc(0, TABLE, 16, INDIRECT, 0);
        ring.publish(0);

        assertGuestError(ring.queue(F_INDIRECT), "of the indirect table is itself INDIRECT");
    }

    @Test
    void aNextIndexBeyondTheIndirectTableIsAnError() {
        ring.descAt(TABLE, 0, BUF, 8, NEXT, 2);
        ring.descAt(TABLE, 1, BUF + 8, 8, 0, 0);
        ring.desc(0, TABLE, 32, INDIRECT, 0);
        ring.publish(0);

        assertGuestError(ring.queue(F_INDIRECT), "has next 2, beyond its 2 entries");
    }

    @Test
    void aLoopInsideAnIndirectTableIsAnError() {
        ring.descAt(TABLE, 0, BUF, 8, NEXT, 1);
        ring.descAt(TABLE, 1, BUF + 8, 8, NEXT, 0);
        ring.desc(0, TABLE, 32, INDIRECT, 0);
        ring.publish(0);

        assertGuestError(ring.queue(F_INDIRECT), "indirect table of 2 descriptors loops");
    }

    @Test
    void aZeroLengthBufferIsAnError() {
        ring.desc(0, BUF, 0, WRITE, 0);
        ring.publish(0);

        assertGuestError(ring.queue(0), "has length 0");
    }

    @Test
    void aZeroLengthBufferInsideAnIndirectTableIsAnError() {
        ring.descAt(TABLE, 0, BUF, 0, 0, 0);
        ring.desc(0, TABLE, 16, INDIRECT, 0);
        ring.publish(0);

        assertGuestError(ring.queue(F_INDIRECT), "has length 0");
    }

    @Test
    void aReadableBufferAfterAWritableOneIsAnError() {
        ring.desc(0, BUF, 8, WRITE | NEXT, 1);
        ring.desc(1, BUF + 8, 8, 0, 0);
        ring.publish(0);

        assertGuestError(ring.queue(0), "device-readable descriptor 1 follows a device-writable one");
    }

    @Test
    void aReadableBufferInAnIndirectTableAfterADirectWritableOneIsAnError() {
        ring.descAt(TABLE, 0, BUF + 8, 8, 0, 0);
        ring.desc(0, BUF, 8, WRITE | NEXT, 1);
        ring.desc(1, TABLE, 16, INDIRECT, 0);
        ring.publish(0);

        assertGuestError(ring.queue(F_INDIRECT), "follows a device-writable one");
    }

    @Test
    void aBufferPastTheEndOfRamIsAnError() {
        ring.desc(0, (1 << 20) - 8, 16, WRITE, 0);
        ring.publish(0);

        assertGuestError(ring.queue(0), "is not inside one RAM region");
    }

    @Test
    void aBufferWhoseEndWouldOverflowTheAddressSpaceIsAnError() {
        ring.desc(0, -8L, 16, WRITE, 0);
        ring.publish(0);

        assertGuestError(ring.queue(0), "is not inside one RAM region");
    }

    @Test
    void aBufferAcrossTheEdgeOfTwoAdjacentRegionsIsAnError() {
        try (GuestMemory two = GuestMemory.builder().ram("low", 0, 0x20000).ram("high", 0x20000, 0x20000).build()) {
            TestRing r = new TestRing(two, 8, 0x1000);
            r.desc(0, 0x20000 - 8, 16, WRITE, 0);
            r.publish(0);

            assertGuestError(r, r.queue(0), "descriptor 0 buffer [0x1fff8, +0x10) is not inside one RAM region");
        }
    }

    @Test
    void aWritableBufferInReadOnlyMemoryIsAnError() {
        try (GuestMemory withRom = GuestMemory.builder().ram("ram", 0, 0x20000).rom("bios", 0x20000, new byte[0x1000]).build()) {
            TestRing r = new TestRing(withRom, 8, 0x1000);
            r.desc(0, 0x20000, 16, NEXT, 1);
            r.desc(1, 0x20010, 16, WRITE, 0);
            r.publish(0);

            assertGuestError(r, r.queue(0), "descriptor 1 is device-writable but in read-only memory (bios)");
        }
    }

    @Test
    void aReadableBufferInReadOnlyMemoryIsFine() {
        try (GuestMemory withRom = GuestMemory.builder().ram("ram", 0, 0x20000).rom("bios", 0x20000, new byte[] {5}).build()) {
            TestRing r = new TestRing(withRom, 8, 0x1000);
            r.desc(0, 0x20000, 1, 0, 0);
            r.publish(0);

            assertThat(r.queue(0).pop().readableLength()).isEqualTo(1);
        }
    }

    @Test
    void aHeadMadeAvailableAgainWhileTheDeviceOwnsItIsAnError() {
        ring.desc(0, BUF, 8, WRITE, 0);
        ring.publish(0);
        ring.publish(0);
        VirtQueue q = ring.queue(0);

        assertThat(q.pop().head()).isZero();
        assertThatThrownBy(q::pop).isInstanceOf(VirtqueueException.class).hasMessageContaining("head 0 was made available again");
        assertThat(ring.errors).hasSize(1);
    }

    @Test
    void chainsPoppedBeforeTheErrorCanStillBeCompleted() {
        ring.desc(0, BUF, 8, WRITE, 0);
        ring.publish(0);
        ring.publish(9);
        VirtQueue q = ring.queue(0);
        DescriptorChain good = q.pop();

        assertThatThrownBy(q::pop).isInstanceOf(VirtqueueException.class);
        q.complete(good, 8);

        assertThat(ring.usedIdx()).isEqualTo(1);
        assertThat(ring.interrupts).hasValue(1);
    }
}
