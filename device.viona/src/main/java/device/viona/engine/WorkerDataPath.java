package device.viona.engine;

import static device.virtio_net.protocol.VirtioNetSpec.*;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
import vmm.core.hypervisor.EventFd;
import vmm.core.memory.GuestMemory;
import vmm.core.virtio.DescriptorChain;
import vmm.core.virtio.IoLoopGate;
import vmm.core.virtio.VirtQueue;
import vmm.core.virtio.VirtioContext;
import vmm.core.virtio.VirtqueueException;

/**
 * viona's in-process engine: one worker thread per queue pair, woken by the
 * guest's notifications of either queue of its pair and by its back-end
 * queue. Both directions work in batches: up to {@link #BATCH} chains or
 * frames are completed and then the driver is interrupted once, and the
 * guest's notifications are switched off while the worker is busy (it
 * looks at the ring anyway) and on again before it sleeps.
 *
 * <p>Transmit copies only the 12-byte header out of guest memory, into a
 * host buffer, and checks and uses that copy; the payload goes from guest
 * memory to the back end in one gather write, uncopied. So a guest that
 * rewrites the header after the check changes nothing the device uses.
 */
public final class WorkerDataPath implements DataPath {
    private static final Logger LOG = Logger.getLogger(WorkerDataPath.class.getName());
    /** Chains or frames per batch: one interrupt each, and the other direction gets its turn. */
    static final int BATCH = 128;
    private static final long IDLE_POLL_MS = 200;
    /** How long a worker watches the transmit ring after a busy batch before it sleeps. */
    static final long TX_POLL_NS = Long.getLong("viona.tx-poll-ns", 30_000);

    private final NetModel.Wiring w;
    private final NetBackend backend;
    private final Worker[] workers;
    private final IoLoopGate gate;
    // Guarded by the gate's lock.
    private int activePairs = 1;

    public WorkerDataPath(NetModel.Wiring wiring) {
        this.w = wiring;
        this.backend = wiring.backend();
        this.workers = new Worker[wiring.options().queuePairs()];
        for (int p = 0; p < workers.length; p++) workers[p] = new Worker(p);
        this.gate = new IoLoopGate("viona " + wiring.instanceId() + ": workers", workers.length, this::wakeAll);
    }

    @Override
    public String engine() {
        return "viona in-process: " + workers.length + (workers.length == 1 ? " worker" : " workers")
                + ", batches of " + BATCH + ", transmit without copying the payload";
    }

    @Override
    public void start() {
        for (Worker wk : workers) wk.thread = Thread.ofPlatform().daemon().name("viona " + w.instanceId() + " pair " + wk.pair).start(wk::run);
    }

    @Override
    public void activate(VirtioContext context, int pairs) {
        gate.activate(context, () -> {
            activePairs = context.hasFeature(VIRTIO_NET_F_MQ) ? pairs : 1;
            for (Worker wk : workers) wk.txBroken = wk.rxBroken = false;
        });
    }

    @Override
    public void kick(int queue) {
        if (gate.closed()) return;
        int p = queue / 2;
        if (p < workers.length) workers[p].waker.wake();
    }

    /**
     * The worker's waker eventfd, shared by both queues of its pair: bound to
     * their notify addresses, a guest's kick wakes the worker's poll inside
     * the host kernel, with no exit and no call into the VMM.
     */
    @Override
    public EventFd notifyEventFd(int queue) {
        int p = queue / 2;
        return queue >= 0 && p < workers.length ? workers[p].kickFd : null;
    }

    @Override
    public void setActivePairs(int pairs) {
        gate.update(() -> activePairs = Math.max(1, Math.min(pairs, workers.length)));
    }

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
            for (Worker wk : workers) {
                wk.rx.forget();
                wk.pending.clear();
            }
        });
    }

    @Override
    public void stop() {
        if (!gate.stop()) return;
        Thread[] threads = new Thread[workers.length];
        for (int p = 0; p < workers.length; p++) threads[p] = workers[p].thread;
        if (gate.join(threads)) {
            for (Worker wk : workers) wk.close();
        }
    }

    @Override
    public List<byte[]> pendingFrames() {
        synchronized (gate.lock()) {
            List<byte[]> l = new ArrayList<>();
            for (Worker wk : workers) l.addAll(wk.pending);
            return l;
        }
    }

    @Override
    public void restorePendingFrames(List<byte[]> frames) {
        synchronized (gate.lock()) {
            workers[0].pending.addAll(frames);
        }
    }

    private void wakeAll() {
        for (Worker wk : workers) wk.waker.wake();
    }

    /** One queue pair's worker; its fields are its own, except those guarded by the engine's lock. */
    private final class Worker {
        final int pair;
        final Waker waker = new Waker();
        /** The waker as the eventfd the transport binds; the worker owns and closes it. */
        final EventFd kickFd = new EventFd() {
            @Override public int fd() { return waker.fd(); }
            @Override public void signal() { waker.wake(); }
            /** Whether a kick came since the last look (the worker itself consumes them; nobody else needs this). */
            @Override public long poll() {
                boolean woken = waker.isWoken();
                waker.clear();
                return woken ? 1 : 0;
            }
            @Override public void close() { }
            @Override public String toString() { return "viona kick eventfd " + waker.fd(); }
        };
        final Arena arena = Arena.ofShared();
        final MemorySegment header = arena.allocate(VIRTIO_NET_HDR_SIZE, 8);
        final MemorySegment rxBuf = arena.allocate(VIRTIO_NET_HDR_SIZE + MAX_GSO_FRAME, 64);
        final byte[] dst = new byte[6];
        final RxWriter rx = new RxWriter();
        final Deque<byte[]> pending = new ArrayDeque<>();
        Thread thread;
        boolean txBroken, rxBroken, stalled;
        int dropLogs;

        Worker(int pair) {
            this.pair = pair;
        }

        void close() {
            waker.close();
            arena.close();
        }

        void run() {
            waker.bindCurrentThread();
            while (true) {
                VirtioContext c = gate.next(pair, () -> pair >= activePairs, this::releaseHeld);
                if (c == null) return;
                waker.clear();
                try {
                    boolean moreTx = serveTx(c);
                    int rxState = serveRx(c);
                    if (!moreTx && rxState != RX_MORE) backend.await(pair, rxState == RX_WAIT_BACKEND, waker, IDLE_POLL_MS);
                } catch (IOException e) {
                    LOG.log(Level.WARNING, "device {0}: back end {1}: {2}", new Object[] {w.instanceId(), backend.describe(), e.getMessage()});
                    sleepQuietly();
                } catch (RuntimeException e) {
                    LOG.log(Level.WARNING, "device " + w.instanceId() + ": data path error on pair " + pair, e);
                    c.deviceError("viona: " + e);
                    txBroken = rxBroken = true;
                }
            }
        }

        private void releaseHeld() {
            VirtioContext c = gate.context();
            if (c != null && rx.holdsBuffers()) {
                VirtQueue q = c.queue(2 * pair);
                if (q != null && rx.release(q) > 0 && q.needsNotification()) q.notifyGuest();
            }
        }

        /** Serves one batch of transmits; returns whether more are waiting. */
        private boolean serveTx(VirtioContext c) {
            VirtQueue q = c.queue(2 * pair + 1);
            if (q == null || txBroken) return false;
            try {
                int n = 0;
                q.setNotificationsEnabled(false);
                while (true) {
                    DescriptorChain chain = q.pop();
                    if (chain == null && n > 0 && pollBriefly(q)) continue;
                    if (chain == null) {
                        // Sleep only with notifications on and the ring seen empty after switching them on.
                        q.setNotificationsEnabled(true);
                        if (!q.hasAvailable()) break;
                        q.setNotificationsEnabled(false);
                        continue;
                    }
                    transmit(c, chain);
                    q.addUsed(chain, 0);
                    if (++n == BATCH) {
                        if (q.needsNotification()) q.notifyGuest();
                        return true;
                    }
                }
                if (n > 0 && q.needsNotification()) q.notifyGuest();
                return false;
            } catch (VirtqueueException e) {
                txBroken = true;
                return false;
            }
        }

        /**
         * After a busy batch, watches the ring a few microseconds before
         * asking for notifications: a guest that keeps sending then needs no
         * kick (a notification costs a guest far more than this costs us).
         */
        private boolean pollBriefly(VirtQueue q) {
            long until = System.nanoTime() + TX_POLL_NS;
            while (System.nanoTime() < until) {
                if (q.hasAvailable()) return true;
                Thread.onSpinWait();
            }
            return false;
        }

        private void transmit(VirtioContext c, DescriptorChain chain) {
            long len = chain.readableLength();
            if (len < VIRTIO_NET_HDR_SIZE || len > VIRTIO_NET_HDR_SIZE + MAX_GSO_FRAME) {
                drop("transmit chain of " + len + " bytes");
                return;
            }
            // The header is copied once, then only the copy is checked and used.
            chain.read(0, header);
            NetHeader h = NetHeader.decode(header);
            String why = h.checkTx(c.negotiatedFeatures(), (int) len - VIRTIO_NET_HDR_SIZE, w.options().mtu());
            if (why != null) {
                drop(why);
                return;
            }
            h.withNumBuffers(0).encode(header);
            MemorySegment[] parts = payload(c.memory(), chain);
            try {
                if (parts != null && backend.send(pair, header, parts)) {
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

        /** The chain's readable bytes after the header, as slices of guest memory (checked when popped). */
        private MemorySegment[] payload(GuestMemory memory, DescriptorChain chain) {
            List<DescriptorChain.Buffer> bufs = chain.readable();
            List<MemorySegment> parts = new ArrayList<>(bufs.size());
            long skip = VIRTIO_NET_HDR_SIZE;
            for (DescriptorChain.Buffer b : bufs) {
                if (skip >= b.length()) {
                    skip -= b.length();
                    continue;
                }
                parts.add(memory.slice(b.address() + skip, b.length() - skip));
                skip = 0;
            }
            return parts.toArray(MemorySegment[]::new);
        }

        private void drop(String why) {
            w.counters().increment(Counter.TX_DROPPED);
            if (dropLogs++ < 10) LOG.log(Level.INFO, "device {0}: dropped a transmitted frame: {1}", new Object[] {w.instanceId(), why});
        }

        static final int RX_WAIT_KICK = 0, RX_WAIT_BACKEND = 1, RX_MORE = 2;

        /** Serves one batch of receives; says what to wait for next. */
        private int serveRx(VirtioContext c) throws IOException {
            VirtQueue q = c.queue(2 * pair);
            if (q == null || rxBroken) return RX_WAIT_KICK;
            boolean mergeable = c.hasFeature(VIRTIO_NET_F_MRG_RXBUF);
            int delivered = 0, state = RX_WAIT_BACKEND;
            try {
                while (delivered < BATCH) {
                    if (!pending.isEmpty()) {
                        byte[] f = pending.peekFirst();
                        MemorySegment frame = rxBuf.asSlice(0, f.length);
                        MemorySegment.copy(MemorySegment.ofArray(f), 0, frame, 0, f.length);
                        RxWriter.Outcome o = deliver(q, frame, mergeable);
                        if (o == RxWriter.Outcome.NO_BUFFERS) {
                            state = stall(q);
                            break;
                        }
                        pending.removeFirst();
                        delivered++;
                        continue;
                    }
                    if (!rx.holdsBuffers() && !q.hasAvailable()) {
                        q.setNotificationsEnabled(true);
                        if (!q.hasAvailable()) {
                            state = stall(q);
                            break;
                        }
                    }
                    if (stalled) {
                        stalled = false;
                        q.setNotificationsEnabled(false); // buffers are there; the worker looks without being told
                    }
                    int n = backend.receive(pair, rxBuf);
                    if (n == 0) break;
                    if (n < VIRTIO_NET_HDR_SIZE + ETH_HLEN) {
                        w.counters().increment(Counter.RX_DROPPED);
                        continue;
                    }
                    MemorySegment frame = rxBuf.asSlice(0, n);
                    if (deliver(q, frame, mergeable) == RxWriter.Outcome.NO_BUFFERS) {
                        pending.addLast(frame.toArray(ValueLayout.JAVA_BYTE));
                        state = stall(q);
                        break;
                    }
                    delivered++;
                }
                if (delivered == BATCH) state = RX_MORE;
                if (delivered > 0 && q.needsNotification()) q.notifyGuest();
                return state;
            } catch (VirtqueueException e) {
                rxBroken = true;
                return RX_WAIT_KICK;
            }
        }

        private int stall(VirtQueue q) {
            if (!stalled) w.counters().increment(Counter.RX_STALLS);
            stalled = true;
            q.setNotificationsEnabled(true);
            return RX_WAIT_KICK;
        }

        private RxWriter.Outcome deliver(VirtQueue q, MemorySegment frame, boolean mergeable) {
            MemorySegment.copy(frame, ValueLayout.JAVA_BYTE, VIRTIO_NET_HDR_SIZE, dst, 0, 6);
            if (!w.control().accepts(MacAddress.of(dst, 0))) {
                w.counters().increment(Counter.RX_FILTERED);
                return RxWriter.Outcome.DELIVERED;
            }
            // Counted before the buffers go back, so whoever sees them finds the frame counted.
            return rx.place(q, frame, mergeable, placed -> {
                if (placed == RxWriter.Outcome.DELIVERED) {
                    w.counters().increment(Counter.RX_PACKETS);
                    w.counters().add(Counter.RX_BYTES, frame.byteSize() - VIRTIO_NET_HDR_SIZE);
                } else if (placed == RxWriter.Outcome.TOO_BIG) {
                    w.counters().increment(Counter.RX_DROPPED);
                }
            });
        }
    }

    private static void sleepQuietly() {
        try {
            Thread.sleep(IDLE_POLL_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
