package vmm.core.virtio;

import static org.assertj.core.api.Assertions.assertThat;
import static vmm.core.virtio.TestRing.F_EVENT_IDX;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

import vmm.core.memory.GuestMemory;

/**
 * A ring the transport stopped without a device reset (vhost-user's GET_VRING_BASE, SET_VRING_ENABLE 0): the
 * driver may already have taken its buffers back, so nothing more is read from it or written to its driver
 * fields, while what the device took is still completed.
 */
class VirtQueueStopTest {
    private static final long BUF = 0x10000;

    @AutoClose
    private final GuestMemory memory = GuestMemory.ofSize(1 << 20);
    private final TestRing ring = new TestRing(memory, 8, 0x1000);

    @Test
    void aStoppedQueueTakesNothingMoreEvenWhenTheAvailIndexWentBack() {
        ring.offerWritable(3, BUF);
        VirtQueue q = ring.queue(F_EVENT_IDX);
        DescriptorChain first = q.pop();
        q.complete(first, 4);
        q.pop();
        q.stop();
        // Linux's virtqueue_detach_unused_buf after a reset the device never saw: every buffer it has not
        // reclaimed, the two the device took among them, leaves the avail ring.
        ring.setAvailIdx(0);

        assertThat(q.pop()).isNull();
        assertThat(q.hasAvailable()).isFalse();
        assertThat(ring.errors).isEmpty();
        assertThat(q.error()).isNull();
        assertThat(q.stopped()).isTrue();
        assertThat(q.lastAvailIndex()).as("the position GET_VRING_BASE reports").isEqualTo(2);
    }

    @Test
    void aStoppedQueueStillCompletesWhatItTookAndInterruptsAsAsked() {
        ring.offerWritable(2, BUF);
        VirtQueue q = ring.queue(F_EVENT_IDX);
        DescriptorChain c = q.pop();
        q.stop();

        q.complete(c, 7);

        assertThat(ring.usedIdx()).isEqualTo(1);
        assertThat(ring.usedElem(0)).containsExactly(0, 7);
        assertThat(q.outstanding()).isZero();
        assertThat(ring.interrupts).as("the first decision after creation always interrupts").hasValue(1);
    }

    @Test
    void aStoppedQueueWritesNoNotificationFieldOfTheRing() {
        ring.offerWritable(1, BUF);
        VirtQueue q = ring.queue(F_EVENT_IDX);
        q.pop(); // seen up to 1; avail_event still asks for 0
        int event = ring.availEvent();
        q.stop();

        q.setNotificationsEnabled(false);
        q.setNotificationsEnabled(true);

        assertThat(ring.availEvent()).isEqualTo(event);
        VirtQueue plain = new TestRing(memory, 8, 0x8000).queue(0);
        plain.stop();
        plain.setNotificationsEnabled(false);
        assertThat(memory.readU16(plain.usedRingAddress())).as("used flags").isZero();
    }
}
