package vmm.vhostuser.internal;

import java.util.Map;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import vmm.core.device.DeviceContext;
import vmm.core.device.DeviceModel;
import vmm.core.device.DeviceProvider;
import vmm.core.device.DeviceState;
import vmm.core.device.SwapGate;
import vmm.core.memory.GuestMemory;
import vmm.core.virtio.VirtioContext;
import vmm.core.virtio.VirtioDevice;

/**
 * The device a vhost-user socket serves, apart from any one connection, so
 * it survives front-ends coming and going and can be swapped for another
 * implementation while one is connected. Every call into the model passes
 * the {@link SwapGate}; lifecycle calls exclude queue notifications.
 * Thread-safe.
 */
public final class ServedDevice {
    private final String instanceId;
    private final Map<String, Object> configuration;
    private final SwapGate gate = new SwapGate();
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private volatile VirtioDevice device;
    private volatile String implementation;
    private VirtioContext context;
    private int swaps;

    /**
     * Creates and starts the first model.
     *
     * @throws IllegalArgumentException when the provider rejects the configuration or makes no virtio device
     */
    public ServedDevice(String instanceId, Map<String, Object> configuration, String implementation, DeviceProvider provider) {
        this.instanceId = instanceId;
        this.configuration = Map.copyOf(configuration);
        this.device = create(provider, implementation);
        this.implementation = implementation;
        device.start();
    }

    private VirtioDevice create(DeviceProvider provider, String impl) {
        DeviceModel m = provider.create(new DeviceContext() {
            @Override public String instanceId() { return instanceId; }
            @Override public Map<String, Object> configuration() { return configuration; }
            /** The peer's memory is mapped per connection: models reach it through their VirtioContext. */
            @Override public GuestMemory memory() { return null; }
        });
        if (!(m instanceof VirtioDevice v)) {
            m.stop();
            throw new IllegalArgumentException("device " + instanceId + ": implementation " + impl + " made a "
                    + m.getClass().getName() + ", not a virtio device; only virtio devices can be served over vhost-user");
        }
        return v;
    }

    public VirtioDevice device() { return device; }
    public String implementation() { return implementation; }
    public synchronized int swapCount() { return swaps; }

    void activate(VirtioContext ctx) {
        withDevice(true, d -> d.activate(ctx));
        synchronized (this) {
            context = ctx;
        }
    }

    void reset() {
        synchronized (this) {
            context = null;
        }
        withDevice(true, VirtioDevice::reset);
    }

    /** Waits until the model has finished every request it took (pause, then resume). */
    void quiesce() {
        withDevice(true, d -> {
            d.pause();
            d.resume();
        });
    }

    void notifyQueue(int queue) {
        withDevice(false, d -> d.queueNotify(queue));
    }

    /** A kick, on the ring's own kick thread: the model may serve requests on it ({@link VirtioDevice#queueNotifyOnIoThread}). */
    void notifyQueueOnIoThread(int queue) {
        withDevice(false, d -> d.queueNotifyOnIoThread(queue));
    }

    /**
     * {@code size} bytes of device configuration from {@code offset}, read
     * in the naturally aligned accesses a driver would make; bytes past the
     * device's config read as 0.
     */
    byte[] readConfig(int offset, int size) {
        byte[] out = new byte[size];
        withDevice(false, d -> {
            int end = Math.min(offset + size, d.configSize());
            for (int p = offset, n; p < end; p += n) {
                n = accessSize(p, end - p);
                long v = d.readConfig(p, n);
                for (int i = 0; i < n; i++) out[p - offset + i] = (byte) (v >>> (8 * i));
            }
        });
        return out;
    }

    /** Writes config bytes as naturally aligned accesses; bytes past the device's config are dropped. */
    void writeConfig(int offset, byte[] bytes) {
        withDevice(false, d -> {
            int end = Math.min(offset + bytes.length, d.configSize());
            for (int p = offset, n; p < end; p += n) {
                n = accessSize(p, end - p);
                long v = 0;
                for (int i = 0; i < n; i++) v |= (bytes[p - offset + i] & 0xffL) << (8 * i);
                d.writeConfig(p, n, v);
            }
        });
    }

    /** The largest of 4, 2, 1 bytes aligned at {@code at} that fits in {@code left}: the widths virtio drivers use for config (4.1.3.1). */
    private static int accessSize(int at, int left) {
        for (int n = 4; n > 1; n >>= 1) if (at % n == 0 && left >= n) return n;
        return 1;
    }

    private void withDevice(boolean exclusive, java.util.function.Consumer<VirtioDevice> action) {
        if (!gate.enter()) throw new IllegalStateException("device " + instanceId + ": a swap did not finish in time");
        var l = exclusive ? lock.writeLock() : lock.readLock();
        l.lock();
        try {
            action.accept(device);
        } finally {
            l.unlock();
            gate.exit();
        }
    }

    /**
     * Replaces the model under a connected front-end: the old one finishes
     * what it took, its state goes to the new one, which takes over the same
     * rings. Kicks wait at the gate meanwhile.
     *
     * @throws IllegalArgumentException when the new model does not match the one the front-end sees (the old one keeps serving)
     */
    public void swapTo(String nextImplementation, DeviceProvider provider) {
        VirtioContext ctx;
        gate.close();
        try {
            lock.writeLock().lock();
            try {
                VirtioDevice old = device;
                old.pause();
                VirtioDevice next;
                try {
                    DeviceState state = old.saveState();
                    next = create(provider, nextImplementation);
                    String mismatch = mismatch(old, next);
                    if (mismatch != null) {
                        next.stop();
                        throw new IllegalArgumentException("device " + instanceId + ": " + nextImplementation + " does not match "
                                + implementation + ": " + mismatch);
                    }
                    next.restoreState(state);
                    next.start();
                    synchronized (this) {
                        ctx = context;
                    }
                    if (ctx != null) next.activate(ctx);
                } catch (RuntimeException e) {
                    old.resume();
                    throw e;
                }
                old.stop();
                device = next;
                implementation = nextImplementation;
                synchronized (this) {
                    swaps++;
                }
            } finally {
                lock.writeLock().unlock();
            }
        } finally {
            gate.open();
        }
        if (ctx != null) for (int q = 0; q < device.queueCount(); q++) if (ctx.queue(q) != null) notifyQueue(q);
    }

    private static String mismatch(VirtioDevice a, VirtioDevice b) {
        if (a.deviceId() != b.deviceId()) return "device ID " + b.deviceId() + " != " + a.deviceId();
        if (a.queueCount() != b.queueCount()) return "queue count " + b.queueCount() + " != " + a.queueCount();
        if (a.configSize() != b.configSize()) return "config size " + b.configSize() + " != " + a.configSize();
        if (a.deviceFeatures() != b.deviceFeatures()) return "features differ";
        for (int q = 0; q < a.queueCount(); q++)
            if (a.maxQueueSize(q) != b.maxQueueSize(q)) return "queue " + q + " size differs";
        return null;
    }

    /** Stops the model; the device is gone. */
    public void stop() {
        lock.writeLock().lock();
        try {
            device.stop();
        } finally {
            lock.writeLock().unlock();
        }
    }
}
