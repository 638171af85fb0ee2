package device.virtio_net.model;

import static device.virtio_net.protocol.VirtioNetSpec.*;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

import device.virtio_net.backend.NetBackend;
import device.virtio_net.protocol.MacAddress;
import device.virtio_net.protocol.NetConfigField;
import device.virtio_net.protocol.NetControl;
import device.virtio_net.protocol.NetCounters;
import device.virtio_net.protocol.NetFeatures;
import device.virtio_net.protocol.RxFilter;
import vmm.core.device.DeviceState;
import vmm.core.hypervisor.EventFd;
import vmm.core.virtio.DescriptorChain;
import vmm.core.virtio.KernelNotified;
import vmm.core.virtio.VirtQueue;
import vmm.core.virtio.VirtioContext;
import vmm.core.virtio.VirtioDevice;
import vmm.core.virtio.VirtqueueException;

/**
 * The guest-visible virtio network device (section 5.1): ID, features,
 * queues, config space, control queue and saved state. The data path is a
 * {@link DataPath} given at construction, so every implementation of
 * {@code virtio-net} presents exactly this device and can take over from
 * another under a running guest.
 *
 * <p>The control queue is served on the notifying thread: commands are
 * short, touch no back end I/O and must be answered in order.
 */
public final class NetModel implements VirtioDevice, KernelNotified {
    private static final Logger LOG = Logger.getLogger(NetModel.class.getName());
    /** Type of the saved state, shared by every implementation. */
    public static final String STATE_TYPE = "virtio-net";
    static final int STATE_VERSION = 1;
    /** A control command's data is at most this long (a MAC table of thousands of addresses); longer is refused. */
    static final int MAX_CTRL_DATA = 64 * 1024;

    /** What a data path is built from. */
    public record Wiring(String instanceId, NetOptions options, NetBackend backend, NetControl control, NetCounters counters) {}

    private final String instanceId;
    private final NetOptions options;
    private final NetBackend backend;
    private final NetControl control;
    private final NetCounters counters = new NetCounters();
    private final DataPath dataPath;
    private final long features;
    private volatile VirtioContext context;
    private boolean announceOnActivate;

    /**
     * @param backend  opened for this model; closed by {@link #stop()}
     * @param dataPath makes the data path from the model's wiring
     */
    public NetModel(String instanceId, NetOptions options, NetBackend backend, Function<Wiring, DataPath> dataPath) {
        this.instanceId = instanceId;
        this.options = options;
        this.backend = backend;
        this.control = new NetControl(options.mac(), options.queuePairs(), counters);
        this.features = NetFeatures.offered(options.offload(), backend.offloadFeatures(), options.queuePairs());
        this.dataPath = dataPath.apply(new Wiring(instanceId, options, backend, control, counters));
    }

    public NetCounters counters() { return counters; }
    public NetControl control() { return control; }
    public DataPath dataPath() { return dataPath; }

    @Override public int deviceId() { return VIRTIO_ID_NET; }
    @Override public long deviceFeatures() { return features; }
    @Override public int queueCount() { return 2 * options.queuePairs() + 1; }
    @Override public int maxQueueSize(int queue) { return NetOptions.QUEUE_SIZE; }
    @Override public int configSize() { return NetConfigField.CONFIG_SIZE; }

    @Override
    public long readConfig(int offset, int size) {
        byte[] c = config();
        long v = 0;
        for (int i = size - 1; i >= 0; i--) v = (v << 8) | (c[offset + i] & 0xff);
        return v;
    }

    private byte[] config() {
        byte[] c = new byte[NetConfigField.CONFIG_SIZE];
        System.arraycopy(control.mac().bytes(), 0, c, NetConfigField.MAC.offset, 6);
        put(c, NetConfigField.STATUS, control.status());
        put(c, NetConfigField.MAX_VIRTQUEUE_PAIRS, options.queuePairs());
        put(c, NetConfigField.MTU, options.mtu());
        put(c, NetConfigField.SPEED, 0xffff_ffffL); // unknown (SPEED_DUPLEX is not offered)
        put(c, NetConfigField.DUPLEX, 0xff);
        return c;
    }

    private static void put(byte[] c, NetConfigField f, long v) {
        for (int i = 0; i < f.width; i++) c[f.offset + i] = (byte) (v >>> (8 * i));
    }

    /** Every field is read-only for a VERSION_1 driver, which sets its MAC through the control queue. */
    @Override
    public void writeConfig(int offset, int size, long value) { }

    /** Index of the control queue: after the last pair with MQ negotiated, else 2 (section 5.1.2). */
    int controlQueue(VirtioContext ctx) {
        return ctx.hasFeature(VIRTIO_NET_F_MQ) ? 2 * options.queuePairs() : 2;
    }

    @Override
    public void activate(VirtioContext ctx) {
        control.setNegotiated(ctx.negotiatedFeatures());
        try {
            backend.setReceiveOffloads(ctx.negotiatedFeatures());
        } catch (IOException e) {
            LOG.log(Level.WARNING, "device {0}: {1}; received frames keep the offloads set before", new Object[] {instanceId, e.getMessage()});
        }
        context = ctx;
        dataPath.activate(ctx, control.activePairs());
        if (announceOnActivate && control.requestAnnounce()) ctx.configChanged();
        announceOnActivate = false;
    }

    /** The data path's eventfd for a data queue (viona's workers have one), null for the control queue. */
    @Override
    public EventFd notifyEventFd(int queue) {
        return queue >= 0 && queue < 2 * options.queuePairs() ? dataPath.notifyEventFd(queue) : null;
    }

    @Override
    public void queueNotify(int queue) {
        VirtioContext ctx = context;
        if (ctx == null) return;
        if (queue == controlQueue(ctx)) serveControl(ctx, ctx.queue(queue));
        else if (queue < 2 * options.queuePairs()) dataPath.kick(queue);
    }

    private void serveControl(VirtioContext ctx, VirtQueue q) {
        if (q == null || !ctx.hasFeature(VIRTIO_NET_F_CTRL_VQ)) return;
        try {
            DescriptorChain c;
            while ((c = q.pop()) != null) q.complete(c, command(c));
        } catch (VirtqueueException e) {
            // the queue reported it; the driver must reset the device
        }
    }

    /** Runs one command chain; returns the bytes written (the ack, or nothing when there is no room for one). */
    private int command(DescriptorChain c) {
        if (c.readableLength() < 2 || c.writableLength() < 1 || c.readableLength() - 2 > MAX_CTRL_DATA) {
            counters.increment(NetCounters.Counter.CTRL_ERRORS);
            return c.writableLength() < 1 ? 0 : c.write(0, new byte[] {VIRTIO_NET_ERR}, 0, 1);
        }
        byte[] head = new byte[2];
        c.read(0, head, 0, 2);
        byte[] data = new byte[(int) c.readableLength() - 2];
        c.read(2, data, 0, data.length);
        int before = control.activePairs();
        int ack = control.execute(head[0] & 0xff, head[1] & 0xff, data);
        if (control.activePairs() != before) dataPath.setActivePairs(control.activePairs());
        return c.write(0, new byte[] {(byte) ack}, 0, 1);
    }

    @Override
    public void start() {
        dataPath.start();
        LOG.log(Level.INFO, "device {0}: virtio-net {1} on {2}, engine: {3}",
                new Object[] {instanceId, control.mac(), backend.describe(), dataPath.engine()});
    }

    @Override public void pause() { dataPath.pause(); }
    @Override public void resume() { dataPath.resume(); }

    @Override
    public void reset() {
        dataPath.reset();
        context = null;
        control.reset(options.mac());
        try {
            backend.setReceiveOffloads(0);
        } catch (IOException e) {
            LOG.log(Level.FINE, "device {0}: clearing offloads: {1}", new Object[] {instanceId, e.getMessage()});
        }
    }

    @Override
    public void stop() {
        dataPath.stop();
        context = null;
        backend.close();
    }

    @Override
    public DeviceState saveState() {
        RxFilter f = control.filter();
        return DeviceState.builder(STATE_TYPE, STATE_VERSION)
                .put("mac", control.mac().bytes())
                .put("status", control.status())
                .put("rx-mode", f.modeBits())
                .putList("mac-table-unicast", f.unicast().stream().map(MacAddress::bytes).toList())
                .putList("mac-table-multicast", f.multicast().stream().map(MacAddress::bytes).toList())
                .put("queue-pairs", control.activePairs())
                .putList("counters", counters.snapshot())
                .putList("rx-pending", dataPath.pendingFrames())
                .build();
    }

    /**
     * Adopts a saved state: from a swap's predecessor, or from a snapshot file, so every field is checked before
     * any is used (a MAC of six bytes, link status and receive mode bits this device knows, MAC tables no longer
     * than the device's, active queue pairs the device offers, counters, pending frames no longer than a frame);
     * a bad field is refused by name and this model is left unchanged.
     *
     * @throws vmm.core.device.IncompatibleStateException naming the state and the field
     */
    @Override
    public void restoreState(DeviceState state) {
        state.require(STATE_TYPE, STATE_VERSION);
        MacAddress mac = mac(state.getBytes("mac"), "mac");
        int status = state.getInt("status");
        if ((status & ~(VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE)) != 0)
            throw refused("status=0x" + Integer.toHexString(status) + " has bits no link status has");
        int rxMode = state.getInt("rx-mode");
        if ((rxMode & ~RX_MODE_BITS) != 0)
            throw refused("rx-mode=0x" + Integer.toHexString(rxMode) + " has bits no receive mode has");
        RxFilter f = RxFilter.of(rxMode, macs(state.getList("mac-table-unicast"), "mac-table-unicast"),
                macs(state.getList("mac-table-multicast"), "mac-table-multicast"));
        int pairs = state.getInt("queue-pairs");
        if (pairs < 1 || pairs > control.maxPairs())
            throw refused("queue-pairs=" + pairs + " is not 1.." + control.maxPairs());
        List<Object> saved = state.getList("counters");
        for (Object o : saved)
            if (!(o instanceof Long v) || v < 0) throw refused("counters holds " + o + ", not a count");
        List<Object> frames = state.getList("rx-pending");
        List<byte[]> pending = new ArrayList<>();
        for (Object o : frames) {
            // A frame as the data path read it: the virtio-net header, then at most a GSO frame.
            if (!(o instanceof byte[] b) || b.length > VIRTIO_NET_HDR_SIZE + MAX_GSO_FRAME)
                throw refused("rx-pending holds " + (o instanceof byte[] b ? "a frame of " + b.length + " bytes (at most "
                        + (VIRTIO_NET_HDR_SIZE + MAX_GSO_FRAME) + ")" : o + ", not a frame"));
            pending.add(b);
        }
        if (pending.size() > MAX_PENDING_FRAMES)
            throw refused("rx-pending holds " + pending.size() + " frames (at most " + MAX_PENDING_FRAMES + ")");
        control.restore(mac, status, f, pairs);
        counters.restore(saved);
        dataPath.restorePendingFrames(pending);
        // The data path moved: ask the guest to announce itself, as after a migration.
        announceOnActivate = true;
    }

    /** The receive mode bits {@link RxFilter#of} reads: promiscuous, all-multi, all-uni, no-multi, no-uni, no-broadcast. */
    private static final int RX_MODE_BITS = 0x3F;
    /** Frames a restored data path may hold undelivered: a data path holds one per receive queue that stalled. */
    static final int MAX_PENDING_FRAMES = 4096;

    private static vmm.core.device.IncompatibleStateException refused(String what) {
        return new vmm.core.device.IncompatibleStateException(STATE_TYPE + " state: " + what);
    }

    private static MacAddress mac(byte[] b, String field) {
        if (b.length != 6) throw refused(field + " is " + b.length + " bytes, not 6");
        return MacAddress.of(b, 0);
    }

    private static List<MacAddress> macs(List<Object> l, String field) {
        if (l.size() > RxFilter.MAC_TABLE_ENTRIES)
            throw refused(field + " holds " + l.size() + " addresses (at most " + RxFilter.MAC_TABLE_ENTRIES + ")");
        List<MacAddress> out = new ArrayList<>();
        for (Object o : l) {
            if (!(o instanceof byte[] b)) throw refused(field + " holds " + o + ", not an address");
            out.add(mac(b, field));
        }
        return out;
    }

    @Override
    public String toString() {
        return "virtio-net " + instanceId + " " + control.mac() + " on " + backend.describe() + " (" + dataPath.engine() + ")";
    }
}
