package vmm.testing;

import java.util.concurrent.TimeUnit;

import vmm.core.device.DeviceProvider;
import vmm.core.device.DeviceState;
import vmm.core.virtio.DescriptorChain;
import vmm.core.virtio.RequestWorker;
import vmm.core.virtio.VirtioContext;
import vmm.core.virtio.VirtioDevice;
import vmm.core.virtio.VirtioFeatures;

/**
 * A loopback virtio device for testing transports, lifecycles and swaps
 * (what QEMU's pci-testdev is for PCI): each request's device-readable bytes
 * come back in its device-writable buffers, prefixed by one tag byte that
 * names the implementation that served it. Requests are completed on a
 * worker thread after a configurable delay, so tests can have work in
 * flight. It uses virtio device ID {@value #DEVICE_ID}, which the
 * specification does not assign; it is for tests only.
 *
 * <p>Config space: le32 {@code processed} (read-only, requests completed by
 * this instance and the ones it was restored from) at 0, le32 {@code scratch}
 * (read-write) at 4.
 */
public final class EchoDevice implements VirtioDevice {
    public static final int DEVICE_ID = 63;
    public static final String TYPE = "echo";

    private final byte tag;
    private final long delayMicros;
    private final int queues;
    private final RequestWorker requests;
    private long processed;
    private int scratch;

    public EchoDevice(byte tag, long delayMicros, int queues) {
        this.tag = tag;
        this.delayMicros = delayMicros;
        this.queues = queues;
        this.requests = new RequestWorker("echo-" + (char) tag, queues, (queue, c) -> serve(c));
    }

    /** A provider whose devices tag their replies with {@code tag} and complete after {@code delayMicros}. */
    public static DeviceProvider provider(char tag, long delayMicros) {
        return context -> new EchoDevice((byte) tag, delayMicros, (int) context.longProperty("queues", 1));
    }

    @Override public int deviceId() { return DEVICE_ID; }

    @Override
    public long deviceFeatures() {
        return VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC) | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX);
    }

    @Override public int queueCount() { return queues; }
    @Override public int maxQueueSize(int queue) { return 256; }
    @Override public int configSize() { return 8; }

    @Override
    public synchronized long readConfig(int offset, int size) {
        long v = (processed & 0xffff_ffffL) | (Integer.toUnsignedLong(scratch) << 32);
        return (v >>> (8 * offset)) & (size == 8 ? -1L : (1L << (8 * size)) - 1);
    }

    @Override
    public synchronized void writeConfig(int offset, int size, long value) {
        if (offset == 4 && size == 4) scratch = (int) value;
    }

    @Override
    public void activate(VirtioContext ctx) {
        requests.activate(ctx);
    }

    @Override
    public void queueNotify(int queue) {
        requests.notify(queue);
    }

    /** Every queue echoes each request it is offered. */
    @Override
    public boolean servesToCompletion(int queue) {
        return true;
    }

    private int serve(DescriptorChain c) throws InterruptedException {
        if (delayMicros > 0) TimeUnit.MICROSECONDS.sleep(delayMicros);
        try {
            byte[] in = new byte[(int) Math.min(c.readableLength(), 1 << 20)];
            c.read(0, in, 0, in.length);
            byte[] out = new byte[in.length + 1];
            out[0] = tag;
            System.arraycopy(in, 0, out, 1, in.length);
            return c.write(0, out, 0, (int) Math.min(out.length, c.writableLength()));
        } finally {
            synchronized (this) {
                processed++;
            }
        }
    }

    /** Requests taken and not yet completed. */
    public int inFlight() {
        return requests.inFlight();
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
        synchronized (this) {
            scratch = 0;
        }
    }

    @Override
    public void stop() {
        requests.stop();
    }

    @Override
    public synchronized DeviceState saveState() {
        return DeviceState.builder(TYPE, 1).put("processed", processed).put("scratch", scratch).build();
    }

    @Override
    public synchronized void restoreState(DeviceState state) {
        state.require(TYPE, 1);
        processed = state.getLong("processed");
        scratch = state.getInt("scratch");
    }
}
