package device.virtio_block;

import static device.virtio_block.protocol.VirtioBlk.*;
import static vmm.core.virtio.VirtioFeatures.bit;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import device.virtio_block.io.BlockImage;
import device.virtio_block.protocol.BlkConfigField;
import device.virtio_block.protocol.DiskGeometry;
import device.virtio_block.protocol.RequestParser;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;
import vmm.core.virtio.DescriptorChain;
import vmm.core.virtio.VirtQueue;
import vmm.core.virtio.VirtioContext;
import vmm.core.virtio.VirtioDevice;
import vmm.core.virtio.VirtioFeatures;

/**
 * A virtio block device (virtio 1.2 section 5.2) over a {@link BlockImage}.
 * Each request queue has a {@link QueueServer}: a notify from a vCPU only schedules
 * a pop on the device's dispatcher thread (one on a transport's I/O thread pops there), requests run on a small worker pool with at most {@code depth} in
 * flight per queue, and each completion interrupts through its queue.
 *
 * <p>Cache: with the writeback field at 1 and FLUSH negotiated a write
 * completes once the host kernel has it and FLUSH makes it stable; otherwise
 * (writethrough, or a driver that cannot flush) every write is made stable
 * before it completes.
 *
 * <p>State ({@value #STATE_TYPE} v{@value #STATE_VERSION}): the writeback
 * field, the request count, and the guest-visible disk shape (capacity, block
 * sizes, read-only, queues, serial) so a successor on a different disk is
 * refused. The transport keeps the negotiated features, queues and ring
 * indices; a pause completes every request taken, so none is in the state.
 */
public final class VirtioBlock implements VirtioDevice {
    public static final String STATE_TYPE = "virtio-blk";
    public static final int STATE_VERSION = 1;
    /** Announced per-segment and per-request limits of discard and write zeroes. */
    public static final int MAX_DISCARD_SECTORS = 1 << 22, MAX_DISCARD_SEG = 16,
            MAX_WRITE_ZEROES_SECTORS = 1 << 22, MAX_WRITE_ZEROES_SEG = 16;
    /** Announced largest segment; the device does not depend on it, as it does I/O straight on guest buffers. */
    public static final int SIZE_MAX_BYTES = 1 << 20;
    /** Worker threads of one device, whatever its queues and depth. */
    static final int MAX_WORKERS = 16;
    private static final long DRAIN_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(30);
    private static final System.Logger LOG = System.getLogger("vmm.virtio-blk");

    private final String name;
    private final BlockOptions options;
    private final BlockImage image;
    private final DiskGeometry geometry;
    private final RequestHandler handler;
    private final long features;
    /** Config space with the writeback byte left out; it lives in {@link #writeback}. */
    private final byte[] config;
    private final QueueServer[] servers;
    private final AtomicLong completed = new AtomicLong();
    private final Runnable failed;

    private volatile int writeback;
    private volatile VirtioContext context;
    private ThreadPoolExecutor workers;
    private ExecutorService dispatcher;

    /**
     * @param name     names the device in thread names and messages
     * @param image    the opened disk; the device closes it when stopped
     * @param capacity bytes the guest sees, a multiple of the logical block size
     */
    VirtioBlock(String name, BlockOptions options, BlockImage image, long capacity) {
        this(name, options, image, capacity, () -> { });
    }

    /** As above; {@code failed} runs for each request completed with IOERR or UNSUPP (the instance's error counter). */
    VirtioBlock(String name, BlockOptions options, BlockImage image, long capacity, Runnable failed) {
        this.failed = failed;
        this.name = name;
        this.options = options;
        this.image = image;
        this.geometry = new DiskGeometry(capacity, options.logicalBlockSize(), options.physicalBlockSize(),
                options.readOnly(), MAX_DISCARD_SECTORS, MAX_DISCARD_SEG, MAX_WRITE_ZEROES_SECTORS, MAX_WRITE_ZEROES_SEG);
        this.handler = new RequestHandler(name, new RequestParser(geometry), image, options.serial());
        this.features = features(options);
        this.config = configSpace(geometry, options);
        this.writeback = options.writeCache() ? 1 : 0;
        this.servers = new QueueServer[options.queues()];
    }

    private static long features(BlockOptions o) {
        long f = bit(VIRTIO_BLK_F_SIZE_MAX) | bit(VIRTIO_BLK_F_SEG_MAX) | bit(VIRTIO_BLK_F_BLK_SIZE)
                | bit(VIRTIO_BLK_F_TOPOLOGY) | bit(VIRTIO_BLK_F_FLUSH) | bit(VIRTIO_BLK_F_CONFIG_WCE) | bit(VIRTIO_BLK_F_MQ)
                | bit(VirtioFeatures.RING_INDIRECT_DESC) | bit(VirtioFeatures.RING_EVENT_IDX);
        if (o.readOnly()) return f | bit(VIRTIO_BLK_F_RO);
        f |= bit(VIRTIO_BLK_F_WRITE_ZEROES);
        return o.discard() ? f | bit(VIRTIO_BLK_F_DISCARD) : f;
    }

    private static byte[] configSpace(DiskGeometry g, BlockOptions o) {
        byte[] c = new byte[BlkConfigField.CONFIG_SIZE];
        BlkConfigField.CAPACITY.put(c, g.capacitySectors());
        BlkConfigField.SIZE_MAX.put(c, SIZE_MAX_BYTES);
        // Header and status take two descriptors of a direct chain; Linux sizes its scatter lists by this.
        BlkConfigField.SEG_MAX.put(c, Math.max(1, o.queueSize() - 2));
        BlkConfigField.BLK_SIZE.put(c, g.logicalBlockSize());
        BlkConfigField.TOPOLOGY_PHYSICAL_BLOCK_EXP.put(c, Integer.numberOfTrailingZeros(g.physicalBlockSize() / g.logicalBlockSize()));
        BlkConfigField.TOPOLOGY_MIN_IO_SIZE.put(c, g.physicalBlockSize() / g.logicalBlockSize());
        BlkConfigField.NUM_QUEUES.put(c, o.queues());
        BlkConfigField.MAX_DISCARD_SECTORS.put(c, g.maxDiscardSectors());
        BlkConfigField.MAX_DISCARD_SEG.put(c, g.maxDiscardSeg());
        BlkConfigField.DISCARD_SECTOR_ALIGNMENT.put(c, g.sectorsPerBlock());
        BlkConfigField.MAX_WRITE_ZEROES_SECTORS.put(c, g.maxWriteZeroesSectors());
        BlkConfigField.MAX_WRITE_ZEROES_SEG.put(c, g.maxWriteZeroesSeg());
        BlkConfigField.WRITE_ZEROES_MAY_UNMAP.put(c, o.discard() ? 1 : 0);
        return c;
    }

    @Override public int deviceId() { return VIRTIO_ID_BLOCK; }
    @Override public long deviceFeatures() { return features; }
    @Override public int queueCount() { return options.queues(); }
    @Override public int maxQueueSize(int queue) { return options.queueSize(); }
    @Override public int configSize() { return BlkConfigField.CONFIG_SIZE; }

    /** The disk as the guest sees it. */
    public DiskGeometry geometry() {
        return geometry;
    }

    /** Requests completed by this device and the ones it was restored from. */
    public long requestsCompleted() {
        return completed.get();
    }

    /** The writeback field: 1 for a writeback cache, 0 for writethrough. */
    public int writeback() {
        return writeback;
    }

    /** Any thread; config is immutable apart from the writeback byte. */
    @Override
    public long readConfig(int offset, int size) {
        long v = 0;
        int wb = writeback;
        for (int i = 0; i < size; i++) {
            int at = offset + i;
            int b = at == BlkConfigField.WRITEBACK.offset ? wb : config[at] & 0xff;
            v |= (long) b << (8 * i);
        }
        return v;
    }

    /**
     * Only the writeback byte is writable, and only once the driver
     * negotiated CONFIG_WCE (and the device is active, so that is known).
     */
    @Override
    public void writeConfig(int offset, int size, long value) {
        int at = BlkConfigField.WRITEBACK.offset;
        if (at < offset || at >= offset + size) return;
        VirtioContext ctx = context;
        if (ctx == null || !ctx.hasFeature(VIRTIO_BLK_F_CONFIG_WCE)) return;
        writeback = ((value >>> (8 * (at - offset))) & 0xff) != 0 ? 1 : 0;
    }

    @Override
    public synchronized void start() {
        if (workers != null) return;
        int n = Math.min(MAX_WORKERS, options.queues() * options.depth());
        AtomicInteger count = new AtomicInteger();
        workers = new ThreadPoolExecutor(n, n, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "virtio-blk " + name + " #" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        workers.allowCoreThreadTimeOut(true);
        dispatcher = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "virtio-blk " + name + " dispatcher");
            t.setDaemon(true);
            return t;
        });
        for (int q = 0; q < servers.length; q++) servers[q] = new QueueServer(q, options.depth(), dispatcher, workers, this::serve);
    }

    @Override
    public synchronized void activate(VirtioContext ctx) {
        if (workers == null) throw new IllegalStateException("virtio-blk " + name + " activated before start");
        // Section 5.2.5: a driver that can toggle the cache but not flush gets writethrough.
        if (ctx.hasFeature(VIRTIO_BLK_F_CONFIG_WCE) && !ctx.hasFeature(VIRTIO_BLK_F_FLUSH)) writeback = 0;
        context = ctx;
        for (int q = 0; q < servers.length; q++) servers[q].attach(ctx.queue(q));
    }

    /** vCPU thread: hands the queue to the dispatcher and returns; in a deterministic run serves it right here. */
    @Override
    public void queueNotify(int queue) {
        QueueServer[] s = servers;
        if (queue < 0 || queue >= s.length || s[queue] == null) return;
        VirtioContext ctx = context;
        if (ctx != null && ctx.deterministic()) s[queue].serveAllHere();
        else s[queue].kick();
    }

    /** Every queue is a request queue: a notify's requests are all served without outside input. */
    @Override
    public boolean servesToCompletion(int queue) {
        return true;
    }

    /**
     * The transport's I/O thread for this queue: pops here and serves a lone request here (no
     * hand-off, which is most of a queue-depth-1 request's latency); more go to the workers.
     */
    @Override
    public void queueNotifyOnIoThread(int queue) {
        QueueServer[] s = servers;
        if (queue < 0 || queue >= s.length || s[queue] == null) return;
        s[queue].kickHere();
    }

    private void serve(VirtQueue q, DescriptorChain c) {
        VirtioContext ctx = context;
        try {
            if (ctx == null) throw new IllegalStateException("request served with no active context");
            RequestHandler.Outcome o = handler.handle(c, ctx.memory(), mode(ctx));
            if (!o.answerable()) {
                // Nothing to write the status into: only a reset can get the driver out of this.
                failed.run();
                ctx.deviceError("virtio-blk " + name + ": " + o.reason());
                return;
            }
            if (o.status() != VIRTIO_BLK_S_OK) failed.run();
            // Counted before the completion is published, so whoever sees it finds it counted.
            completed.incrementAndGet();
            try {
                q.complete(c, o.written());
            } catch (RuntimeException e) {
                completed.decrementAndGet();
                throw e;
            }
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, () -> "virtio-blk " + name + ": request failed", e);
            if (ctx != null) ctx.deviceError("virtio-blk " + name + ": " + e.getMessage());
        } catch (InternalError e) {
            // The JVM's report of an access that faulted: memory a vhost-user or vfio-user peer shared and then
            // shrank (its transport cuts it off when told). This worker lives on to serve the next guest.
            LOG.log(Level.WARNING, "virtio-blk {0}: request failed: {1}", name, e.getMessage());
            if (ctx != null) ctx.deviceError("virtio-blk " + name + ": guest memory fault: " + e.getMessage());
        }
    }

    private RequestHandler.Mode mode(VirtioContext ctx) {
        boolean flush = ctx.hasFeature(VIRTIO_BLK_F_FLUSH);
        boolean discard = ctx.hasFeature(VIRTIO_BLK_F_DISCARD);
        boolean zeroes = ctx.hasFeature(VIRTIO_BLK_F_WRITE_ZEROES);
        return new RequestHandler.Mode() {
            // Read per request: the driver may switch the cache mode at any time (undefined for writes in flight).
            @Override public boolean writeThrough() { return !flush || writeback == 0; }
            @Override public boolean discardNegotiated() { return discard; }
            @Override public boolean writeZeroesNegotiated() { return zeroes; }
            @Override public boolean mayUnmap() { return options.discard(); }
        };
    }

    /**
     * Waits until every pump scheduled on the dispatcher so far has run (the transport notifies each
     * queue once at activation), so a test can tell which thread takes what it offers next.
     */
    void awaitDispatcher() throws Exception {
        ExecutorService d;
        synchronized (this) {
            d = dispatcher;
        }
        d.submit(() -> {}).get();
    }

    /** Stops taking requests and waits until every request taken has completed and interrupted. */
    @Override
    public synchronized void pause() {
        for (QueueServer s : servers) if (s != null) s.pause();
        drain();
    }

    @Override
    public synchronized void resume() {
        for (QueueServer s : servers) if (s != null) s.resume();
    }

    /** Finishes what was taken (before the transport retires the queues), forgets them, and restores the cache mode. */
    @Override
    public synchronized void reset() {
        // Detach first so no pump takes a request between the drain and the reset.
        for (QueueServer s : servers) if (s != null) s.attach(null);
        drain();
        context = null;
        writeback = options.writeCache() ? 1 : 0;
    }

    /** Drains, stops the workers and closes the image. Also valid on a model that was never started. */
    @Override
    public synchronized void stop() {
        for (QueueServer s : servers) if (s != null) s.pause();
        try {
            drain();
        } finally {
            context = null;
            if (workers != null) workers.shutdownNow();
            if (dispatcher != null) dispatcher.shutdownNow();
            try {
                image.close();
            } catch (IOException e) {
                LOG.log(Level.WARNING, () -> "virtio-blk " + name + ": closing the image failed", e);
            }
        }
    }

    private void drain() {
        for (QueueServer s : servers) if (s != null) s.awaitIdle(DRAIN_TIMEOUT_NANOS);
    }

    @Override
    public synchronized DeviceState saveState() {
        return DeviceState.builder(STATE_TYPE, STATE_VERSION)
                .put("writeback", writeback)
                .put("requests-completed", completed.get())
                .put("capacity-sectors", geometry.capacitySectors())
                .put("logical-block-size", geometry.logicalBlockSize())
                .put("physical-block-size", geometry.physicalBlockSize())
                .put("read-only", geometry.readOnly())
                .put("num-queues", options.queues())
                .put("serial", options.serial())
                .build();
    }

    /**
     * Adopts a predecessor's cache mode and count. The disk it served must
     * look the same to the guest; a successor configured for another disk
     * shape is refused rather than changing the disk under the guest.
     */
    @Override
    public synchronized void restoreState(DeviceState state) {
        state.require(STATE_TYPE, STATE_VERSION);
        same(state, "capacity-sectors", geometry.capacitySectors());
        same(state, "logical-block-size", geometry.logicalBlockSize());
        same(state, "physical-block-size", geometry.physicalBlockSize());
        same(state, "read-only", geometry.readOnly() ? 1 : 0);
        same(state, "num-queues", options.queues());
        if (!state.getString("serial").equals(options.serial()))
            throw new IncompatibleStateException("virtio-blk " + name + ": saved serial '" + state.getString("serial")
                    + "' differs from this device's '" + options.serial() + "'");
        long wb = state.getLong("writeback");
        if (wb != 0 && wb != 1) throw new IncompatibleStateException("virtio-blk " + name + ": writeback " + wb + " is not 0 or 1");
        long done = state.getLong("requests-completed");
        if (done < 0) throw new IncompatibleStateException("virtio-blk " + name + ": requests-completed " + done + " is negative");
        writeback = (int) wb;
        completed.set(done);
    }

    private void same(DeviceState state, String field, long mine) {
        long saved = state.getLong(field);
        if (saved != mine)
            throw new IncompatibleStateException("virtio-blk " + name + ": saved " + field + " " + saved + " differs from this device's " + mine);
    }
}
