package vmm.core.virtio;

import java.lang.invoke.VarHandle;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import vmm.core.memory.GuestMemory;

/**
 * The driver's side of a split virtqueue for tests, written straight from
 * virtio 1.2 section 2.7 with no code shared with {@link VirtQueue}: it lays
 * out the three rings in guest memory, writes descriptors verbatim (legal or
 * not), publishes heads, and reads back what the device put in the used ring.
 */
final class TestRing {
    static final int NEXT = 1, WRITE = 2, INDIRECT = 4;
    static final long F_INDIRECT = VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC);
    static final long F_EVENT_IDX = VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX);

    final GuestMemory memory;
    final int size;
    final long desc, avail, used;
    /** Reasons the queue reported through its error callback. */
    final List<String> errors = new CopyOnWriteArrayList<>();
    /** Interrupts the queue asked for. */
    final AtomicInteger interrupts = new AtomicInteger();
    private int availIdx;

    /** Rings for a queue of {@code size} entries laid out from {@code base} (4 KiB aligned is fine). */
    TestRing(GuestMemory memory, int size, long base) {
        this(memory, size, base, base + 16L * size, (base + 16L * size + 6 + 2L * size + 3) & ~3L);
    }

    /** Rings at the given addresses (for the legacy layout). */
    TestRing(GuestMemory memory, int size, long desc, long avail, long used) {
        this.memory = memory;
        this.size = size;
        this.desc = desc;
        this.avail = avail;
        this.used = used;
    }

    VirtQueue queue(long features) {
        return VirtQueue.create(memory, 0, size, desc, avail, used, features, interrupts::incrementAndGet, errors::add);
    }

    /** A queue that continues from driver and device both at {@code index}; the driver side follows. */
    VirtQueue restoredAt(int index, long features) {
        availIdx = index;
        memory.writeU16(avail + 2, index);
        return VirtQueue.restore(memory, 0, size, desc, avail, used, features, index, index,
                interrupts::incrementAndGet, errors::add);
    }

    /** Offers {@code n} single-buffer chains of 16 writable bytes on descriptors 0..n-1, 0x100 apart from {@code buf}. */
    void offerWritable(int n, long buf) {
        for (int i = 0; i < n; i++) {
            desc(i, buf + 0x100L * i, 16, WRITE, 0);
            publish(i);
        }
    }

    void desc(int i, long addr, long len, int flags, int next) {
        descAt(desc, i, addr, len, flags, next);
    }

    void descAt(long table, int i, long addr, long len, int flags, int next) {
        long d = table + 16L * i;
        memory.writeU64(d, addr);
        memory.writeU32(d + 8, len);
        memory.writeU16(d + 12, flags);
        memory.writeU16(d + 14, next);
    }

    /** Puts {@code head} in the next avail slot, then publishes the new index (release order). */
    void publish(int head) {
        memory.writeU16(avail + 4 + 2L * (availIdx % size), head);
        VarHandle.releaseFence();
        availIdx = (availIdx + 1) & 0xffff;
        memory.writeU16(avail + 2, availIdx);
        VarHandle.fullFence();
    }

    void setAvailIdx(int idx) {
        availIdx = idx & 0xffff;
        memory.writeU16(avail + 2, availIdx);
    }

    void setAvailFlags(int flags) {
        memory.writeU16(avail, flags);
    }

    void setUsedEvent(int v) {
        memory.writeU16(avail + 4 + 2L * size, v);
    }

    int usedIdx() {
        return memory.readU16(used + 2);
    }

    int usedFlags() {
        return memory.readU16(used);
    }

    int availEvent() {
        return memory.readU16(used + 4 + 8L * size);
    }

    /** The used element at free-running used index {@code i}: {id, len}. */
    long[] usedElem(int i) {
        long e = used + 4 + 8L * (i % size);
        return new long[] {memory.readU32(e), memory.readU32(e + 4)};
    }

    /** The specification's vring_need_event, transcribed with its u16 casts. */
    static boolean vringNeedEvent(int eventIdx, int newIdx, int old) {
        // (__u16)(new_idx - event_idx - 1) < (__u16)(new_idx - old)
        return Short.toUnsignedInt((short) (newIdx - eventIdx - 1)) < Short.toUnsignedInt((short) (newIdx - old));
    }
}
