package device.viona;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

import device.virtio_net.backend.NetBackend;
import device.virtio_net.backend.Waker;
import device.virtio_net.protocol.NetHeader;

/**
 * A back end in memory: frames the test injects wait until the device
 * reads them, frames the device sends are recorded with their header, and
 * every read is counted so a test can prove the device did not read.
 */
class FakeBackend implements NetBackend {
    record Sent(NetHeader header, byte[] frame) {}

    final ConcurrentLinkedDeque<byte[]> inbound = new ConcurrentLinkedDeque<>();
    final List<Sent> sent = Collections.synchronizedList(new ArrayList<>());
    final AtomicInteger receiveCalls = new AtomicInteger();
    final int pairs;
    final long offloads;
    volatile long receiveOffloads = -1;
    volatile boolean closed;
    /** Runs on every send before the header is looked at (a guest racing the device). */
    volatile Consumer<MemorySegment> onSend = h -> { };
    private volatile Thread waiter;

    FakeBackend() {
        this(1, 0);
    }

    FakeBackend(int pairs, long offloads) {
        this.pairs = pairs;
        this.offloads = offloads;
    }

    /** Queues {@code frame} (an Ethernet frame) with a plain header, as a host would. */
    void inject(byte[] frame) {
        byte[] f = new byte[HEADER_SIZE + frame.length];
        System.arraycopy(frame, 0, f, HEADER_SIZE, frame.length);
        inbound.addLast(f);
        Thread w = waiter;
        if (w != null) LockSupport.unpark(w);
    }

    List<Sent> sent() {
        synchronized (sent) {
            return List.copyOf(sent);
        }
    }

    @Override public int queuePairs() { return pairs; }
    @Override public long offloadFeatures() { return offloads; }
    @Override public void setReceiveOffloads(long negotiated) { receiveOffloads = negotiated; }

    @Override
    public boolean send(int pair, MemorySegment header, MemorySegment... frame) {
        onSend.accept(header);
        NetHeader h = NetHeader.decode(header);
        int n = 0;
        for (MemorySegment s : frame) n += (int) s.byteSize();
        byte[] b = new byte[n];
        int at = 0;
        for (MemorySegment s : frame) {
            MemorySegment.copy(s, ValueLayout.JAVA_BYTE, 0, b, at, (int) s.byteSize());
            at += (int) s.byteSize();
        }
        sent.add(new Sent(h, b));
        return true;
    }

    @Override
    public int receive(int pair, MemorySegment buffer) {
        receiveCalls.incrementAndGet();
        byte[] f = inbound.pollFirst();
        if (f == null) return 0;
        MemorySegment.copy(f, 0, buffer, ValueLayout.JAVA_BYTE, 0, f.length);
        return f.length;
    }

    @Override
    public boolean await(int pair, boolean readable, Waker waker, long timeoutMillis) {
        waiter = Thread.currentThread();
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
        while (true) {
            if (readable && !inbound.isEmpty()) return true;
            if (waker.isWoken()) return false;
            long left = deadline - System.nanoTime();
            if (left <= 0) return false;
            LockSupport.parkNanos(this, Math.min(left, 1_000_000));
        }
    }

    /** A TAP descriptor to hand to vhost-net, or none (not a TAP). */
    volatile java.util.OptionalInt tapFd = java.util.OptionalInt.empty();

    @Override public java.util.OptionalInt hostDescriptor(int pair) { return tapFd; }
    @Override public String describe() { return "fake"; }
    @Override public void close() { closed = true; }
}
