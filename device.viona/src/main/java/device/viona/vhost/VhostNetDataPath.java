package device.viona.vhost;

import static device.viona.vhost.VhostUapi.*;
import static device.virtio_net.protocol.VirtioNetSpec.VIRTIO_NET_F_MQ;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

import device.virtio_net.backend.Waker;
import device.virtio_net.model.DataPath;
import device.virtio_net.model.NetModel;
import vmm.core.hypervisor.EventFd;
import vmm.core.memory.GuestMemory;
import vmm.core.memory.RamRegion;
import vmm.core.virtio.VirtQueue;
import vmm.core.virtio.VirtioContext;

/**
 * The kernel's data path: each queue pair handed to a vhost-net instance
 * (the Linux counterpart of illumos' in-kernel viona), which moves frames
 * between the rings and the pair's TAP queue itself. The VMM keeps the
 * control plane: features, control queue, state. Guest kicks reach the
 * kernel through a kick eventfd per data queue, made once for the data
 * path's life: on KVM the transport binds the queue's notify address to it
 * ({@link #notifyEventFd}), so a guest's kick goes from KVM to vhost-net
 * without the VMM; otherwise {@link #kick} writes it. The kernel's used-buffer signals come back
 * on a call eventfd, which a thread turns into the queue's interrupt.
 *
 * <p>Set-up order per pair, as vhost requires: SET_OWNER, GET/SET_FEATURES,
 * SET_MEM_TABLE, then per ring SET_VRING_NUM, SET_VRING_BASE,
 * SET_VRING_ADDR, SET_VRING_KICK, SET_VRING_CALL, NET_SET_BACKEND. Pause
 * detaches the TAP (NET_SET_BACKEND with fd -1, which makes the kernel
 * finish what it took), reads the ring position back (GET_VRING_BASE) and
 * hands it to the core's {@link VirtQueue#adoptRingPosition}, with the used
 * index the kernel published: the next engine continues exactly there.
 */
public final class VhostNetDataPath implements DataPath {
    private static final Logger LOG = Logger.getLogger(VhostNetDataPath.class.getName());
    /** Ring indices inside one vhost-net instance. */
    static final int VRING_RX = 0, VRING_TX = 1;

    private final NetModel.Wiring w;
    private final VhostHost host;
    private final List<Pair> pairs = new ArrayList<>();
    private VirtioContext ctx;
    private Thread callThread;
    private volatile boolean running;
    private final int[] lastAvail;
    /** Per data queue, the eventfd vhost-net takes kicks from (a {@link Waker} used only as the descriptor's owner). */
    private final Waker[] kickFds;
    private final EventFd[] kickEventFds;
    private boolean kicksClosed;

    private record Pair(int index, VhostIoctls dev, int[] kick, int[] call, int tap) {}

    public VhostNetDataPath(NetModel.Wiring wiring, VhostHost host) {
        this.w = wiring;
        this.host = host;
        this.lastAvail = new int[2 * wiring.options().queuePairs()];
        this.kickFds = new Waker[2 * wiring.options().queuePairs()];
        this.kickEventFds = new EventFd[kickFds.length];
        for (int q = 0; q < kickFds.length; q++) {
            Waker w = kickFds[q] = new Waker();
            int queue = q;
            kickEventFds[q] = new EventFd() {
                @Override public int fd() { return w.fd(); }
                /** What the guest's bound write does: the kernel's kick. */
                @Override public void signal() { kick(queue); }
                /** vhost-net consumes this counter; nobody in the VMM reads it. */
                @Override public long poll() { return 0; }
                @Override public void close() { }
                @Override public String toString() { return "vhost-net kick eventfd " + w.fd() + " of queue " + queue; }
            };
        }
    }

    /** The kick eventfd vhost-net polls for data queue {@code queue}; the transport may bind the guest's notify address to it. */
    @Override
    public EventFd notifyEventFd(int queue) {
        return queue >= 0 && queue < kickEventFds.length ? kickEventFds[queue] : null;
    }

    @Override
    public String engine() {
        return "vhost-net (the host kernel's data path), " + w.options().queuePairs() + " queue pair(s)";
    }

    @Override
    public void start() { }

    @Override
    public synchronized void activate(VirtioContext context, int activePairs) {
        detachAll();
        ctx = context;
        int n = context.hasFeature(VIRTIO_NET_F_MQ) ? w.options().queuePairs() : 1;
        try {
            for (int p = 0; p < n; p++) pairs.add(attach(context, p));
        } catch (IOException e) {
            detachAll();
            context.deviceError("viona: vhost-net refused the rings: " + e.getMessage());
            return;
        }
        running = true;
        callThread = Thread.ofPlatform().daemon().name("viona " + w.instanceId() + " vhost calls").start(this::relayCalls);
    }

    private Pair attach(VirtioContext c, int p) throws IOException {
        VhostIoctls dev = host.open();
        try (Arena a = Arena.ofConfined()) {
            dev.ioctl(VHOST_SET_OWNER, MemorySegment.NULL);
            MemorySegment f = u64(a, 0);
            dev.ioctl(VHOST_GET_FEATURES, f);
            // Only what the driver accepted and the kernel knows; never VHOST_NET_F_VIRTIO_NET_HDR: the TAP carries the header.
            long acked = c.negotiatedFeatures() & f.get(ValueLayout.JAVA_LONG, 0);
            dev.ioctl(VHOST_SET_FEATURES, u64(a, acked));
            dev.ioctl(VHOST_SET_MEM_TABLE, VhostUapi.memory(a, regions(c.memory())));
            int tap = w.backend().hostDescriptor(p).orElseThrow(() -> new IOException("the back end has no TAP descriptor"));
            int[] kick = new int[2], call = new int[2];
            for (int idx : new int[] {VRING_RX, VRING_TX}) {
                VirtQueue q = c.queue(2 * p + idx);
                if (q == null) throw new IOException("queue " + (2 * p + idx) + " is not enabled");
                dev.ioctl(VHOST_SET_VRING_NUM, vringState(a, idx, q.size()));
                dev.ioctl(VHOST_SET_VRING_BASE, vringState(a, idx, q.lastAvailIndex()));
                dev.ioctl(VHOST_SET_VRING_ADDR, vringAddr(a, idx, 0, host(c.memory(), q.descTableAddress()),
                        host(c.memory(), q.usedRingAddress()), host(c.memory(), q.availRingAddress()), 0));
                kick[idx] = kickFds[2 * p + idx].fd();
                call[idx] = dev.eventfd();
                dev.ioctl(VHOST_SET_VRING_KICK, vringFile(a, idx, kick[idx]));
                dev.ioctl(VHOST_SET_VRING_CALL, vringFile(a, idx, call[idx]));
                dev.ioctl(VHOST_NET_SET_BACKEND, vringFile(a, idx, tap));
            }
            return new Pair(p, dev, kick, call, tap);
        } catch (IOException | RuntimeException e) {
            dev.close();
            throw e;
        }
    }

    /** The RAM regions as vhost's memory table: guest address, size, and where this process maps them. */
    static List<Region> regions(GuestMemory memory) {
        List<Region> l = new ArrayList<>();
        for (RamRegion r : memory.regions()) if (!r.readOnly()) l.add(new Region(r.guestBase(), r.size(), r.segment().address()));
        return l;
    }

    private static long host(GuestMemory memory, long gpa) {
        return memory.slice(gpa, 1).address();
    }

    @Override
    public void kick(int queue) {
        Pair p;
        synchronized (this) {
            if (queue / 2 >= pairs.size()) return;
            p = pairs.get(queue / 2);
        }
        p.dev().signal(kickFds[queue].fd());
    }

    private void relayCalls() {
        while (running) {
            List<Pair> snapshot;
            VirtioContext c;
            synchronized (this) {
                snapshot = List.copyOf(pairs);
                c = ctx;
            }
            if (snapshot.isEmpty() || c == null) return;
            int[] fds = new int[2 * snapshot.size()];
            for (int i = 0; i < snapshot.size(); i++) {
                fds[2 * i] = snapshot.get(i).call()[0];
                fds[2 * i + 1] = snapshot.get(i).call()[1];
            }
            try {
                for (int i : snapshot.get(0).dev().drain(fds, 200)) {
                    VirtQueue q = c.queue(2 * snapshot.get(i / 2).index() + i % 2);
                    if (q != null) q.notifyGuest();
                }
            } catch (IOException e) {
                LOG.log(Level.WARNING, "device {0}: vhost call relay: {1}", new Object[] {w.instanceId(), e.getMessage()});
                return;
            }
        }
    }

    @Override
    public void setActivePairs(int n) {
        // Every pair stays attached: the kernel serves a pair the driver does not use at no cost.
    }

    @Override
    public synchronized void pause() {
        try (Arena a = Arena.ofConfined()) {
            for (Pair p : pairs)
                for (int idx : new int[] {VRING_RX, VRING_TX}) {
                    p.dev().ioctl(VHOST_NET_SET_BACKEND, vringFile(a, idx, -1));
                    MemorySegment s = vringState(a, idx, 0);
                    p.dev().ioctl(VHOST_GET_VRING_BASE, s);
                    int base = s.get(ValueLayout.JAVA_INT, 4) & 0xffff;
                    lastAvail[2 * p.index() + idx] = base;
                    // The core's queue takes the kernel's position back, so whatever serves next (after a
                    // swap, the in-process engine or virtio-net) pops exactly the chain the kernel would have.
                    VirtQueue q = ctx == null ? null : ctx.queue(2 * p.index() + idx);
                    if (q != null) q.adoptRingPosition(base);
                }
        } catch (IOException e) {
            throw new IllegalStateException("viona: vhost-net did not stop: " + e.getMessage(), e);
        }
    }

    /** The ring positions the kernel reported at the last pause (avail index it will take next, per data queue). */
    public synchronized int[] ringPositions() {
        return lastAvail.clone();
    }

    @Override
    public synchronized void resume() {
        try (Arena a = Arena.ofConfined()) {
            for (Pair p : pairs)
                for (int idx : new int[] {VRING_RX, VRING_TX}) p.dev().ioctl(VHOST_NET_SET_BACKEND, vringFile(a, idx, p.tap()));
        } catch (IOException e) {
            throw new IllegalStateException("viona: vhost-net did not restart: " + e.getMessage(), e);
        }
    }

    @Override
    public synchronized void reset() {
        detachAll();
        ctx = null;
    }

    @Override
    public synchronized void stop() {
        detachAll();
        ctx = null;
        // The transport unbound them before the device was stopped (KernelNotified's contract).
        if (!kicksClosed) for (Waker w : kickFds) w.close();
        kicksClosed = true;
    }

    private synchronized void detachAll() {
        running = false;
        for (Pair p : pairs) p.dev().close();
        pairs.clear();
    }

    @Override
    public List<byte[]> pendingFrames() {
        return List.of();
    }

    @Override
    public void restorePendingFrames(List<byte[]> frames) {
        if (!frames.isEmpty())
            LOG.log(Level.INFO, "device {0}: {1} received frame(s) of the previous implementation dropped: vhost-net reads the TAP itself",
                    new Object[] {w.instanceId(), frames.size()});
    }
}
