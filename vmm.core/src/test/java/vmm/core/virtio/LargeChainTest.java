package vmm.core.virtio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static vmm.core.virtio.TestRing.NEXT;
import static vmm.core.virtio.TestRing.WRITE;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

import vmm.core.memory.GuestMemory;
import vmm.core.virtio.DescriptorChain.Buffer;

/**
 * Chains with multi-GiB buffers, over a sparse 3 GiB memfd (only the pages
 * of the rings are ever touched).
 */
class LargeChainTest {
    private static final long GIB = 1L << 30;

    @AutoClose
    private final GuestMemory memory = GuestMemory.ofSize(3 * GIB);
    private final TestRing ring = new TestRing(memory, 8, 0x1000);

    @Test
    void aChainWhoseBuffersTotalMoreThan4GiBIsAGuestError() {
        ring.desc(0, 0, 3 * GIB, NEXT, 1);
        ring.desc(1, 0, 2 * GIB, WRITE, 0);
        ring.publish(0);
        VirtQueue q = ring.queue(0);

        assertThatThrownBy(q::pop).isInstanceOf(VirtqueueException.class).hasMessageContaining("more than 2^32-1 bytes");
        assertThat(ring.errors).hasSize(1);
    }

    @Test
    void aChainOfExactly4GiBMinusOneIsFine() {
        ring.desc(0, 0, 3 * GIB, NEXT, 1);
        ring.desc(1, 0, GIB - 1, WRITE, 0);
        ring.publish(0);

        DescriptorChain c = ring.queue(0).pop();

        assertThat(c.readableLength() + c.writableLength()).isEqualTo(0xffff_ffffL);
    }

    @Test
    void aDescriptorLongerThan2GiBAppearsAsConsecutiveBuffers() {
        ring.desc(0, 0x1000, 3 * GIB - 0x1000, 0, 0);
        ring.publish(0);

        DescriptorChain c = ring.queue(0).pop();

        assertThat(c.readable()).containsExactly(new Buffer(0x1000, Integer.MAX_VALUE),
                new Buffer(0x1000L + Integer.MAX_VALUE, (int) (3 * GIB - 0x1000 - Integer.MAX_VALUE)));
        assertThat(c.readableLength()).isEqualTo(3 * GIB - 0x1000);
    }
}
