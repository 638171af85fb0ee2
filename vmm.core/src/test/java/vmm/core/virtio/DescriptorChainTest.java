package vmm.core.virtio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static vmm.core.virtio.TestRing.INDIRECT;
import static vmm.core.virtio.TestRing.NEXT;
import static vmm.core.virtio.TestRing.WRITE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

import vmm.core.memory.GuestMemory;
import vmm.core.virtio.DescriptorChain.Buffer;

/** Legal chains (direct, indirect, mixed) and copies in and out of their buffers. */
class DescriptorChainTest {
    @AutoClose
    private final GuestMemory memory = GuestMemory.ofSize(1 << 20);
    private final TestRing ring = new TestRing(memory, 8, 0x1000);

    @Test
    void anEmptyQueuePopsNothing() {
        VirtQueue q = ring.queue(0);

        assertThat(q.hasAvailable()).isFalse();
        assertThat(q.pop()).isNull();
        assertThat(ring.errors).isEmpty();
    }

    @Test
    void aDirectChainListsItsReadableBuffersThenItsWritableOnes() {
        ring.desc(0, 0x10000, 16, NEXT, 1);
        ring.desc(1, 0x10100, 8, NEXT, 2);
        ring.desc(2, 0x10200, 32, WRITE, 0);
        ring.publish(0);
        VirtQueue q = ring.queue(0);

        assertThat(q.hasAvailable()).isTrue();
        DescriptorChain c = q.pop();

        assertThat(c.head()).isZero();
        assertThat(c.readable()).containsExactly(new Buffer(0x10000, 16), new Buffer(0x10100, 8));
        assertThat(c.writable()).containsExactly(new Buffer(0x10200, 32));
        assertThat(c.readableLength()).isEqualTo(24);
        assertThat(c.writableLength()).isEqualTo(32);
        assertThat(q.outstanding()).isEqualTo(1);
        assertThat(q.lastAvailIndex()).isEqualTo(1);
        assertThat(q.pop()).isNull();
    }

    @Test
    void chainsComeOutInTheOrderTheDriverMadeThemAvailable() {
        ring.desc(5, 0x10000, 4, 0, 0);
        ring.desc(2, 0x10100, 4, WRITE, 0);
        ring.publish(5);
        ring.publish(2);
        VirtQueue q = ring.queue(0);

        assertThat(q.pop().head()).isEqualTo(5);
        assertThat(q.pop().head()).isEqualTo(2);
        assertThat(q.pop()).isNull();
    }

    @Test
    void aChainMayFollowNextIndicesInAnyOrder() {
        ring.desc(7, 0x10000, 1, NEXT, 3);
        ring.desc(3, 0x10010, 2, NEXT, 6);
        ring.desc(6, 0x10020, 3, WRITE, 0);
        ring.publish(7);

        DescriptorChain c = ring.queue(0).pop();

        assertThat(c.readable()).extracting(Buffer::length).containsExactly(1, 2);
        assertThat(c.writable()).extracting(Buffer::length).containsExactly(3);
    }

    @Test
    void anIndirectTableIsFlattenedAndTheWriteFlagOfItsDescriptorIsIgnored() {
        long table = 0x8000;
        ring.descAt(table, 0, 0x10000, 10, NEXT, 1);
        ring.descAt(table, 1, 0x10100, 20, WRITE | NEXT, 2);
        ring.descAt(table, 2, 0x10200, 30, WRITE, 0);
        ring.desc(4, table, 48, INDIRECT | WRITE, 0);
        ring.publish(4);

        DescriptorChain c = ring.queue(TestRing.F_INDIRECT).pop();

        assertThat(c.head()).isEqualTo(4);
        assertThat(c.readable()).containsExactly(new Buffer(0x10000, 10));
        assertThat(c.writable()).containsExactly(new Buffer(0x10100, 20), new Buffer(0x10200, 30));
        assertThat(ring.errors).isEmpty();
    }

    @Test
    void directDescriptorsFollowedByOneIndirectDescriptorAreOneChain() {
        long table = 0x8000;
        ring.desc(0, 0x10000, 12, NEXT, 1);
        ring.desc(1, table, 32, INDIRECT, 0);
        ring.descAt(table, 0, 0x10100, 4, NEXT, 1);
        ring.descAt(table, 1, 0x10200, 64, WRITE, 0);
        ring.publish(0);

        DescriptorChain c = ring.queue(TestRing.F_INDIRECT).pop();

        assertThat(c.readable()).containsExactly(new Buffer(0x10000, 12), new Buffer(0x10100, 4));
        assertThat(c.writable()).containsExactly(new Buffer(0x10200, 64));
    }

    @Test
    void anIndirectTableMayHoldMoreDescriptorsThanTheQueueSize() {
        long table = 0x8000;
        for (int i = 0; i < 20; i++) ring.descAt(table, i, 0x10000 + 16L * i, 16, i < 19 ? NEXT : 0, i + 1);
        ring.desc(0, table, 20 * 16, INDIRECT, 0);
        ring.publish(0);

        assertThat(ring.queue(TestRing.F_INDIRECT).pop().readable()).hasSize(20);
    }

    @Test
    void readCopiesFromTheReadableBuffersAsOneByteRange() {
        memory.write(0x10000, new byte[] {1, 2, 3}, 0, 3);
        memory.write(0x10100, new byte[] {4, 5, 6, 7, 8}, 0, 5);
        memory.write(0x10200, new byte[] {9, 10}, 0, 2);
        ring.desc(0, 0x10000, 3, NEXT, 1);
        ring.desc(1, 0x10100, 5, NEXT, 2);
        ring.desc(2, 0x10200, 2, NEXT, 3);
        ring.desc(3, 0x10300, 4, WRITE, 0);
        ring.publish(0);
        DescriptorChain c = ring.queue(0).pop();

        byte[] all = new byte[16];
        assertThat(c.read(0, all, 0, all.length)).as("stops at the end of the readable bytes").isEqualTo(10);
        assertThat(all).startsWith(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);

        byte[] middle = new byte[8];
        assertThat(c.read(2, middle, 1, 6)).isEqualTo(6);
        assertThat(middle).containsExactly(0, 3, 4, 5, 6, 7, 8, 0);

        assertThat(c.read(10, middle, 0, 1)).as("at the end").isZero();
        assertThat(c.read(1000, middle, 0, 1)).as("past the end").isZero();
    }

    @Test
    void writeScattersIntoTheWritableBuffersAsOneByteRange() {
        ring.desc(0, 0x10000, 4, NEXT, 1);
        ring.desc(1, 0x10100, 3, WRITE | NEXT, 2);
        ring.desc(2, 0x10200, 2, WRITE | NEXT, 3);
        ring.desc(3, 0x10300, 4, WRITE, 0);
        ring.publish(0);
        DescriptorChain c = ring.queue(0).pop();

        assertThat(c.write(1, new byte[] {11, 12, 13, 14, 15}, 0, 5)).isEqualTo(5);
        assertThat(c.write(7, new byte[] {21, 22, 23, 24, 25}, 0, 5)).as("space runs out").isEqualTo(2);

        byte[] b = new byte[4];
        memory.read(0x10100, b, 0, 3);
        assertThat(b).startsWith(0, 11, 12);
        memory.read(0x10200, b, 0, 2);
        assertThat(b).startsWith(13, 14);
        memory.read(0x10300, b, 0, 4);
        assertThat(b).containsExactly(15, 0, 21, 22);
        memory.read(0x10000, b, 0, 4);
        assertThat(b).as("readable buffers are not written").containsExactly(0, 0, 0, 0);
    }

    @Test
    void segmentCopiesBehaveLikeArrayCopies() {
        memory.write(0x10000, new byte[] {1, 2, 3}, 0, 3);
        memory.write(0x10100, new byte[] {4, 5}, 0, 2);
        ring.desc(0, 0x10000, 3, NEXT, 1);
        ring.desc(1, 0x10100, 2, NEXT, 2);
        ring.desc(2, 0x10200, 2, WRITE | NEXT, 3);
        ring.desc(3, 0x10300, 8, WRITE, 0);
        ring.publish(0);
        DescriptorChain c = ring.queue(0).pop();

        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocate(8);
            assertThat(c.read(1, in)).isEqualTo(4);
            assertThat(in.toArray(ValueLayout.JAVA_BYTE)).startsWith(2, 3, 4, 5);

            MemorySegment out = MemorySegment.ofArray(new byte[] {7, 8, 9});
            assertThat(c.write(1, out)).isEqualTo(3);
        }
        assertThat(memory.readU8(0x10201)).isEqualTo(7);
        assertThat(memory.readU16(0x10300)).isEqualTo(8 | 9 << 8);
    }

    @Test
    void copiesRefuseANegativeOffsetOrABadArrayRange() {
        ring.desc(0, 0x10000, 4, NEXT, 1);
        ring.desc(1, 0x10100, 4, WRITE, 0);
        ring.publish(0);
        DescriptorChain c = ring.queue(0).pop();

        assertThatThrownBy(() -> c.read(-1, new byte[4], 0, 4)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> c.write(0, new byte[4], 2, 4)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void buffersMayLieInDifferentRegionsAndTouchTheirEdges() {
        try (GuestMemory two = GuestMemory.builder().ram("low", 0, 0x20000).ram("high", 0x20000, 0x20000).build()) {
            TestRing r = new TestRing(two, 8, 0x1000);
            r.desc(0, 0x20000 - 16, 16, NEXT, 1);
            r.desc(1, 0x20000, 16, WRITE, 0);
            r.publish(0);
            two.write(0x20000 - 16, new byte[] {42}, 0, 1);

            DescriptorChain c = r.queue(0).pop();
            byte[] b = new byte[1];
            c.read(0, b, 0, 1);
            c.write(0, new byte[] {43}, 0, 1);

            assertThat(b[0]).isEqualTo((byte) 42);
            assertThat(two.readU8(0x20000)).isEqualTo(43);
        }
    }
}
