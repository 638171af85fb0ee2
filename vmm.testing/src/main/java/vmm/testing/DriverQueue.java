package vmm.testing;

import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import vmm.core.memory.GuestMemory;

/**
 * The driver's side of one split virtqueue (virtio 1.2 section 2.7), kept
 * in the test machine's guest memory the way a guest kernel keeps it: a
 * descriptor table with a free list, the available ring it publishes to,
 * the used ring it reaps. Adds direct and indirect chains, kicks through the
 * notify register, and waits for used entries. Raw methods let a test build
 * hostile rings. Not thread-safe; one test thread drives it.
 */
public final class DriverQueue {
    public static final int VIRTQ_DESC_F_NEXT = 1, VIRTQ_DESC_F_WRITE = 2, VIRTQ_DESC_F_INDIRECT = 4;
    public static final int VIRTQ_AVAIL_F_NO_INTERRUPT = 1, VIRTQ_USED_F_NO_NOTIFY = 1;

    /** One used element: the chain's head, the length the device wrote, and those bytes. */
    public record Completion(int head, int length, byte[] data) {}

    private record Pending(List<Integer> descriptors, List<long[]> inBuffers) {}

    private final Runnable kicker;
    private final java.util.function.IntSupplier deviceStatus;
    private final GuestMemory memory;
    private final GuestAllocator allocator;
    private final int index, size;
    private final long desc, avail, used;
    private final Deque<Integer> free = new ArrayDeque<>();
    private final Map<Integer, Pending> pending = new HashMap<>();
    private int availIdx, lastUsed;

    DriverQueue(VirtioDriver driver, GuestMemory memory, GuestAllocator allocator, int index, int size) {
        this(memory, allocator, index, size, () -> driver.notifyQueue(index), driver::status);
    }

    private DriverQueue(GuestMemory memory, GuestAllocator allocator, int index, int size, Runnable kicker,
                        java.util.function.IntSupplier deviceStatus) {
        this.kicker = kicker;
        this.deviceStatus = deviceStatus;
        this.memory = memory;
        this.allocator = allocator;
        this.index = index;
        this.size = size;
        this.desc = allocator.allocate(16L * size, 16);
        this.avail = allocator.allocate(6 + 2L * size, 2);
        this.used = allocator.allocate(6 + 8L * size, 4);
        for (int i = 0; i < size; i++) free.add(i);
    }

    /**
     * The driver side of a queue for a transport other than virtio-pci (for
     * example vhost-user): rings are allocated from {@code allocator},
     * {@link #kick()} runs {@code kicker}. The caller tells the device the
     * ring addresses and size its own way.
     */
    public static DriverQueue standalone(GuestMemory memory, GuestAllocator allocator, int index, int size, Runnable kicker) {
        if (Integer.bitCount(size) != 1 || size > 32768) throw new IllegalArgumentException("queue size must be a power of two up to 32768, was " + size);
        return new DriverQueue(memory, allocator, index, size, kicker, () -> -1);
    }

    public int index() { return index; }
    public int size() { return size; }
    public long descriptorTableAddress() { return desc; }
    public long availRingAddress() { return avail; }
    public long usedRingAddress() { return used; }
    /** Free descriptors in the table. */
    public int freeDescriptors() { return free.size(); }
    /** Chains added and not yet reaped. */
    public int inFlight() { return pending.size(); }

    /**
     * Adds a direct chain: one device-readable descriptor per {@code out}
     * array, then one device-writable descriptor per {@code inSizes} entry;
     * publishes it in the available ring (without kicking). Returns the head.
     */
    public int add(List<byte[]> out, int... inSizes) {
        int n = out.size() + inSizes.length;
        if (n == 0 || n > free.size()) throw new IllegalStateException("cannot add a chain of " + n + " descriptors, " + free.size() + " free");
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) ids.add(free.pop());
        List<long[]> ins = new ArrayList<>();
        writeChain(desc, ids, out, inSizes, ins);
        pending.put(ids.get(0), new Pending(ids, ins));
        publish(ids.get(0));
        return ids.get(0);
    }

    /**
     * Adds a chain as one direct descriptor pointing at an indirect table
     * holding the buffers (section 2.7.5.3); needs INDIRECT_DESC negotiated.
     */
    public int addIndirect(List<byte[]> out, int... inSizes) {
        int n = out.size() + inSizes.length;
        if (n == 0) throw new IllegalArgumentException("empty chain");
        if (free.isEmpty()) throw new IllegalStateException("no free descriptor");
        long table = allocator.allocate(16L * n, 16);
        List<Integer> local = new ArrayList<>();
        for (int i = 0; i < n; i++) local.add(i);
        List<long[]> ins = new ArrayList<>();
        writeChain(table, local, out, inSizes, ins);
        int head = free.pop();
        writeDescriptor(head, table, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
        pending.put(head, new Pending(List.of(head), ins));
        publish(head);
        return head;
    }

    private void writeChain(long table, List<Integer> ids, List<byte[]> out, int[] inSizes, List<long[]> ins) {
        int n = ids.size();
        for (int i = 0; i < n; i++) {
            long addr;
            int len, flags = i + 1 < n ? VIRTQ_DESC_F_NEXT : 0;
            if (i < out.size()) {
                byte[] b = out.get(i);
                len = b.length;
                addr = allocator.allocate(Math.max(1, len), 8);
                memory.write(addr, b, 0, len);
            } else {
                len = inSizes[i - out.size()];
                addr = allocator.allocate(Math.max(1, len), 8);
                flags |= VIRTQ_DESC_F_WRITE;
                ins.add(new long[] {addr, len});
            }
            writeDescriptorAt(table, ids.get(i), addr, len, flags, i + 1 < n ? ids.get(i + 1) : 0);
        }
    }

    /** Writes descriptor {@code i} of this queue's table verbatim (for hostile tests). */
    public void writeDescriptor(int i, long addr, int len, int flags, int next) {
        writeDescriptorAt(desc, i, addr, len, flags, next);
    }

    /** Writes descriptor {@code i} of the table at {@code table} verbatim. */
    public void writeDescriptorAt(long table, int i, long addr, int len, int flags, int next) {
        long d = table + 16L * i;
        memory.writeU64(d, addr);
        memory.writeU32(d + 8, Integer.toUnsignedLong(len));
        memory.writeU16(d + 12, flags);
        memory.writeU16(d + 14, next);
    }

    /** Puts {@code head} in the next available-ring slot and publishes the new index. */
    public void publish(int head) {
        memory.writeU16(avail + 4 + 2L * (availIdx % size), head);
        VarHandle.releaseFence();
        availIdx = (availIdx + 1) & 0xffff;
        memory.writeU16(avail + 2, availIdx);
        VarHandle.fullFence();
    }

    /** Sets the available index verbatim (for hostile tests). */
    public void setAvailIndex(int idx) {
        availIdx = idx & 0xffff;
        memory.writeU16(avail + 2, availIdx);
        VarHandle.fullFence();
    }

    /** Sets the avail ring flags (VIRTQ_AVAIL_F_NO_INTERRUPT). */
    public void setAvailFlags(int flags) {
        memory.writeU16(avail, flags);
    }

    /** Writes used_event, the index after which the driver wants an interrupt (EVENT_IDX). */
    public void setUsedEvent(int v) {
        memory.writeU16(avail + 4 + 2L * size, v);
        VarHandle.fullFence();
    }

    /** The device's used-ring flags (VIRTQ_USED_F_NO_NOTIFY). */
    public int usedFlags() {
        return memory.readU16(used);
    }

    /** The device's avail_event (EVENT_IDX). */
    public int availEvent() {
        return memory.readU16(used + 4 + 8L * size);
    }

    /** The device's used index. */
    public int usedIndex() {
        VarHandle.acquireFence();
        return memory.readU16(used + 2);
    }

    /** Notifies the device of new buffers through its notify register. */
    public void kick() {
        kicker.run();
    }

    /** Reaps the next used element, or returns null when the device has not used one. */
    public Completion poll() {
        if (usedIndex() == lastUsed) return null;
        VarHandle.acquireFence();
        long e = used + 4 + 8L * (lastUsed % size);
        int head = (int) memory.readU32(e);
        int len = (int) memory.readU32(e + 4);
        lastUsed = (lastUsed + 1) & 0xffff;
        Pending p = pending.remove(head);
        if (p == null) throw new AssertionError("device used head " + head + " of queue " + index + ", which the driver did not have in flight");
        byte[] data = new byte[Math.max(0, len)];
        int at = 0;
        for (long[] b : p.inBuffers) {
            int n = (int) Math.min(b[1], len - at);
            if (n <= 0) break;
            memory.read(b[0], data, at, n);
            at += n;
        }
        p.descriptors.forEach(free::push);
        return new Completion(head, len, data);
    }

    /**
     * Waits for the next used element.
     *
     * @throws AssertionError when none arrives within {@code timeout}
     */
    public Completion await(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long pause = 10_000;
        while (true) {
            Completion c = poll();
            if (c != null) return c;
            if (System.nanoTime() > deadline)
                throw new AssertionError("queue " + index + ": no used element within " + timeout + " (" + pending.size()
                        + " in flight, device status 0x" + Integer.toHexString(deviceStatus.getAsInt()) + ")");
            java.util.concurrent.locks.LockSupport.parkNanos(pause);
            pause = Math.min(pause * 2, 1_000_000);
        }
    }
}
