package vmm.core.virtio;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterAll;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import vmm.core.memory.GuestMemory;

/**
 * A hostile driver's rings: descriptor tables (direct and indirect), avail
 * entries and indices, used_event, all from fuzz bytes, with the device
 * popping, reading, writing and completing chains between the driver's
 * moves. Whatever the guest wrote, the queue hands out only chains whose
 * buffers lie in guest RAM (writable ones outside ROM), or breaks itself
 * with a {@link VirtqueueException}; nothing else escapes.
 */
class VirtQueueFuzzTest {
    private static final long LOW = 0, LOW_SIZE = 0x10000, ROM = 0x20000, HIGH = 0x21000, HIGH_SIZE = 0x1000;
    private static final long DESC = 0x1000, AVAIL = 0x2000, USED = 0x3000, INDIRECT = 0x4000;
    private static final GuestMemory MEMORY = GuestMemory.builder()
            .ram("low", LOW, LOW_SIZE).rom("rom", ROM, new byte[0x1000]).ram("high", HIGH, HIGH_SIZE).build();

    @AfterAll
    static void release() {
        MEMORY.close();
    }

    @FuzzTest(maxDuration = "5m")
    void anyRingContentGivesCheckedChainsOrABrokenQueue(FuzzedDataProvider data) {
        MEMORY.fill(LOW, LOW_SIZE, (byte) 0);
        MEMORY.fill(HIGH, HIGH_SIZE, (byte) 0);
        int size = 1 << data.consumeInt(0, 4);
        long features = (data.consumeBoolean() ? VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC) : 0)
                | (data.consumeBoolean() ? VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX) : 0);
        for (int i = 0; i < size; i++) descriptor(data, DESC + 16L * i);
        int indirect = data.consumeInt(0, 8);
        for (int i = 0; i < indirect; i++) descriptor(data, INDIRECT + 16L * i);
        List<String> errors = new ArrayList<>();
        VirtQueue q = VirtQueue.create(MEMORY, 0, size, DESC, AVAIL, USED, features, () -> { }, errors::add);
        List<DescriptorChain> outstanding = new ArrayList<>();
        int availIdx = 0;
        boolean broken = false;
        while (data.remainingBytes() > 0) {
            switch (data.consumeInt(0, 6)) {
                case 0 -> { // the driver publishes a head (any value) at the next slot
                    MEMORY.writeU16(AVAIL + 4 + 2L * (availIdx % size), data.consumeInt(0, 0xffff));
                    availIdx = (availIdx + 1) & 0xffff;
                    MEMORY.writeU16(AVAIL + 2, availIdx);
                }
                case 1 -> MEMORY.writeU16(AVAIL + 2, availIdx = data.consumeInt(0, 0xffff));
                case 2 -> MEMORY.writeU16(AVAIL + 4 + 2L * size, data.consumeInt(0, 0xffff)); // used_event
                case 3 -> descriptor(data, data.consumeBoolean() ? DESC + 16L * data.consumeInt(0, size - 1)
                        : INDIRECT + 16L * data.consumeInt(0, 7));
                case 4 -> {
                    try {
                        DescriptorChain c = q.pop();
                        assertThat(broken).as("a broken queue pops nothing").isFalse();
                        if (c != null) {
                            checkBuffers(c);
                            exercise(c, data);
                            outstanding.add(c);
                        }
                    } catch (VirtqueueException e) {
                        broken = true;
                    }
                }
                case 5 -> {
                    if (!outstanding.isEmpty()) {
                        DescriptorChain c = outstanding.remove(data.consumeInt(0, outstanding.size() - 1));
                        q.complete(c, data.consumeInt() & Integer.MAX_VALUE);
                    }
                }
                default -> {
                    q.setNotificationsEnabled(data.consumeBoolean());
                    q.hasAvailable();
                    q.needsNotification();
                }
            }
        }
        assertThat(errors).hasSize(broken ? 1 : 0);
    }

    /** A descriptor with addresses mostly near guest RAM, so the fuzzer reaches the checks past the range test. */
    private static void descriptor(FuzzedDataProvider data, long at) {
        long addr = data.consumeBoolean() ? data.consumeLong() : data.consumeLong(0, HIGH + HIGH_SIZE + 0x100);
        long len = data.consumeBoolean() ? data.consumeInt() & 0xffff_ffffL : data.consumeLong(0, 0x2100);
        MEMORY.writeU64(at, addr);
        MEMORY.writeU32(at + 8, len);
        MEMORY.writeU16(at + 12, data.consumeInt(0, 7));
        MEMORY.writeU16(at + 14, data.consumeInt(0, 17));
    }

    private static void checkBuffers(DescriptorChain c) {
        for (DescriptorChain.Buffer b : c.readable())
            assertThat(MEMORY.isValid(b.address(), b.length())).as("readable %s inside RAM", b).isTrue();
        for (DescriptorChain.Buffer b : c.writable()) {
            assertThat(MEMORY.isValid(b.address(), b.length())).as("writable %s inside RAM", b).isTrue();
            assertThat(MEMORY.region(b.address(), b.length()).readOnly()).as("writable %s not in ROM", b).isFalse();
        }
    }

    private static void exercise(DescriptorChain c, FuzzedDataProvider data) {
        byte[] buf = new byte[data.consumeInt(0, 0x3000)];
        long offset = data.consumeLong(0, c.readableLength() + c.writableLength() + 16);
        int n = c.read(offset, buf, 0, buf.length);
        assertThat(n).isBetween(0, buf.length);
        n = c.write(offset, buf, 0, buf.length);
        assertThat(n).isBetween(0, buf.length);
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(Math.max(1, buf.length));
            assertThat(c.read(offset, seg)).isBetween(0L, seg.byteSize());
            assertThat(c.write(offset, seg)).isBetween(0L, seg.byteSize());
        }
    }
}
