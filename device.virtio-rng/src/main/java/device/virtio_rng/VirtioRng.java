package device.virtio_rng;

import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import vmm.core.device.DeviceState;
import vmm.core.virtio.DescriptorChain;
import vmm.core.virtio.VirtQueue;
import vmm.core.virtio.VirtioContext;
import vmm.core.virtio.VirtioDevice;
import vmm.core.virtio.VirtioFeatures;
import vmm.core.virtio.VirtqueueException;

/**
 * A virtio entropy device (virtio 1.2 section 5.4): one request queue whose
 * device-writable buffers it fills with random bytes from the host. It has
 * no device-specific features or config space. Requests are served on a
 * worker thread, off the vCPU that kicked, as reads of a host entropy source
 * may block; {@link #pause()} waits for the worker to finish what it took.
 */
public final class VirtioRng implements VirtioDevice {
    /** Device ID of an entropy source, section 5.4.1. */
    public static final int VIRTIO_ID_ENTROPY = 4;
    public static final String STATE_TYPE = "virtio-rng";
    /** Queue size offered to the driver; Linux uses whatever is offered. */
    static final int QUEUE_SIZE = 64;

    private final SecureRandom source;
    private final int maxBytesPerRequest;
    private final ExecutorService worker;
    private volatile VirtioContext context;
    private boolean paused;
    private int inFlight;
    private long bytesServed;

    /**
     * @param maxBytesPerRequest at most this many bytes per request, so one
     *                           huge guest buffer cannot monopolise the host source
     */
    public VirtioRng(int maxBytesPerRequest) {
        if (maxBytesPerRequest < 1) throw new IllegalArgumentException("max-bytes-per-request must be at least 1, was " + maxBytesPerRequest);
        this.maxBytesPerRequest = maxBytesPerRequest;
        this.source = hostSource();
        this.worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "virtio-rng");
            t.setDaemon(true);
            return t;
        });
    }

    private static SecureRandom hostSource() {
        try {
            // /dev/urandom: never blocks once the host's pool is initialised
            return SecureRandom.getInstance("NativePRNGNonBlocking");
        } catch (NoSuchAlgorithmException e) {
            return new SecureRandom();
        }
    }

    @Override public int deviceId() { return VIRTIO_ID_ENTROPY; }

    @Override
    public long deviceFeatures() {
        return VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC) | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX);
    }

    @Override public int queueCount() { return 1; }
    @Override public int maxQueueSize(int queue) { return QUEUE_SIZE; }
    @Override public int configSize() { return 0; }
    @Override public long readConfig(int offset, int size) { return 0; }
    @Override public void writeConfig(int offset, int size, long value) { }

    @Override
    public synchronized void activate(VirtioContext ctx) {
        context = ctx;
    }

    @Override
    public void queueNotify(int queue) {
        VirtioContext ctx;
        synchronized (this) {
            ctx = context;
            if (paused || ctx == null || queue != 0) return;
        }
        VirtQueue q = ctx.queue(0);
        if (q == null) return;
        try {
            DescriptorChain c;
            while ((c = q.pop()) != null) {
                DescriptorChain chain = c;
                synchronized (this) {
                    inFlight++;
                }
                worker.execute(() -> fill(q, chain));
            }
        } catch (VirtqueueException e) {
            // reported to the transport by the queue; the driver must reset
        }
    }

    /** The request queue: each notify's buffers are filled by the one worker, in order. */
    @Override
    public boolean servesToCompletion(int queue) {
        return queue == 0;
    }

    private void fill(VirtQueue q, DescriptorChain c) {
        int n = (int) Math.min(c.writableLength(), maxBytesPerRequest);
        try {
            byte[] bytes = new byte[n];
            source.nextBytes(bytes);
            int written = c.write(0, bytes, 0, n);
            q.complete(c, written);
            synchronized (this) {
                bytesServed += written;
            }
        } catch (RuntimeException e) {
            VirtioContext ctx = context;
            if (ctx != null) ctx.deviceError("virtio-rng: " + e.getMessage());
        } finally {
            synchronized (this) {
                inFlight--;
                notifyAll();
            }
        }
    }

    /** Bytes of entropy handed to the guest by this device and those it was restored from. */
    public synchronized long bytesServed() {
        return bytesServed;
    }

    @Override public void start() { }

    @Override
    public synchronized void pause() {
        paused = true;
        awaitIdle();
    }

    @Override
    public void resume() {
        synchronized (this) {
            paused = false;
        }
        queueNotify(0);
    }

    @Override
    public synchronized void reset() {
        awaitIdle();
        context = null;
    }

    @Override
    public void stop() {
        synchronized (this) {
            paused = true;
            awaitIdle();
            context = null;
        }
        worker.shutdownNow();
    }

    private void awaitIdle() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (inFlight > 0) {
            long left = deadline - System.nanoTime();
            if (left <= 0) throw new IllegalStateException("virtio-rng: " + inFlight + " requests still in flight after 10 s");
            try {
                wait(Math.max(1, left / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while draining", e);
            }
        }
    }

    @Override
    public synchronized DeviceState saveState() {
        return DeviceState.builder(STATE_TYPE, 1).put("bytes-served", bytesServed).build();
    }

    @Override
    public synchronized void restoreState(DeviceState state) {
        state.require(STATE_TYPE, 1);
        bytesServed = state.getLong("bytes-served");
    }
}
