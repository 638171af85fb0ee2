package device.virtio_rng;

import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;

import vmm.core.device.DeviceState;
import vmm.core.virtio.DescriptorChain;
import vmm.core.virtio.RequestWorker;
import vmm.core.virtio.VirtioContext;
import vmm.core.virtio.VirtioDevice;
import vmm.core.virtio.VirtioFeatures;

/**
 * A virtio entropy device (virtio 1.2 section 5.4): one request queue whose
 * device-writable buffers it fills with random bytes from the host. It has
 * no device-specific features or config space. Requests are served on the
 * core's {@link RequestWorker}, off the vCPU that kicked, as reads of a host
 * entropy source may block; {@link #pause()} waits for it to finish what it took.
 */
public final class VirtioRng implements VirtioDevice {
    /** Device ID of an entropy source, section 5.4.1. */
    public static final int VIRTIO_ID_ENTROPY = 4;
    public static final String STATE_TYPE = "virtio-rng";
    /** Queue size offered to the driver; Linux uses whatever is offered. */
    static final int QUEUE_SIZE = 64;

    private final SecureRandom source;
    private final int maxBytesPerRequest;
    private final RequestWorker requests;
    private long bytesServed;

    /**
     * @param maxBytesPerRequest at most this many bytes per request, so one
     *                           huge guest buffer cannot monopolise the host source
     */
    public VirtioRng(int maxBytesPerRequest) {
        if (maxBytesPerRequest < 1) throw new IllegalArgumentException("max-bytes-per-request must be at least 1, was " + maxBytesPerRequest);
        this.maxBytesPerRequest = maxBytesPerRequest;
        this.source = hostSource();
        this.requests = new RequestWorker("virtio-rng", 1, (queue, c) -> fill(c));
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
    public void activate(VirtioContext ctx) {
        requests.activate(ctx);
    }

    @Override
    public void queueNotify(int queue) {
        if (queue == 0) requests.notify(queue);
    }

    /** The request queue: each notify's buffers are filled by the one worker, in order. */
    @Override
    public boolean servesToCompletion(int queue) {
        return queue == 0;
    }

    private int fill(DescriptorChain c) {
        int n = (int) Math.min(c.writableLength(), maxBytesPerRequest);
        byte[] bytes = new byte[n];
        source.nextBytes(bytes);
        int written = c.write(0, bytes, 0, n);
        synchronized (this) {
            bytesServed += written;
        }
        return written;
    }

    /** Bytes of entropy handed to the guest by this device and those it was restored from. */
    public synchronized long bytesServed() {
        return bytesServed;
    }

    @Override public void start() { }

    @Override
    public void pause() {
        requests.pause();
    }

    @Override
    public void resume() {
        requests.resume();
    }

    @Override
    public void reset() {
        requests.reset();
    }

    @Override
    public void stop() {
        requests.stop();
    }

    @Override
    public synchronized DeviceState saveState() {
        return DeviceState.builder(STATE_TYPE, 1).put("bytes-served", bytesServed).build();
    }

    @Override
    public synchronized void restoreState(DeviceState state) {
        state.require(STATE_TYPE, 1);
        long served = state.getLong("bytes-served");
        // From a snapshot file too: a count, never negative.
        if (served < 0)
            throw new vmm.core.device.IncompatibleStateException(STATE_TYPE + " state: bytes-served " + served + " is negative");
        bytesServed = served;
    }
}
