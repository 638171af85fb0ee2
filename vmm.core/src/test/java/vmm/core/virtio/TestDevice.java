package vmm.core.virtio;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import vmm.core.device.DeviceState;

/**
 * A virtio device for transport tests: records what the transport calls,
 * keeps a byte array as config space, and on a notify echoes every chain
 * synchronously (its tag byte, then the readable bytes, into the writable
 * buffers) unless {@link #serve} is off.
 */
final class TestDevice implements VirtioDevice {
    final int id, queues, maxQueueSize;
    final long features;
    final byte[] config;
    final byte tag;
    final List<Integer> notifies = new CopyOnWriteArrayList<>();
    final List<VirtioContext> activations = new CopyOnWriteArrayList<>();
    final AtomicInteger resets = new AtomicInteger();
    volatile boolean serve = true;
    volatile VirtioContext context;

    TestDevice(int id, int queues, int maxQueueSize, long features, int configSize, char tag) {
        this.id = id;
        this.queues = queues;
        this.maxQueueSize = maxQueueSize;
        this.features = features;
        this.config = new byte[configSize];
        this.tag = (byte) tag;
    }

    /** A device of unassigned type 63 with one queue of up to 16 entries and 8 bytes of config. */
    static TestDevice simple(char tag) {
        return new TestDevice(63, 1, 16, TestRing.F_INDIRECT | TestRing.F_EVENT_IDX, 8, tag);
    }

    @Override public int deviceId() { return id; }
    @Override public long deviceFeatures() { return features; }
    @Override public int queueCount() { return queues; }
    @Override public int maxQueueSize(int queue) { return maxQueueSize; }
    @Override public int configSize() { return config.length; }

    @Override
    public synchronized long readConfig(int offset, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) v |= (config[offset + i] & 0xffL) << 8 * i;
        return v;
    }

    @Override
    public synchronized void writeConfig(int offset, int size, long value) {
        for (int i = 0; i < size; i++) config[offset + i] = (byte) (value >>> 8 * i);
    }

    @Override
    public void activate(VirtioContext ctx) {
        activations.add(ctx);
        context = ctx;
    }

    @Override
    public void queueNotify(int queue) {
        notifies.add(queue);
        VirtioContext ctx = context;
        if (!serve || ctx == null) return;
        VirtQueue q = ctx.queue(queue);
        if (q == null) return;
        DescriptorChain c;
        while ((c = q.pop()) != null) {
            byte[] in = new byte[(int) c.readableLength()];
            c.read(0, in, 0, in.length);
            byte[] out = new byte[in.length + 1];
            out[0] = tag;
            System.arraycopy(in, 0, out, 1, in.length);
            q.complete(c, c.write(0, out, 0, out.length));
        }
    }

    @Override public void start() { }
    @Override public void pause() { }
    @Override public void resume() { }

    @Override
    public void reset() {
        resets.incrementAndGet();
        context = null;
    }

    @Override public void stop() { }

    @Override
    public DeviceState saveState() {
        return DeviceState.builder("test-device", 1).build();
    }

    @Override
    public void restoreState(DeviceState state) {
        state.require("test-device", 1);
    }
}
