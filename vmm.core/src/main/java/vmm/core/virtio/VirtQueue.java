package vmm.core.virtio;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.Consumer;

import vmm.core.memory.GuestMemory;
import vmm.core.memory.GuestMemoryException;
import vmm.core.memory.RamRegion;

/**
 * The device side of one split virtqueue (virtio 1.2 section 2.7): takes
 * descriptor chains the driver made available, checking every rule a
 * hostile guest could break, and returns them through the used ring with
 * the notification suppression the driver asked for.
 *
 * <p>A guest error found while popping (a loop, an index out of range, a
 * buffer outside RAM, ...) is reported once to the transport's error
 * callback, which puts the device in DEVICE_NEEDS_RESET, and then thrown as
 * {@link VirtqueueException}; the queue stays broken and every later
 * {@link #pop()} throws again, until the driver resets the device and the
 * transport makes a new queue. Misuse by the device itself (completing a
 * chain twice) throws {@link IllegalStateException}.
 *
 * <p>Thread-safe: every method synchronizes on the queue, so a vCPU may pop
 * while a worker completes. Interrupt and error callbacks run after the
 * queue's lock is released.
 *
 * <p>Memory ordering follows section 2.7.13 and Linux's virtio_ring: the
 * avail index is read before the entries it publishes (acquire fence), a
 * used element is written before the used index that publishes it (release
 * fence), and a full fence separates publishing the used index (or
 * avail_event) from reading the driver's suppression fields.
 */
public final class VirtQueue {
    /** Descriptor flag: the chain continues at {@code next}. */
    public static final int VIRTQ_DESC_F_NEXT = 1;
    /** Descriptor flag: the buffer is device-writable. */
    public static final int VIRTQ_DESC_F_WRITE = 2;
    /** Descriptor flag: the buffer holds a table of indirect descriptors. */
    public static final int VIRTQ_DESC_F_INDIRECT = 4;
    /** Avail ring flag: the driver does not want used-buffer notifications (without EVENT_IDX). */
    public static final int VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
    /** Used ring flag: the device does not want available-buffer notifications (without EVENT_IDX). */
    public static final int VIRTQ_USED_F_NO_NOTIFY = 1;
    /** The largest queue size a split virtqueue can have. */
    public static final int MAX_SIZE = 32768;
    /** Required alignment of the descriptor table, available ring and used ring (section 2.7, table). */
    public static final int DESC_ALIGN = 16, AVAIL_ALIGN = 2, USED_ALIGN = 4;

    /**
     * The most descriptors one indirect table may hold. The specification
     * bounds a chain by the queue size, but Linux builds indirect tables
     * longer than small queues; this bound only stops a guest from making
     * the device walk a table of 2^28 entries.
     */
    static final int MAX_INDIRECT_DESCRIPTORS = MAX_SIZE;
    private static final long MAX_CHAIN_BYTES = 0xffff_ffffL;
    private static final int DESC_SIZE = 16;

    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final GuestMemory memory;
    private final int index, size, mask;
    private final long desc, avail, used;
    private final long features;
    private final boolean indirectDesc, eventIdx;
    private final Runnable interrupt;
    private final Consumer<String> errors;
    private final Object lock = new Object();

    // Guarded by lock. Ring indices are free-running u16 values, as in the rings.
    private int lastAvail;
    /** The driver's avail idx as last read; entries in [lastAvail, shadowAvail) are known to be published. */
    private int shadowAvail;
    private int usedIdx;
    /** Used idx at the last notification decision, the "old" of vring_need_event. */
    private int signalledUsed;
    private boolean signalledValid;
    private boolean notifications = true;
    /** What this queue last wrote to avail_event, or -1; the field is device-owned, so the copy stays true. */
    private int availEventWritten = -1;
    private final boolean[] inFlight;
    private int outstanding;
    private String broken;
    private boolean retired;
    /** The transport stopped the ring ({@link #stop()}): nothing more taken from it, no notification field written. */
    private boolean stopped;
    /** Where completions are counted (the device instance's counters), or null. */
    private volatile vmm.core.device.DeviceCounters counters;
    /** Walk buffer reused by every pop (address, length pairs); chains get an exact-size copy. */
    private long[] scratch = new long[32];

    private VirtQueue(GuestMemory memory, int index, int size, long desc, long avail, long used, long features,
                      Runnable interrupt, Consumer<String> errors) {
        this.memory = memory;
        this.index = index;
        this.size = size;
        this.mask = size - 1;
        this.desc = desc;
        this.avail = avail;
        this.used = used;
        this.features = features;
        this.indirectDesc = (features & VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC)) != 0;
        this.eventIdx = (features & VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX)) != 0;
        this.interrupt = interrupt;
        this.errors = errors;
        this.inFlight = new boolean[size];
    }

    /**
     * Makes a fresh queue as the driver just enabled it: both ring indices
     * 0. Called by a transport; writes the device-owned used-ring fields
     * (flags, idx, avail_event) so the driver notifies the device.
     *
     * @param features  the negotiated feature bits; RING_INDIRECT_DESC and RING_EVENT_IDX matter here
     * @param interrupt run to send a used-buffer notification (an interrupt) to the driver
     * @param errors    told, once, the reason of the first guest error found in this queue
     * @throws VirtqueueException when the size is not a power of two in 1..32768, a ring is misaligned
     *                            or not wholly inside one RAM region, or the used ring is read-only
     */
    public static VirtQueue create(GuestMemory memory, int index, int size, long descTable, long availRing,
                                   long usedRing, long features, Runnable interrupt, Consumer<String> errors) {
        VirtQueue q = validated(memory, index, size, descTable, availRing, usedRing, features, interrupt, errors);
        q.start(0, 0, true);
        return q;
    }

    /**
     * Makes a queue that carries on from saved indices (state restore): the
     * next chain popped is the one at avail ring position
     * {@code lastAvailIndex}, the next used element goes to
     * {@code usedIndex}. The queue must have been saved with nothing
     * outstanding (its device paused), as chains popped earlier cannot be
     * completed on the new queue. The first notification decision after a
     * restore always interrupts, since the last one is not known.
     *
     * @throws VirtqueueException       as {@link #create}
     * @throws IllegalArgumentException when an index is not a u16 value
     */
    public static VirtQueue restore(GuestMemory memory, int index, int size, long descTable, long availRing,
                                    long usedRing, long features, int lastAvailIndex, int usedIndex,
                                    Runnable interrupt, Consumer<String> errors) {
        if ((lastAvailIndex & ~0xffff) != 0 || (usedIndex & ~0xffff) != 0)
            throw new IllegalArgumentException("ring indices are 16-bit, were " + lastAvailIndex + " and " + usedIndex);
        VirtQueue q = validated(memory, index, size, descTable, availRing, usedRing, features, interrupt, errors);
        q.start(lastAvailIndex, usedIndex, false);
        return q;
    }

    private static VirtQueue validated(GuestMemory memory, int index, int size, long descTable, long availRing,
                                       long usedRing, long features, Runnable interrupt, Consumer<String> errors) {
        Objects.requireNonNull(memory, "memory");
        Objects.requireNonNull(interrupt, "interrupt");
        Objects.requireNonNull(errors, "errors");
        if (index < 0) throw new IllegalArgumentException("negative queue index " + index);
        if (size < 1 || size > MAX_SIZE || Integer.bitCount(size) != 1)
            throw new VirtqueueException("queue " + index + ": size " + size + " is not a power of two in 1.." + MAX_SIZE);
        checkRing(memory, index, "descriptor table", descTable, descTableSize(size), DESC_ALIGN, false);
        checkRing(memory, index, "available ring", availRing, availRingSize(size), AVAIL_ALIGN, false);
        checkRing(memory, index, "used ring", usedRing, usedRingSize(size), USED_ALIGN, true);
        return new VirtQueue(memory, index, size, descTable, availRing, usedRing, features, interrupt, errors);
    }

    private static void checkRing(GuestMemory memory, int index, String what, long at, long length, int align,
                                  boolean written) {
        if ((at & (align - 1)) != 0)
            throw new VirtqueueException(String.format("queue %d: %s at 0x%x is not %d-byte aligned", index, what, at, align));
        RamRegion r;
        try {
            r = memory.region(at, length);
        } catch (GuestMemoryException e) {
            throw new VirtqueueException(String.format("queue %d: %s [0x%x, +0x%x) is not in guest RAM: %s",
                    index, what, at, length, e.getMessage()));
        }
        if (written && r.readOnly())
            throw new VirtqueueException(String.format("queue %d: %s at 0x%x is in read-only memory (%s)",
                    index, what, at, r.name()));
    }

    private void start(int lastAvailIndex, int usedIndex, boolean fresh) {
        synchronized (lock) {
            lastAvail = shadowAvail = lastAvailIndex;
            usedIdx = signalledUsed = usedIndex;
            // After a restore the last notification decision is unknown; one
            // spurious interrupt is harmless, a missed one hangs the driver.
            signalledValid = fresh;
            memory.writeU16(used, 0);
            memory.writeU16(used + 2, usedIdx);
            if (eventIdx) writeAvailEvent(lastAvail);
            VarHandle.fullFence();
        }
    }

    /** Bytes of the descriptor table of a queue of {@code size} entries. */
    public static long descTableSize(int size) {
        return (long) DESC_SIZE * size;
    }

    /** Bytes of the available ring of a queue of {@code size} entries, used_event included. */
    public static long availRingSize(int size) {
        return 6 + 2L * size;
    }

    /** Bytes of the used ring of a queue of {@code size} entries, avail_event included. */
    public static long usedRingSize(int size) {
        return 6 + 8L * size;
    }

    // --- Taking chains --------------------------------------------------------

    /**
     * Takes the next available chain, or returns null when the driver has
     * made none available (or the queue was stopped or retired). With
     * EVENT_IDX and notifications enabled, an empty queue also asks the
     * driver to notify on its next buffer, so a device that pops until null
     * never misses one.
     *
     * @throws VirtqueueException when the ring or the chain breaks a rule;
     *                            the reason went to the error callback first
     */
    public DescriptorChain pop() {
        String failure;
        synchronized (lock) {
            if (broken != null) throw new VirtqueueException(broken);
            if (retired || stopped) return null;
            try {
                return popLocked();
            } catch (VirtqueueException e) {
                broken = e.getMessage();
                failure = broken;
            }
        }
        VirtqueueException e = new VirtqueueException(failure);
        try {
            errors.accept(failure);
        } catch (RuntimeException r) {
            e.addSuppressed(r);
        }
        throw e;
    }

    private DescriptorChain popLocked() {
        if (lastAvail == shadowAvail && !refreshAvail()) return null;
        int slot = lastAvail;
        int head = memory.readU16(avail + 4 + 2L * (slot & mask));
        if (head >= size)
            throw error("available ring entry %d names head %d, beyond the queue size %d", slot, head, size);
        if (inFlight[head])
            throw error("head %d was made available again while the device still owns it", head);
        DescriptorChain c = walk(head);
        lastAvail = (slot + 1) & 0xffff;
        inFlight[head] = true;
        outstanding++;
        // No event before Flight Recorder runs: JFR loads and instruments an event class on its first use (some
        // 100 ms), which must not delay the guest's first request. With a recording the event is enabled;
        // without one the JIT drops the allocation.
        if (jdk.jfr.FlightRecorder.isInitialized()) {
            vmm.core.events.VirtioRequestEvent e = new vmm.core.events.VirtioRequestEvent();
            if (e.isEnabled()) {
                e.begin();
                c.event = e;
            }
        }
        return c;
    }

    /** Reads the driver's avail idx; returns whether entries are pending. */
    private boolean refreshAvail() {
        readAvailIdx();
        if (lastAvail != shadowAvail) return true;
        if (eventIdx && notifications) {
            // Ask for a notification on the next entry, then look once more: a
            // driver publishing concurrently either is seen by this second read
            // or, after its own full barrier, reads the new avail_event and notifies.
            writeAvailEvent(lastAvail);
            VarHandle.fullFence();
            readAvailIdx();
            return lastAvail != shadowAvail;
        }
        return false;
    }

    private void readAvailIdx() {
        int idx = memory.readU16(avail + 2);
        // Entries and descriptors read after this see what the driver wrote before publishing idx.
        VarHandle.acquireFence();
        if (((idx - lastAvail) & 0xffff) > size)
            throw error("available index moved from %d to %d, more than the queue size %d ahead", lastAvail, idx, size);
        shadowAvail = idx;
    }

    private void writeAvailEvent(int value) {
        if (value != availEventWritten) {
            memory.writeU16(used + 4 + 8L * size, value);
            availEventWritten = value;
        }
    }

    /**
     * Follows the chain at {@code head} through the descriptor table and, if
     * its last descriptor is indirect, through that table, collecting and
     * checking the buffers.
     */
    private DescriptorChain walk(int head) {
        long[] buf = scratch;
        int pieces = 0, readablePieces = 0;
        long readable = 0, writable = 0;
        long table = desc;
        int tableSize = size, idx = head, visited = 0;
        boolean indirect = false;
        while (true) {
            if (++visited > tableSize) {
                throw indirect ? error("head %d: the indirect table of %d descriptors loops", head, tableSize)
                        : error("head %d: the chain is longer than the queue size %d (a loop)", head, size);
            }
            MemorySegment d = memory.slice(table + (long) DESC_SIZE * idx, DESC_SIZE);
            long addr = d.get(LE64, 0);
            long len = Integer.toUnsignedLong(d.get(LE32, 8));
            int flags = Short.toUnsignedInt(d.get(LE16, 12));
            int next = Short.toUnsignedInt(d.get(LE16, 14));

            if ((flags & VIRTQ_DESC_F_INDIRECT) != 0) {
                if (indirect)
                    throw error("head %d: descriptor %d of the indirect table is itself INDIRECT", head, idx);
                if (!indirectDesc)
                    throw error("head %d: descriptor %d is INDIRECT, but VIRTIO_F_INDIRECT_DESC was not negotiated", head, idx);
                if ((flags & VIRTQ_DESC_F_NEXT) != 0)
                    throw error("head %d: descriptor %d has both INDIRECT and NEXT", head, idx);
                if (len == 0 || len % DESC_SIZE != 0)
                    throw error("head %d: indirect table of %d bytes is not a non-empty multiple of %d", head, len, DESC_SIZE);
                if (len / DESC_SIZE > MAX_INDIRECT_DESCRIPTORS)
                    throw error("head %d: indirect table of %d descriptors exceeds %d", head, len / DESC_SIZE, MAX_INDIRECT_DESCRIPTORS);
                if (!memory.isValid(addr, len))
                    throw error("head %d: indirect table [0x%x, +0x%x) is not in guest RAM", head, addr, len);
                // The WRITE flag of the indirect descriptor itself means nothing (2.7.5.3.1).
                table = addr;
                tableSize = (int) (len / DESC_SIZE);
                idx = 0;
                visited = 0;
                indirect = true;
                continue;
            }

            if (len == 0) throw error("head %d: descriptor %d has length 0", head, idx);
            boolean w = (flags & VIRTQ_DESC_F_WRITE) != 0;
            if (w) {
                writable += len;
            } else {
                if (writable != 0)
                    throw error("head %d: device-readable descriptor %d follows a device-writable one", head, idx);
                readable += len;
            }
            if (readable + writable > MAX_CHAIN_BYTES)
                throw error("head %d: the chain's buffers total more than 2^32-1 bytes", head);
            checkBuffer(head, idx, addr, len, w);
            // Split so each Buffer's length fits an int; only multi-GiB descriptors do this.
            for (long a = addr, left = len; left > 0; ) {
                long n = Math.min(left, Integer.MAX_VALUE);
                if (2 * pieces + 2 > buf.length) buf = scratch = Arrays.copyOf(buf, buf.length * 2);
                buf[2 * pieces] = a;
                buf[2 * pieces + 1] = n;
                pieces++;
                if (!w) readablePieces++;
                a += n;
                left -= n;
            }

            if ((flags & VIRTQ_DESC_F_NEXT) == 0) break;
            if (next >= tableSize) {
                throw indirect ? error("head %d: descriptor %d of the indirect table has next %d, beyond its %d entries",
                        head, idx, next, tableSize)
                        : error("head %d: descriptor %d has next %d, beyond the queue size %d", head, idx, next, size);
            }
            idx = next;
        }
        return new DescriptorChain(this, memory, head, Arrays.copyOf(buf, 2 * pieces), pieces, readablePieces,
                readable, writable);
    }

    private void checkBuffer(int head, int idx, long addr, long len, boolean writable) {
        RamRegion r;
        try {
            r = memory.region(addr, len);
        } catch (GuestMemoryException e) {
            throw error("head %d: descriptor %d buffer [0x%x, +0x%x) is not inside one RAM region", head, idx, addr, len);
        }
        if (writable && r.readOnly())
            throw error("head %d: descriptor %d is device-writable but in read-only memory (%s)", head, idx, r.name());
    }

    private VirtqueueException error(String format, Object... args) {
        return new VirtqueueException("queue " + index + ": " + String.format(format, args));
    }

    // --- Returning chains -----------------------------------------------------

    /**
     * Puts {@code chain} in the used ring with {@code written} bytes written
     * (clamped to its writable length) and publishes it, without notifying
     * the driver; call {@link #needsNotification()} after a batch. Any thread.
     *
     * @throws IllegalArgumentException when {@code chain} came from another queue or {@code written} is negative
     * @throws IllegalStateException    when the chain was already completed, or the queue was retired by a reset
     */
    public void addUsed(DescriptorChain chain, int written) {
        checkCompletion(chain, written);
        synchronized (lock) {
            addUsedLocked(chain, written);
        }
    }

    /**
     * {@link #addUsed} followed by a notification if the driver wants one
     * ({@link #needsNotification()}); the usual way to finish a request.
     * The interrupt is sent after the queue's lock is released.
     *
     * @throws IllegalArgumentException as {@link #addUsed}
     * @throws IllegalStateException    as {@link #addUsed}
     */
    public void complete(DescriptorChain chain, int written) {
        checkCompletion(chain, written);
        boolean notify;
        synchronized (lock) {
            addUsedLocked(chain, written);
            notify = needsNotificationLocked();
        }
        if (notify) interrupt.run();
    }

    private void checkCompletion(DescriptorChain chain, int written) {
        Objects.requireNonNull(chain, "chain");
        if (chain.queue != this)
            throw new IllegalArgumentException("queue " + index + ": " + chain + " was popped from another queue object");
        if (written < 0) throw new IllegalArgumentException("queue " + index + ": negative written length " + written);
    }

    private void addUsedLocked(DescriptorChain c, int written) {
        int head = c.head();
        if (retired) throw new IllegalStateException("queue " + index + " was reset; head " + head + " can no longer be completed");
        if (c.completed || !inFlight[head])
            throw new IllegalStateException("queue " + index + ": head " + head + " is not outstanding (completed twice?)");
        long len = Math.min(written, c.writableLength());
        MemorySegment e = memory.writableSlice(used + 4 + 8L * (usedIdx & mask), 8);
        e.set(LE32, 0, head);
        e.set(LE32, 4, (int) len);
        usedIdx = (usedIdx + 1) & 0xffff;
        c.completed = true;
        inFlight[head] = false;
        outstanding--;
        // Counted and recorded before the index is published: whoever sees the completion (the
        // driver, a test, a monitor) finds it in the counters and in a recording stopped then.
        vmm.core.device.DeviceCounters k = counters;
        if (k != null) k.completed(len);
        vmm.core.events.VirtioRequestEvent event = c.event;
        if (event != null) {
            c.event = null;
            event.device = k == null ? "" : k.instanceId();
            event.queue = index;
            event.head = head;
            event.bytesRead = c.readableLength();
            event.bytesWritten = len;
            event.commit();
        }
        // The element must be visible before the index that publishes it.
        VarHandle.releaseFence();
        memory.writeU16(used + 2, usedIdx);
    }

    /**
     * Counts every chain this queue completes from now on in {@code counters}
     * (one request, its used length in bytes); null stops counting. Called
     * by the transport when it creates the queue; any thread.
     */
    public void countInto(vmm.core.device.DeviceCounters counters) {
        this.counters = counters;
    }

    /**
     * Whether the driver wants a used-buffer notification for what was added
     * since the last decision (section 2.7.10): with EVENT_IDX, whether the
     * used index passed used_event ({@code vring_need_event}); without it,
     * whether VIRTQ_AVAIL_F_NO_INTERRUPT is clear. Each call consumes the
     * entries added so far, so ask once per batch and notify if true.
     */
    public boolean needsNotification() {
        synchronized (lock) {
            return needsNotificationLocked();
        }
    }

    private boolean needsNotificationLocked() {
        // The used idx store must be visible before the driver's fields are read,
        // or a driver re-enabling interrupts concurrently would be missed.
        VarHandle.fullFence();
        if (eventIdx) {
            int event = memory.readU16(avail + 4 + 2L * size);
            int old = signalledUsed;
            boolean valid = signalledValid;
            signalledUsed = usedIdx;
            signalledValid = true;
            return !valid || needEvent(event, usedIdx, old);
        }
        return (memory.readU16(avail) & VIRTQ_AVAIL_F_NO_INTERRUPT) == 0;
    }

    /** The specification's {@code vring_need_event}: whether {@code event} lies in [old, new) on u16 indices. */
    static boolean needEvent(int event, int newIdx, int oldIdx) {
        return ((newIdx - event - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
    }

    /** Sends a used-buffer notification (interrupt) to the driver now, whatever it asked. */
    public void notifyGuest() {
        interrupt.run();
    }

    // --- Driver notifications -------------------------------------------------

    /**
     * Asks the driver to send (true) or not to send (false) available-buffer
     * notifications: VIRTQ_USED_F_NO_NOTIFY, or with EVENT_IDX the
     * avail_event field. Only a hint to the driver. After enabling, a device
     * must check {@link #hasAvailable()} (or pop until null) before it sleeps,
     * as buffers made available while notifications were off were not notified.
     */
    public void setNotificationsEnabled(boolean enabled) {
        synchronized (lock) {
            notifications = enabled;
            if (stopped || retired) return;
            if (eventIdx) {
                // Disabling leaves avail_event behind, so the driver's need_event test fails;
                // enabling asks for a notification on the first entry after those seen.
                if (enabled) writeAvailEvent(shadowAvail);
            } else {
                memory.writeU16(used, enabled ? 0 : VIRTQ_USED_F_NO_NOTIFY);
            }
            if (enabled) VarHandle.fullFence();
        }
    }

    /** Whether notifications are requested, as last set by {@link #setNotificationsEnabled}. */
    public boolean notificationsEnabled() {
        synchronized (lock) {
            return notifications;
        }
    }

    /**
     * Whether the driver has made a chain available that {@link #pop()} has not taken; false once broken, stopped
     * or retired.
     */
    public boolean hasAvailable() {
        synchronized (lock) {
            if (broken != null || retired || stopped) return false;
            if (lastAvail != shadowAvail) return true;
            int idx = memory.readU16(avail + 2);
            VarHandle.acquireFence();
            return idx != lastAvail;
        }
    }

    // --- State ----------------------------------------------------------------

    /** The queue's index in its device. */
    public int index() {
        return index;
    }

    /** The number of descriptors, a power of two. */
    public int size() {
        return size;
    }

    /** Guest address of the descriptor table. */
    public long descTableAddress() {
        return desc;
    }

    /** Guest address of the available (driver) ring. */
    public long availRingAddress() {
        return avail;
    }

    /** Guest address of the used (device) ring. */
    public long usedRingAddress() {
        return used;
    }

    /** The negotiated features this queue was made with. */
    public long features() {
        return features;
    }

    /** The avail ring position of the next chain to pop (free-running u16), for saving state. */
    public int lastAvailIndex() {
        synchronized (lock) {
            return lastAvail;
        }
    }

    /** The used index last published (free-running u16), for saving state. */
    public int usedIndex() {
        synchronized (lock) {
            return usedIdx;
        }
    }

    /**
     * Takes over the ring position another engine reached while it served
     * this queue outside the VMM (the host kernel's vhost-net): the next chain
     * popped is the one at avail position {@code lastAvailIndex} (what
     * {@code VHOST_GET_VRING_BASE} reports), and the next used element goes
     * where that engine's last one ended, the used index it published in the
     * ring. Call only with this queue idle (its device paused, nothing
     * outstanding here) and the other engine stopped. The used index is read
     * from guest memory: if it is not within one ring of
     * {@code lastAvailIndex} behind it (the guest wrote the device's field),
     * the queue breaks as for any guest error and the error callback is told.
     *
     * @throws IllegalArgumentException when {@code lastAvailIndex} is not a u16 value
     * @throws IllegalStateException    when chains popped here are outstanding
     */
    public void adoptRingPosition(int lastAvailIndex) {
        if ((lastAvailIndex & ~0xffff) != 0) throw new IllegalArgumentException("an avail index is 16-bit, was " + lastAvailIndex);
        String failure;
        synchronized (lock) {
            if (outstanding != 0)
                throw new IllegalStateException("queue " + index + ": " + outstanding + " chains outstanding; pause the device first");
            if (retired || stopped || broken != null) return;
            int usedNow = memory.readU16(used + 2);
            int taken = (lastAvailIndex - usedNow) & 0xffff;
            if (taken <= size) {
                lastAvail = shadowAvail = lastAvailIndex;
                usedIdx = usedNow;
                // The other engine's last notification decision is unknown here, as after a restore.
                signalledValid = false;
                if (eventIdx) writeAvailEvent(lastAvail);
                VarHandle.fullFence();
                return;
            }
            broken = String.format("queue %d: used index %d is %d behind the avail position %d taken over, more than the ring's %d",
                    index, usedNow, taken, lastAvailIndex, size);
            failure = broken;
        }
        errors.accept(failure);
    }

    /**
     * Whether the device has nothing left to do on this queue: no chain offered and not popped, none popped and
     * not completed; true once broken, stopped or retired. What a deterministic run's notify waits for.
     */
    boolean settled() {
        synchronized (lock) {
            if (broken != null || retired || stopped) return true;
            if (outstanding > 0 || lastAvail != shadowAvail) return false;
            int idx = memory.readU16(avail + 2);
            VarHandle.acquireFence();
            return idx == lastAvail;
        }
    }

    /** Chains popped and not yet completed. */
    public int outstanding() {
        synchronized (lock) {
            return outstanding;
        }
    }

    /** The guest error that broke this queue, or null while it is healthy. */
    public String error() {
        synchronized (lock) {
            return broken;
        }
    }

    /**
     * Stops taking work from the ring, for a transport whose driver takes a
     * ring back without resetting the device (vhost-user's GET_VRING_BASE,
     * or SET_VRING_ENABLE 0): later pops return null, and the avail ring and
     * avail_event are neither read nor written again, however the device is
     * woken meanwhile; chains already popped may still be completed, so the
     * device can finish what it took. Irreversible: a ring started again is a
     * new queue. Any thread; idempotent.
     */
    public void stop() {
        synchronized (lock) {
            stopped = true;
        }
    }

    /** Whether {@link #stop()} was called. */
    public boolean stopped() {
        synchronized (lock) {
            return stopped;
        }
    }

    /**
     * Ends the queue's life after a device reset: later pops return null and
     * completions throw, so a late completion cannot write into rings the
     * driver has since reused. Called by the transport.
     */
    void retire() {
        synchronized (lock) {
            retired = true;
        }
    }

    @Override
    public String toString() {
        synchronized (lock) {
            return String.format("VirtQueue[%d size %d desc 0x%x avail 0x%x used 0x%x last_avail %d used %d"
                    + " outstanding %d%s%s]", index, size, desc, avail, used, lastAvail, usedIdx, outstanding,
                    broken == null ? "" : " broken", stopped ? " stopped" : "");
        }
    }
}
