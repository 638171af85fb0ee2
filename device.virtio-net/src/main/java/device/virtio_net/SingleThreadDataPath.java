package device.virtio_net;

import static device.virtio_net.protocol.VirtioNetSpec.*;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

import device.virtio_net.backend.NetBackend;
import device.virtio_net.backend.Waker;
import device.virtio_net.model.DataPath;
import device.virtio_net.model.NetModel;
import device.virtio_net.model.RxWriter;
import device.virtio_net.protocol.MacAddress;
import device.virtio_net.protocol.NetCounters.Counter;
import device.virtio_net.protocol.NetHeader;
import vmm.core.virtio.DescriptorChain;
import vmm.core.virtio.IoLoopGate;
import vmm.core.virtio.VirtQueue;
import vmm.core.virtio.VirtioContext;
import vmm.core.virtio.VirtqueueException;

/**
 * virtio-net's data path, the plain one: a single I/O thread per device,
 * woken by the guest's kicks and by the back end, that copies every frame
 * through a host buffer and completes (and interrupts) frame by frame, the
 * way bhyve's virtio-net works on its exit path, but off the vCPU.
 *
 * <p>Receive without loss: when the guest has posted no receive buffer the
 * thread stops reading the back end (frames stay queued in the host) and
 * waits for the guest's next kick.
 */
final class SingleThreadDataPath implements DataPath {
    private static final Logger LOG = Logger.getLogger(SingleThreadDataPath.class.getName());
    /** Upper bound of one wait, so a missed wake costs latency, never a hang. */
    private static final long IDLE_POLL_MS = 200;

    private final NetModel.Wiring w;
    private final NetBackend backend;
    private final Waker waker = new Waker();
    private final Arena arena = Arena.ofShared();
    private final MemorySegment txBuf = arena.allocate(VIRTIO_NET_HDR_SIZE + MAX_GSO_FRAME, 64);
    private final MemorySegment rxBuf = arena.allocate(VIRTIO_NET_HDR_SIZE + MAX_GSO_FRAME, 64);
    private final RxWriter rx = new RxWriter();
    private final Deque<byte[]> pending = new ArrayDeque<>();
    /** Destination address of the frame being filtered; the I/O thread's own. */
    private final byte[] dst = new byte[6];
    private final IoLoopGate gate;
    private Thread thread;
    // Guarded by the gate's lock.
    private boolean txBroken, rxBroken;
    private boolean stalled;
    private int dropLogs;

    SingleThreadDataPath(NetModel.Wiring wiring) {
        this.w = wiring;
        this.backend = wiring.backend();
        this.gate = new IoLoopGate("virtio-net " + wiring.instanceId() + ": the I/O thread", 1, waker::wake);
    }

    @Override
    public String engine() {
        return "in-process, one I/O thread, frame-by-frame";
    }

    @Override
    public void start() {
        thread = Thread.ofPlatform().daemon().name("virtio-net " + w.instanceId()).start(this::run);
    }

    @Override
    public void activate(VirtioContext context, int activePairs) {
        gate.activate(context, () -> txBroken = rxBroken = false);
    }

    @Override
    public void kick(int queue) {
        if (!gate.closed()) waker.wake();
    }

    @Override
    public void setActivePairs(int pairs) { }

    @Override
    public void pause() {
        gate.pause();
    }

    @Override
    public void resume() {
        gate.resume();
    }

    @Override
    public void reset() {
        gate.reset(() -> {
            rx.forget();
            pending.clear();
        });
    }

    @Override
    public void stop() {
        if (gate.stop() && gate.join(thread)) {
            // Only once the thread is gone: it may still touch the buffers and the eventfd.
            waker.close();
            arena.close();
        }
    }

    @Override
    public List<byte[]> pendingFrames() {
        synchronized (gate.lock()) {
            return new ArrayList<>(pending);
        }
    }

    @Override
    public void restorePendingFrames(List<byte[]> frames) {
        synchronized (gate.lock()) {
            pending.addAll(frames);
        }
    }

    private void run() {
        waker.bindCurrentThread();
        while (true) {
            VirtioContext c = gate.next(0, () -> false, this::releaseHeld);
            if (c == null) return;
            waker.clear();
            try {
                boolean worked = serveTx(c);
                boolean wantRead = serveRx(c);
                if (!worked) backend.await(0, wantRead, waker, IDLE_POLL_MS);
            } catch (IOException e) {
                LOG.log(Level.WARNING, "device {0}: back end {1}: {2}", new Object[] {w.instanceId(), backend.describe(), e.getMessage()});
                sleepQuietly();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "device " + w.instanceId() + ": data path error", e);
                c.deviceError("virtio-net: " + e);
                synchronized (gate.lock()) {
                    txBroken = rxBroken = true;
                }
            }
        }
    }

    /** Pause or reset with chains held for a frame: hand them back empty, keep nothing of the guest's. */
    private void releaseHeld() {
        VirtioContext c = gate.context();
        if (c != null && rx.holdsBuffers()) {
            VirtQueue q = c.queue(0);
            if (q != null && rx.release(q) > 0 && q.needsNotification()) q.notifyGuest();
        }
    }

    private boolean serveTx(VirtioContext c) {
        VirtQueue q = c.queue(1);
        if (q == null || txBroken) return false;
        boolean worked = false;
        try {
            DescriptorChain chain;
            while ((chain = q.pop()) != null) {
                transmit(c, chain);
                q.complete(chain, 0);
                worked = true;
            }
        } catch (VirtqueueException e) {
            txBroken = true; // reported by the queue: DEVICE_NEEDS_RESET
        }
        return worked;
    }

    private void transmit(VirtioContext c, DescriptorChain chain) throws VirtqueueException {
        long len = chain.readableLength();
        if (len < VIRTIO_NET_HDR_SIZE || len > txBuf.byteSize()) {
            drop("transmit chain of " + len + " bytes (header " + VIRTIO_NET_HDR_SIZE + ", at most " + txBuf.byteSize() + ")");
            return;
        }
        MemorySegment frame = txBuf.asSlice(0, len);
        chain.read(0, frame);
        NetHeader h = NetHeader.decode(frame);
        String why = h.checkTx(c.negotiatedFeatures(), (int) len - VIRTIO_NET_HDR_SIZE, w.options().mtu());
        if (why != null) {
            drop(why);
            return;
        }
        h.withNumBuffers(0).encode(frame);
        try {
            if (backend.send(0, frame.asSlice(0, VIRTIO_NET_HDR_SIZE), frame.asSlice(VIRTIO_NET_HDR_SIZE))) {
                w.counters().increment(Counter.TX_PACKETS);
                w.counters().add(Counter.TX_BYTES, len - VIRTIO_NET_HDR_SIZE);
            } else {
                w.counters().increment(Counter.TX_BACKEND_ERRORS);
            }
        } catch (IOException e) {
            w.counters().increment(Counter.TX_BACKEND_ERRORS);
            LOG.log(Level.WARNING, "device {0}: send: {1}", new Object[] {w.instanceId(), e.getMessage()});
        }
    }

    private void drop(String why) {
        w.counters().increment(Counter.TX_DROPPED);
        if (dropLogs++ < 10) LOG.log(Level.INFO, "device {0}: dropped a transmitted frame: {1}", new Object[] {w.instanceId(), why});
    }

    /**
     * Delivers what is pending, then frames from the back end while the
     * guest has buffers. Returns whether the back end should be waited on
     * for readability (false: no buffers, only a kick helps).
     */
    private boolean serveRx(VirtioContext c) throws IOException {
        VirtQueue q = c.queue(0);
        if (q == null || rxBroken) return false;
        boolean mergeable = c.hasFeature(VIRTIO_NET_F_MRG_RXBUF);
        try {
            while (true) {
                if (!pending.isEmpty()) {
                    byte[] f = pending.peekFirst();
                    MemorySegment frame = rxBuf.asSlice(0, f.length);
                    MemorySegment.copy(MemorySegment.ofArray(f), 0, frame, 0, f.length);
                    RxWriter.Outcome o = deliver(q, frame, mergeable);
                    if (o == RxWriter.Outcome.NO_BUFFERS) return stall(q);
                    pending.removeFirst();
                    continue;
                }
                if (!rx.holdsBuffers() && !q.hasAvailable()) {
                    q.setNotificationsEnabled(true); // make sure the next buffer is notified, then look again
                    if (!q.hasAvailable()) return stall(q);
                }
                stalled = false;
                int n = backend.receive(0, rxBuf);
                if (n == 0) return true;
                if (n < VIRTIO_NET_HDR_SIZE + ETH_HLEN) {
                    w.counters().increment(Counter.RX_DROPPED);
                    continue;
                }
                MemorySegment frame = rxBuf.asSlice(0, n);
                if (deliver(q, frame, mergeable) == RxWriter.Outcome.NO_BUFFERS) {
                    pending.addLast(frame.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                    return stall(q);
                }
            }
        } catch (VirtqueueException e) {
            rxBroken = true;
            return false;
        }
    }

    private boolean stall(VirtQueue q) {
        if (!stalled) w.counters().increment(Counter.RX_STALLS);
        stalled = true;
        return false;
    }

    private RxWriter.Outcome deliver(VirtQueue q, MemorySegment frame, boolean mergeable) {
        MemorySegment.copy(frame, java.lang.foreign.ValueLayout.JAVA_BYTE, VIRTIO_NET_HDR_SIZE, dst, 0, 6);
        if (!w.control().accepts(MacAddress.of(dst, 0))) {
            w.counters().increment(Counter.RX_FILTERED);
            return RxWriter.Outcome.DELIVERED;
        }
        // Counted before the buffers go back, so whoever sees them finds the frame counted.
        RxWriter.Outcome o = rx.place(q, frame, mergeable, placed -> {
            if (placed == RxWriter.Outcome.DELIVERED) {
                w.counters().increment(Counter.RX_PACKETS);
                w.counters().add(Counter.RX_BYTES, frame.byteSize() - VIRTIO_NET_HDR_SIZE);
            } else if (placed == RxWriter.Outcome.TOO_BIG) {
                w.counters().increment(Counter.RX_DROPPED);
            }
        });
        if (o == RxWriter.Outcome.DELIVERED && q.needsNotification()) q.notifyGuest();
        return o;
    }

    private static void sleepQuietly() {
        try {
            Thread.sleep(IDLE_POLL_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
