package device.virtio_vsock;

import static device.virtio_vsock.protocol.VsockSpec.*;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.Selector;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

import device.virtio_vsock.connection.ConnectionKey;
import device.virtio_vsock.connection.Connections;
import device.virtio_vsock.connection.Packet;
import device.virtio_vsock.connection.VsockCounters;
import device.virtio_vsock.connection.VsockCounters.Counter;
import device.virtio_vsock.host.HostBridge;
import device.virtio_vsock.host.HostSockets;
import device.virtio_vsock.protocol.VsockHeader;
import vmm.core.device.DeviceState;
import vmm.core.virtio.DescriptorChain;
import vmm.core.virtio.IoLoopGate;
import vmm.core.virtio.VirtQueue;
import vmm.core.virtio.VirtioContext;
import vmm.core.virtio.VirtioDevice;
import vmm.core.virtio.VirtioFeatures;
import vmm.core.virtio.VirtqueueException;

/**
 * The virtio socket device (virtio 1.2 section 5.10): the guest's CID in
 * config space, the rx, tx and event queues, and one I/O thread that moves
 * packets between the queues, the {@link Connections} state machine and
 * the host's Unix sockets ({@link HostBridge}). Kicks only wake the thread.
 *
 * <p>A swap keeps every connection: the state machine (queues, credit,
 * owed packets) travels in the saved state and the host streams stay open
 * in the shared {@link HostSockets}. Where the host side is new (another
 * process, a bundle update that dropped it) the saved connections cannot
 * go on: the guest gets VIRTIO_VSOCK_EVENT_TRANSPORT_RESET.
 */
public final class VsockDevice implements VirtioDevice {
    private static final Logger LOG = Logger.getLogger(VsockDevice.class.getName());
    public static final String STATE_TYPE = "virtio-vsock";
    static final int STATE_VERSION = 1;
    static final int QUEUE_SIZE = 256;
    /** Transmit chains taken per turn of the loop, so the host side and the receive queue get their turn. */
    static final int TX_BATCH = 128;
    /** Upper bound of one wait, so a missed wake costs latency, never a hang. */
    private static final long IDLE_POLL_MS = 200;

    private final String instanceId;
    private final long guestCid;
    private final boolean eventIdx;
    private final HostSockets.Opened opened;
    private final VsockCounters counters = new VsockCounters();
    private final Connections conns;
    private final HostBridge bridge;
    private final Selector selector;
    private final IoLoopGate gate;
    private final Object lock;
    private Thread thread;
    // Guarded by lock, the gate's.
    private boolean broken;
    /**
     * The transmit queue was kicked (or may hold chains: activation) since the I/O thread last emptied
     * it. The thread reads the driver's ring only then: not on its idle timeout, not on a resume (kicks
     * that came while paused set this too). A driver may have reset the device without the device
     * knowing (user-mode Linux over vhost-user), taken its buffers back and moved the avail index back;
     * only a kick says the ring is live.
     */
    private volatile boolean txKicked = true;

    /**
     * @param opened   the host side, held by this model until {@link #stop()}
     * @param eventIdx whether VIRTIO_F_EVENT_IDX is offered
     */
    public VsockDevice(String instanceId, long guestCid, Connections.Limits limits, HostSockets.Opened opened,
                       boolean eventIdx) {
        this.instanceId = instanceId;
        this.guestCid = guestCid;
        this.eventIdx = eventIdx;
        this.opened = opened;
        this.conns = new Connections(guestCid, limits, counters);
        this.bridge = new HostBridge(opened.sockets(), conns);
        try {
            this.selector = Selector.open();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        this.gate = new IoLoopGate("virtio-vsock " + instanceId + ": the I/O thread", 1, selector::wakeup);
        this.lock = gate.lock();
    }

    public VsockCounters counters() { return counters; }
    public long guestCid() { return guestCid; }

    @Override public int deviceId() { return VIRTIO_ID_VSOCK; }

    /** STREAM, indirect descriptors and, unless the configuration says {@code event-idx=false}, EVENT_IDX. */
    @Override
    public long deviceFeatures() {
        return VirtioFeatures.bit(VIRTIO_VSOCK_F_STREAM) | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC)
                | (eventIdx ? VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX) : 0);
    }

    @Override public int queueCount() { return QUEUE_COUNT; }
    @Override public int maxQueueSize(int queue) { return QUEUE_SIZE; }
    @Override public int configSize() { return CONFIG_SIZE; }

    /** guest_cid, le64; the bytes of it the driver asks for. */
    @Override
    public long readConfig(int offset, int size) {
        long v = guestCid >>> (8 * offset);
        return size == 8 ? v : v & ((1L << (8 * size)) - 1);
    }

    /** guest_cid is read-only. */
    @Override public void writeConfig(int offset, int size, long value) { }

    @Override
    public void activate(VirtioContext context) {
        gate.activate(context, () -> {
            broken = false;
            txKicked = true;
        });
    }

    @Override
    public void queueNotify(int queue) {
        if (queue == TX_QUEUE) txKicked = true;
        selector.wakeup();
    }

    @Override
    public void start() {
        thread = Thread.ofPlatform().daemon().name("virtio-vsock " + instanceId).start(this::run);
        LOG.log(Level.INFO, "device {0}: virtio-vsock guest CID {1} on {2}",
                new Object[] {instanceId, guestCid, opened.sockets()});
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
            // The thread is idle: the state machine and the sockets are this thread's for now.
            conns.reset();
            bridge.runActions();
        });
    }

    @Override
    public void stop() {
        if (!gate.stop()) return;
        gate.join(thread);
        try {
            selector.close();
        } catch (IOException e) {
            // nothing registered with it is ours alone
        }
        opened.sockets().release();
    }

    private void run() {
        while (true) {
            VirtioContext c = gate.next(0, () -> false, () -> { });
            if (c == null) return;
            try {
                if (!turn(c)) {
                    bridge.register(selector);
                    selector.select(IDLE_POLL_MS);
                    selector.selectedKeys().clear();
                }
            } catch (IOException e) {
                LOG.log(Level.WARNING, "device {0}: selector: {1}", new Object[] {instanceId, e.getMessage()});
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "device " + instanceId + ": I/O thread error", e);
                c.deviceError("virtio-vsock: " + e);
                synchronized (lock) {
                    broken = true;
                    gate.halt();
                }
            }
        }
    }

    /**
     * One turn: transmit queue, host actions and streams, clients, receive and event queues. Whether anything
     * moved.
     */
    private boolean turn(VirtioContext c) {
        boolean moved = serveTx(c);
        moved |= bridge.runActions();
        moved |= bridge.accept();
        moved |= bridge.pump();
        moved |= bridge.runActions();
        moved |= serveRx(c);
        moved |= serveEvent(c);
        return moved;
    }

    private boolean serveTx(VirtioContext c) {
        VirtQueue q = c.queue(TX_QUEUE);
        if (q == null || !txKicked) return false;
        txKicked = false;
        int n = 0;
        try {
            DescriptorChain chain = null;
            while (n < TX_BATCH && (chain = q.pop()) != null) {
                n++;
                receive(chain);
                q.complete(chain, 0);
            }
            if (chain != null) txKicked = true; // the batch ended, not the ring: the next turn goes on
        } catch (VirtqueueException e) {
            return false; // reported by the queue: DEVICE_NEEDS_RESET
        }
        return n > 0;
    }

    /** Reads one packet from a transmit chain into the state machine; a chain the header lies about is refused. */
    private void receive(DescriptorChain chain) {
        long readable = chain.readableLength();
        if (readable < HEADER_SIZE) {
            counters.increment(Counter.TX_PACKETS);
            counters.increment(Counter.BAD_PACKETS);
            return;
        }
        byte[] hdr = new byte[HEADER_SIZE];
        chain.read(0, hdr, 0, HEADER_SIZE);
        VsockHeader h = VsockHeader.decode(hdr);
        if (h.len() > MAX_PAYLOAD) {
            conns.malformed(h, "len " + h.len() + " exceeds " + MAX_PAYLOAD);
            return;
        }
        if (h.len() > readable - HEADER_SIZE) {
            conns.malformed(h, "len " + h.len() + " but the chain holds " + (readable - HEADER_SIZE));
            return;
        }
        byte[] payload = new byte[(int) h.len()];
        if (payload.length > 0) chain.read(HEADER_SIZE, payload, 0, payload.length);
        conns.fromGuest(h, payload);
    }

    private boolean serveRx(VirtioContext c) {
        VirtQueue q = c.queue(RX_QUEUE);
        if (q == null) return false;
        boolean moved = false;
        try {
            while (conns.hasPacketForGuest()) {
                DescriptorChain chain = q.pop();
                if (chain == null) {
                    q.setNotificationsEnabled(true); // the guest's next buffer must be notified, then look again
                    if (!q.hasAvailable()) break;
                    continue;
                }
                Packet p = conns.nextForGuest((int) Math.min(chain.writableLength(), HEADER_SIZE + MAX_PAYLOAD));
                int written = 0;
                if (p != null) {
                    byte[] b = p.toBytes();
                    written = chain.write(0, b, 0, b.length);
                }
                q.addUsed(chain, written);
                moved = true;
            }
        } catch (VirtqueueException e) {
            return false;
        }
        if (moved && q.needsNotification()) q.notifyGuest();
        return moved;
    }

    private boolean serveEvent(VirtioContext c) {
        if (!conns.transportResetPending()) return false;
        VirtQueue q = c.queue(EVENT_QUEUE);
        if (q == null) return false;
        try {
            DescriptorChain chain = q.pop();
            if (chain == null) return false;
            conns.takeTransportResetEvent();
            byte[] ev = new byte[EVENT_SIZE]; // le32 id = VIRTIO_VSOCK_EVENT_TRANSPORT_RESET (0)
            q.complete(chain, chain.write(0, ev, 0, Math.min(ev.length, (int) chain.writableLength())));
            return true;
        } catch (VirtqueueException e) {
            return false;
        }
    }

    @Override
    public DeviceState saveState() {
        synchronized (lock) {
            return DeviceState.builder(STATE_TYPE, STATE_VERSION)
                    .put("guest-cid", guestCid)
                    .put("connections", conns.save())
                    .putList("counters", counters.snapshot())
                    .build();
        }
    }

    /**
     * Adopts saved connections. Those whose host stream this model cannot
     * reach are reset: one by one with RST when the host side was handed
     * over, all at once with a transport reset event when it is new.
     *
     * @throws vmm.core.device.IncompatibleStateException when the state is of another guest CID, or a field is
     *                                                    bad (a snapshot file is untrusted): named, nothing adopted
     */
    @Override
    public void restoreState(DeviceState state) {
        state.require(STATE_TYPE, STATE_VERSION);
        synchronized (lock) {
            counters.restore(state.getList("counters"));
            conns.restore(state.getState("connections"));
            List<ConnectionKey> lost = bridge.withoutStream(conns.keys());
            if (!opened.shared() && conns.size() > 0) {
                LOG.log(Level.INFO, "device {0}: the host side of {1} saved connections is gone: transport reset",
                        new Object[] {instanceId, conns.size()});
                conns.transportReset();
            } else if (!lost.isEmpty()) {
                conns.resetAll(lost);
            }
            bridge.runActions();
            bridge.closeStale();
        }
    }

    /** The open connections, for tests and the shell. */
    public int connectionCount() {
        synchronized (lock) {
            return conns.size();
        }
    }

    /** Whether the I/O thread gave up on a guest error it could not contain (the transport was told). */
    public boolean broken() {
        synchronized (lock) {
            return broken;
        }
    }

    @Override
    public String toString() {
        return "virtio-vsock " + instanceId + " CID " + guestCid + " on " + opened.sockets();
    }
}
