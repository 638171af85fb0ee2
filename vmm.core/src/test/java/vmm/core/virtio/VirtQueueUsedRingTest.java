package vmm.core.virtio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static vmm.core.virtio.TestRing.F_EVENT_IDX;
import static vmm.core.virtio.TestRing.NEXT;
import static vmm.core.virtio.TestRing.WRITE;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

import vmm.core.Await;
import vmm.core.memory.GuestMemory;

/** Completing chains: the used ring, index wrap-around, double completion, and notification suppression (2.7.7, 2.7.10). */
class VirtQueueUsedRingTest {
    private static final long BUF = 0x10000;

    @AutoClose
    private final GuestMemory memory = GuestMemory.ofSize(1 << 20);
    private final TestRing ring = new TestRing(memory, 8, 0x1000);

    @Test
    void addUsedWritesTheElementThenPublishesTheIndexWithoutInterrupting() {
        ring.desc(3, BUF, 4, NEXT, 4);
        ring.desc(4, BUF + 0x100, 16, WRITE, 0);
        ring.publish(3);
        VirtQueue q = ring.queue(0);
        DescriptorChain c = q.pop();

        q.addUsed(c, 10);

        assertThat(ring.usedIdx()).isEqualTo(1);
        assertThat(ring.usedElem(0)).containsExactly(3, 10);
        assertThat(q.usedIndex()).isEqualTo(1);
        assertThat(q.outstanding()).isZero();
        assertThat(ring.interrupts).hasValue(0);
    }

    @Test
    void theWrittenLengthIsClampedToTheWritableLength() {
        ring.offerWritable(1, BUF);
        VirtQueue q = ring.queue(0);

        q.addUsed(q.pop(), 1000);

        assertThat(ring.usedElem(0)[1]).isEqualTo(16);
    }

    @Test
    void aNegativeWrittenLengthIsRefused() {
        ring.offerWritable(1, BUF);
        VirtQueue q = ring.queue(0);
        DescriptorChain c = q.pop();

        assertThatThrownBy(() -> q.addUsed(c, -1)).isInstanceOf(IllegalArgumentException.class);
        assertThat(q.outstanding()).isEqualTo(1);
    }

    @Test
    void completingAChainTwiceThrows() {
        ring.offerWritable(1, BUF);
        VirtQueue q = ring.queue(0);
        DescriptorChain c = q.pop();
        q.complete(c, 0);

        assertThatThrownBy(() -> q.complete(c, 0)).isInstanceOf(IllegalStateException.class).hasMessageContaining("head 0 is not outstanding");
        assertThatThrownBy(() -> q.addUsed(c, 0)).isInstanceOf(IllegalStateException.class);
        assertThat(ring.usedIdx()).isEqualTo(1);
    }

    @Test
    void completingAStaleChainWhoseHeadWasReofferedThrows() {
        ring.offerWritable(1, BUF);
        VirtQueue q = ring.queue(0);
        DescriptorChain first = q.pop();
        q.complete(first, 0);
        ring.publish(0);
        DescriptorChain second = q.pop();

        assertThatThrownBy(() -> q.complete(first, 0)).isInstanceOf(IllegalStateException.class);
        q.complete(second, 0);
        assertThat(ring.usedIdx()).isEqualTo(2);
    }

    @Test
    void completingAChainOfAnotherQueueThrows() {
        ring.offerWritable(1, BUF);
        VirtQueue q = ring.queue(0);
        DescriptorChain c = q.pop();
        VirtQueue other = new TestRing(memory, 8, 0x4000).queue(0);

        assertThatThrownBy(() -> other.complete(c, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void chainsMayBeCompletedOutOfOrder() {
        ring.offerWritable(3, BUF);
        VirtQueue q = ring.queue(0);
        DescriptorChain a = q.pop(), b = q.pop(), c = q.pop();

        q.addUsed(c, 1);
        q.addUsed(a, 2);
        q.addUsed(b, 3);

        assertThat(ring.usedElem(0)).containsExactly(2, 1);
        assertThat(ring.usedElem(1)).containsExactly(0, 2);
        assertThat(ring.usedElem(2)).containsExactly(1, 3);
    }

    @Test
    void availableAndUsedIndicesWrapAroundAt65535() {
        VirtQueue q = ring.restoredAt(65533, 0);
        ring.offerWritable(6, BUF);

        for (int i = 0; i < 6; i++) q.complete(q.pop(), i);

        assertThat(q.lastAvailIndex()).isEqualTo(3);
        assertThat(q.usedIndex()).isEqualTo(3);
        assertThat(ring.usedIdx()).isEqualTo(3);
        for (int i = 0; i < 6; i++)
            assertThat(ring.usedElem(65533 + i)).as("used slot of index %d", (65533 + i) & 0xffff).containsExactly(i, i);
    }

    @Test
    void indicesWrapAroundAfter65536ChainsFromAFreshQueue() {
        VirtQueue q = ring.queue(0);
        ring.desc(0, BUF, 16, WRITE, 0);

        for (int i = 0; i < 70_000; i++) {
            ring.publish(0);
            DescriptorChain c = q.pop();
            assertThat(c).isNotNull();
            q.complete(c, 1);
        }

        assertThat(q.lastAvailIndex()).isEqualTo(70_000 & 0xffff);
        assertThat(ring.usedIdx()).isEqualTo(70_000 & 0xffff);
        assertThat(ring.interrupts).hasValue(70_000);
        assertThat(ring.errors).isEmpty();
    }

    @Test
    void withoutEventIdxEveryCompletionInterruptsUnlessTheDriverSetNoInterrupt() {
        ring.offerWritable(3, BUF);
        VirtQueue q = ring.queue(0);

        q.complete(q.pop(), 0);
        assertThat(ring.interrupts).hasValue(1);

        ring.setAvailFlags(VirtQueue.VIRTQ_AVAIL_F_NO_INTERRUPT);
        q.complete(q.pop(), 0);
        assertThat(ring.interrupts).as("suppressed by VIRTQ_AVAIL_F_NO_INTERRUPT").hasValue(1);

        ring.setAvailFlags(0);
        q.complete(q.pop(), 0);
        assertThat(ring.interrupts).hasValue(2);
    }

    @Test
    void withoutEventIdxTheUsedEventFieldIsIgnored() {
        ring.offerWritable(2, BUF);
        ring.setUsedEvent(5);
        VirtQueue q = ring.queue(0);

        q.complete(q.pop(), 0);
        q.complete(q.pop(), 0);

        assertThat(ring.interrupts).hasValue(2);
    }

    @Test
    void withEventIdxTheDeviceInterruptsOnlyWhenTheUsedIndexPassesUsedEvent() {
        ring.offerWritable(4, BUF);
        ring.setUsedEvent(2);
        VirtQueue q = ring.queue(F_EVENT_IDX);

        q.complete(q.pop(), 0);
        q.complete(q.pop(), 0);
        assertThat(ring.interrupts).as("used index 1 and 2 have not passed used_event 2").hasValue(0);
        q.complete(q.pop(), 0);
        assertThat(ring.interrupts).as("used index 3 passed used_event 2").hasValue(1);
        q.complete(q.pop(), 0);
        assertThat(ring.interrupts).as("already past").hasValue(1);
    }

    @Test
    void withEventIdxTheNoInterruptFlagIsIgnored() {
        ring.offerWritable(1, BUF);
        ring.setAvailFlags(VirtQueue.VIRTQ_AVAIL_F_NO_INTERRUPT);
        VirtQueue q = ring.queue(F_EVENT_IDX);

        q.complete(q.pop(), 0);

        assertThat(ring.interrupts).as("used_event 0 is passed by used index 1").hasValue(1);
    }

    @Test
    void eventIdxDecisionsMatchTheSpecificationsVringNeedEventAcrossTheWrap() {
        Random random = new Random(42);
        VirtQueue q = ring.restoredAt(65500, F_EVENT_IDX);
        ring.desc(0, BUF, 16, WRITE, 0);
        q.complete(popOne(q), 0); // the first decision after a restore always interrupts; start from a known "old"
        int old = q.usedIndex();

        for (int round = 0; round < 300; round++) {
            int batch = 1 + random.nextInt(3);
            int event = (old + random.nextInt(8) - 2) & 0xffff;
            ring.setUsedEvent(event);
            for (int i = 0; i < batch; i++) q.addUsed(popOne(q), 0);
            int now = q.usedIndex();

            assertThat(q.needsNotification()).as("event %d old %d new %d", event, old, now)
                    .isEqualTo(TestRing.vringNeedEvent(event, now, old));
            old = now;
        }
        assertThat(old).as("the used index wrapped").isLessThan(65500);
    }

    private DescriptorChain popOne(VirtQueue q) {
        ring.publish(0);
        return q.pop();
    }

    @Test
    void needEventAgreesWithTheTranscribedFormulaOnRandomIndices() {
        Random random = new Random(7);
        for (int i = 0; i < 200_000; i++) {
            int e = random.nextInt(65536), n = random.nextInt(65536), o = random.nextInt(65536);
            assertThat(VirtQueue.needEvent(e, n, o)).isEqualTo(TestRing.vringNeedEvent(e, n, o));
        }
        assertThat(VirtQueue.needEvent(0xffff, 0, 0xffff)).as("event right at the wrap").isTrue();
        assertThat(VirtQueue.needEvent(0, 0, 0xffff)).isFalse();
    }

    @Test
    void theFirstDecisionAfterARestoreAlwaysInterrupts() {
        VirtQueue q = ring.restoredAt(100, F_EVENT_IDX);
        ring.setUsedEvent(200);
        ring.offerWritable(1, BUF);

        q.complete(q.pop(), 0);

        assertThat(ring.interrupts).hasValue(1);
    }

    @Test
    void disablingNotificationsWithoutEventIdxSetsNoNotify() {
        VirtQueue q = ring.queue(0);

        q.setNotificationsEnabled(false);
        assertThat(ring.usedFlags()).isEqualTo(VirtQueue.VIRTQ_USED_F_NO_NOTIFY);
        assertThat(q.notificationsEnabled()).isFalse();

        q.setNotificationsEnabled(true);
        assertThat(ring.usedFlags()).isZero();
    }

    @Test
    void withEventIdxAnEmptyPopAsksForANotificationOnTheNextBuffer() {
        ring.offerWritable(2, BUF);
        VirtQueue q = ring.queue(F_EVENT_IDX);
        q.pop();
        q.pop();

        assertThat(q.pop()).isNull();

        assertThat(ring.availEvent()).as("avail_event = the next entry the device will look at").isEqualTo(2);
        assertThat(ring.usedFlags()).as("the flag is not used with EVENT_IDX").isZero();
    }

    @Test
    void withEventIdxDisabledNotificationsLeaveAvailEventBehind() {
        ring.offerWritable(2, BUF);
        VirtQueue q = ring.queue(F_EVENT_IDX);
        q.setNotificationsEnabled(false);
        q.pop();
        q.pop();
        assertThat(q.pop()).isNull();
        assertThat(ring.availEvent()).isZero();

        q.setNotificationsEnabled(true);

        assertThat(ring.availEvent()).isEqualTo(2);
        assertThat(q.hasAvailable()).isFalse();
    }

    @Test
    void notifyGuestAlwaysInterrupts() {
        ring.setAvailFlags(VirtQueue.VIRTQ_AVAIL_F_NO_INTERRUPT);
        VirtQueue q = ring.queue(0);

        q.notifyGuest();

        assertThat(ring.interrupts).hasValue(1);
    }

    @Test
    void aRetiredQueuePopsNothingAndRefusesCompletions() {
        ring.offerWritable(2, BUF);
        VirtQueue q = ring.queue(0);
        DescriptorChain c = q.pop();

        q.retire();

        assertThat(q.pop()).isNull();
        assertThat(q.hasAvailable()).isFalse();
        assertThatThrownBy(() -> q.complete(c, 0)).isInstanceOf(IllegalStateException.class).hasMessageContaining("reset");
        assertThat(ring.usedIdx()).isZero();
    }

    @Test
    void oneThreadPopsWhileAnotherCompletesAndEveryChainIsUsedOnce() throws Exception {
        TestRing big = new TestRing(memory, 256, 0x20000);
        VirtQueue q = big.queue(0);
        for (int i = 0; i < 256; i++) big.desc(i, BUF + 16L * i, 16, WRITE, 0);
        int total = 50_000;
        BlockingQueue<DescriptorChain> handoff = new ArrayBlockingQueue<>(256);
        List<Throwable> failures = new ArrayList<>();
        Thread worker = Thread.ofPlatform().start(() -> {
            try {
                for (int i = 0; i < total; i++) q.complete(handoff.take(), 4);
            } catch (Throwable t) {
                synchronized (failures) {
                    failures.add(t);
                }
            }
        });

        // The driver side: offer as many heads as are free, reap the used ring, repeat.
        Set<Integer> free = new HashSet<>();
        for (int i = 0; i < 256; i++) free.add(i);
        int offered = 0, reaped = 0, lastUsed = 0;
        long deadline = System.nanoTime() + Await.BOUND.toNanos(); // a hang guard only
        while (reaped < total && System.nanoTime() < deadline) {
            for (var it = free.iterator(); it.hasNext() && offered < total; offered++) {
                big.publish(it.next());
                it.remove();
            }
            DescriptorChain c;
            while ((c = q.pop()) != null) handoff.put(c);
            int usedNow = big.usedIdx();
            while (lastUsed != usedNow) {
                long[] e = big.usedElem(lastUsed);
                assertThat(free.add((int) e[0])).as("head %d used once", e[0]).isTrue();
                lastUsed = (lastUsed + 1) & 0xffff;
                reaped++;
            }
        }
        worker.join(Await.BOUND);

        assertThat(failures).isEmpty();
        assertThat(reaped).isEqualTo(total);
        assertThat(q.outstanding()).isZero();
        assertThat(big.errors).isEmpty();
    }
}
