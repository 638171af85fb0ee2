package device.virtio_net.model;

import static device.virtio_net.protocol.VirtioNetSpec.VIRTIO_NET_HDR_SIZE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import vmm.core.virtio.DescriptorChain;
import vmm.core.virtio.VirtQueue;

/**
 * Puts received frames into one receive queue's buffers (section 5.1.6.4):
 * one chain per frame, or, with MRG_RXBUF, as many chains as the frame
 * needs with {@code num_buffers} in the first one's header. Nothing is
 * written to the guest until every chain a frame needs is in hand, so a
 * frame is never delivered in part. Used entries are added without
 * notifying; the caller decides when to interrupt. One thread at a time.
 */
public final class RxWriter {
    public enum Outcome {
        /** The frame is in the used ring. */
        DELIVERED,
        /** The guest has not posted enough buffers: keep the frame, and call again after its next kick. */
        NO_BUFFERS,
        /** Without MRG_RXBUF the posted buffer cannot hold the frame: the frame is dropped, the buffer returned empty. */
        TOO_BIG
    }

    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private final List<DescriptorChain> stash = new ArrayList<>();
    private long stashed;

    /** Whether chains popped for a frame are being held. */
    public boolean holdsBuffers() {
        return !stash.isEmpty();
    }

    /**
     * Places {@code frame} (host memory: the 12-byte header, then the
     * Ethernet frame; its whole size is the frame) into {@code q}. Patches
     * {@code num_buffers} in {@code frame}'s header.
     *
     * @throws vmm.core.virtio.VirtqueueException when the guest broke the ring (reported to the transport by the queue)
     */
    public Outcome place(VirtQueue q, MemorySegment frame, boolean mergeable) {
        return place(q, frame, mergeable, o -> { });
    }

    /**
     * As {@link #place(VirtQueue, MemorySegment, boolean)}, calling {@code beforeUsed} with the outcome
     * (DELIVERED or TOO_BIG) before the used entries that finish the frame are added, so that what it
     * counts is counted before the guest (or a test) can see the frame's buffers come back.
     *
     * @throws vmm.core.virtio.VirtqueueException when the guest broke the ring (reported to the transport by the queue)
     * @since 1.2
     */
    public Outcome place(VirtQueue q, MemorySegment frame, boolean mergeable, Consumer<Outcome> beforeUsed) {
        long len = frame.byteSize();
        if (!mergeable) {
            DescriptorChain c = q.pop();
            if (c == null) return Outcome.NO_BUFFERS;
            if (c.writableLength() < len) {
                // Hand it back empty: kept for later, one small buffer would stop every larger frame behind it.
                beforeUsed.accept(Outcome.TOO_BIG);
                q.addUsed(c, 0);
                return Outcome.TOO_BIG;
            }
            frame.set(LE16, 10, (short) 1);
            c.write(0, frame);
            beforeUsed.accept(Outcome.DELIVERED);
            q.addUsed(c, (int) len);
            return Outcome.DELIVERED;
        }
        while (stashed < len) {
            DescriptorChain c = q.pop();
            if (c == null) return Outcome.NO_BUFFERS;
            if (c.writableLength() < VIRTIO_NET_HDR_SIZE) {
                // Cannot even hold a header (the guest posted a bad buffer): hand it back unused.
                q.addUsed(c, 0);
                continue;
            }
            keep(c);
        }
        frame.set(LE16, 10, (short) stash.size());
        beforeUsed.accept(Outcome.DELIVERED);
        long off = 0;
        for (DescriptorChain c : stash) {
            long n = Math.min(c.writableLength(), len - off);
            c.write(0, frame.asSlice(off, n));
            q.addUsed(c, (int) n);
            off += n;
        }
        stash.clear();
        stashed = 0;
        return Outcome.DELIVERED;
    }

    private void keep(DescriptorChain c) {
        stash.add(c);
        stashed += c.writableLength();
    }

    /**
     * Hands back every held chain with nothing written (pause, reset): the
     * device must not keep guest buffers across a pause. Returns how many.
     */
    public int release(VirtQueue q) {
        int n = stash.size();
        for (DescriptorChain c : stash) {
            try {
                q.addUsed(c, 0);
            } catch (IllegalStateException retired) {
                // the queue was reset under us: the chain is gone with it
            }
        }
        stash.clear();
        stashed = 0;
        return n;
    }

    /** Forgets held chains without using them (the queue they came from is gone). */
    public void forget() {
        stash.clear();
        stashed = 0;
    }
}
