package vmm.vhostuser.internal;

import java.util.Map;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import vmm.core.device.DeviceProvider;
import vmm.core.device.DeviceState;
import vmm.core.device.SwapGate;
import vmm.core.virtio.VirtioContext;
import vmm.core.virtio.VirtioDevice;

/**
 * The device a vhost-user socket serves, apart from any one connection, so
 * it survives front-ends coming and going and can be swapped for another
 * implementation while one is connected. Every call into the model passes
 * the {@link SwapGate}; lifecycle calls exclude queue notifications.
 *
 * <p>When its provider leaves and no other is there, the device is
 * {@linkplain #detach() held}: the model finishes what it took, its state is
 * saved and it stops; the front-end stays connected, its kicks are dropped
 * (the rings keep what it offers), config reads are answered from the
 * config space saved at detach and config writes are replayed into the next
 * model, which {@link #swapTo} restores from the saved state and kicks.
 * Thread-safe.
 */
public final class ServedDevice {
    private final String instanceId;
    private final Map<String, Object> configuration;
    private final SwapGate gate = new SwapGate();
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    /** The model serving now; null while held. */
    private volatile VirtioDevice device;
    private volatile String implementation;
    /** What every model of this device must look like: the first model's, which the front-end negotiates against. */
    private final int deviceId, queueCount, configSize;
    private final long deviceFeatures;
    private final int[] maxQueueSizes;
    private VirtioContext context;
    private int swaps;
    // While held (under the write lock): the saved state, the config space as it was, writes to replay, a reset to do.
    private DeviceState heldState;
    private byte[] heldConfig;
    private final java.util.List<ConfigWrite> heldConfigWrites = new java.util.ArrayList<>();
    private boolean resetWhileHeld;
    private final java.util.concurrent.atomic.AtomicLong heldKicks = new java.util.concurrent.atomic.AtomicLong();

    /**
     * Creates and starts the first model.
     *
     * @throws IllegalArgumentException when the provider rejects the configuration or makes no virtio device
     */
    public ServedDevice(String instanceId, Map<String, Object> configuration, String implementation, DeviceProvider provider) {
        this.instanceId = instanceId;
        this.configuration = Map.copyOf(configuration);
        this.device = create(provider);
        this.implementation = implementation;
        deviceId = device.deviceId();
        queueCount = device.queueCount();
        configSize = device.configSize();
        deviceFeatures = device.deviceFeatures();
        maxQueueSizes = new int[queueCount];
        for (int q = 0; q < queueCount; q++) maxQueueSizes[q] = device.maxQueueSize(q);
        device.start();
    }

    private VirtioDevice create(DeviceProvider provider) {
        return VirtioDevice.createServed(provider, instanceId, configuration, "vhost-user");
    }

    /** The model serving now, or null while the device is held. */
    public VirtioDevice device() { return device; }
    /** The implementation serving now (the last one while held). */
    public String implementation() { return implementation; }
    /** Swaps and re-attachments so far. */
    public synchronized int swapCount() { return swaps; }
    /** Whether the device is held: no provider, its state saved. */
    public boolean held() { return device == null; }
    /** The device's queue count, the same for every model. */
    public int queueCount() { return queueCount; }
    /** The features the device offers, the same for every model. */
    public long deviceFeatures() { return deviceFeatures; }
    /** The largest size of ring {@code q} (0 &lt;= q &lt; queueCount), the same for every model. */
    public int maxQueueSize(int q) { return maxQueueSizes[q]; }

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
        if (!gate.enter()) throw new IllegalStateException("device " + instanceId + ": a swap did not finish in time");
        lock.writeLock().lock();
        try {
            VirtioDevice d = device;
            if (d != null) {
                d.reset();
            } else {
                // Held: the next model starts from the saved state, then takes this reset before anything else.
                resetWhileHeld = true;
                synchronized (heldConfigWrites) {
                    heldConfigWrites.clear();
                }
            }
        } finally {
            lock.writeLock().unlock();
            gate.exit();
        }
    }

    /** Waits until the model has finished every request it took (pause, then resume). */
    void quiesce() {
        withDevice(true, d -> {
            d.pause();
            d.resume();
        });
    }

    void notifyQueue(int queue) {
        if (!withDevice(false, d -> d.queueNotify(queue))) heldKicks.incrementAndGet();
    }

    /** A kick, on the ring's own kick thread: the model may serve requests on it ({@link VirtioDevice#queueNotifyOnIoThread}). */
    void notifyQueueOnIoThread(int queue) {
        if (!withDevice(false, d -> d.queueNotifyOnIoThread(queue))) heldKicks.incrementAndGet();
    }

    /** Kicks that came while the device was held (dropped: the successor is kicked for every ring), since start. */
    public long kicksWhileHeld() {
        return heldKicks.get();
    }

    /**
     * {@code size} bytes of device configuration from {@code offset}, read
     * in the naturally aligned accesses a driver would make; bytes past the
     * device's config read as 0. While held, from the config space saved at detach.
     */
    byte[] readConfig(int offset, int size) {
        byte[] out = new byte[size];
        withConfig(d -> {
            int end = Math.min(offset + size, configSize);
            if (d == null) {
                if (offset < end) System.arraycopy(heldConfig, offset, out, 0, end - offset);
                return;
            }
            for (int p = offset, n; p < end; p += n) {
                n = accessSize(p, end - p);
                long v = d.readConfig(p, n);
                for (int i = 0; i < n; i++) out[p - offset + i] = (byte) (v >>> (8 * i));
            }
        });
        return out;
    }

    /**
     * Writes config bytes as naturally aligned accesses; bytes past the device's config are dropped. While held,
     * kept (in order) for the next model.
     */
    void writeConfig(int offset, byte[] bytes) {
        withConfig(d -> {
            if (d == null) {
                synchronized (heldConfigWrites) {
                    heldConfigWrites.add(new ConfigWrite(offset, bytes.clone()));
                }
                return;
            }
            writeConfig(d, offset, bytes);
        });
    }

    private void writeConfig(VirtioDevice d, int offset, byte[] bytes) {
        int end = Math.min(offset + bytes.length, configSize);
        for (int p = offset, n; p < end; p += n) {
            n = accessSize(p, end - p);
            long v = 0;
            for (int i = 0; i < n; i++) v |= (bytes[p - offset + i] & 0xffL) << (8 * i);
            d.writeConfig(p, n, v);
        }
    }

    /** A config write made while the device was held. */
    private record ConfigWrite(int offset, byte[] bytes) {}

    /** The largest of 4, 2, 1 bytes aligned at {@code at} that fits in {@code left}: the widths virtio drivers use for config (4.1.3.1). */
    private static int accessSize(int at, int left) {
        for (int n = 4; n > 1; n >>= 1) if (at % n == 0 && left >= n) return n;
        return 1;
    }

    /** Runs {@code action} on the model (null while held) through the gate, sharing the device with other accesses. */
    private void withConfig(java.util.function.Consumer<VirtioDevice> action) {
        if (!gate.enter()) throw new IllegalStateException("device " + instanceId + ": a swap did not finish in time");
        lock.readLock().lock();
        try {
            action.accept(device);
        } finally {
            lock.readLock().unlock();
            gate.exit();
        }
    }

    /** Runs {@code action} on the model through the gate; false when the device is held and nothing ran. */
    private boolean withDevice(boolean exclusive, java.util.function.Consumer<VirtioDevice> action) {
        if (!gate.enter()) throw new IllegalStateException("device " + instanceId + ": a swap did not finish in time");
        var l = exclusive ? lock.writeLock() : lock.readLock();
        l.lock();
        try {
            VirtioDevice d = device;
            if (d == null) return false; // held: kicks are dropped (the rings keep the work), drains have nothing to do
            action.accept(d);
            return true;
        } finally {
            l.unlock();
            gate.exit();
        }
    }

    /**
     * Replaces the model under a connected front-end: the old one finishes
     * what it took, its state goes to the new one, which takes over the same
     * rings. Kicks wait at the gate meanwhile. While the device is held this
     * attaches the new model instead, restored from the saved state, with
     * the config writes and the reset the front-end made meanwhile.
     *
     * @throws IllegalArgumentException when the new model does not match the one the front-end sees (the old one
     *                                  keeps serving, or the device stays held)
     */
    public void swapTo(String nextImplementation, DeviceProvider provider) {
        VirtioContext ctx;
        gate.close();
        try {
            lock.writeLock().lock();
            try {
                VirtioDevice old = device;
                if (old != null) old.pause();
                VirtioDevice next;
                try {
                    DeviceState state = old != null ? old.saveState() : heldState;
                    next = create(provider);
                    String mismatch = mismatch(next);
                    if (mismatch != null) {
                        next.stop();
                        throw new IllegalArgumentException("device " + instanceId + ": " + nextImplementation + " does not match "
                                + implementation + ": " + mismatch);
                    }
                    try {
                        next.restoreState(state);
                        next.start();
                        synchronized (this) {
                            ctx = context;
                        }
                        if (old == null) catchUp(next, ctx);
                        if (ctx != null) next.activate(ctx);
                    } catch (RuntimeException e) {
                        next.stop();
                        throw e;
                    }
                } catch (RuntimeException e) {
                    if (old != null) old.resume();
                    throw e;
                }
                if (old != null) old.stop();
                device = next;
                implementation = nextImplementation;
                heldState = null;
                heldConfig = null;
                synchronized (this) {
                    swaps++;
                }
            } finally {
                lock.writeLock().unlock();
            }
        } finally {
            gate.open();
        }
        if (ctx != null) for (int q = 0; q < queueCount; q++) if (ctx.queue(q) != null) notifyQueue(q);
    }

    /** What the front-end did to a held device, done to {@code next} before it serves: a reset, then config writes. */
    private void catchUp(VirtioDevice next, VirtioContext ctx) {
        if (resetWhileHeld) next.reset();
        resetWhileHeld = false;
        synchronized (heldConfigWrites) {
            for (ConfigWrite w : heldConfigWrites) writeConfig(next, w.offset(), w.bytes());
            heldConfigWrites.clear();
        }
    }

    /**
     * The provider went away and none is there to take over: the model
     * finishes what it took, its state and config space are saved and it
     * stops. The front-end stays connected and sees nothing but a device
     * that takes no requests until {@link #swapTo} brings a successor.
     * Does nothing while already held.
     */
    public void detach() {
        gate.close();
        try {
            lock.writeLock().lock();
            try {
                VirtioDevice old = device;
                if (old == null) return;
                old.pause();
                try {
                    heldState = old.saveState();
                    byte[] config = new byte[configSize];
                    for (int p = 0, n; p < configSize; p += n) {
                        n = accessSize(p, configSize - p);
                        long v = old.readConfig(p, n);
                        for (int i = 0; i < n; i++) config[p + i] = (byte) (v >>> (8 * i));
                    }
                    heldConfig = config;
                } finally {
                    device = null; // from here on kicks are dropped and config is answered from what was saved
                    old.stop();
                }
            } finally {
                lock.writeLock().unlock();
            }
        } finally {
            gate.open();
        }
    }

    private String mismatch(VirtioDevice b) {
        if (deviceId != b.deviceId()) return "device ID " + b.deviceId() + " != " + deviceId;
        if (queueCount != b.queueCount()) return "queue count " + b.queueCount() + " != " + queueCount;
        if (configSize != b.configSize()) return "config size " + b.configSize() + " != " + configSize;
        if (deviceFeatures != b.deviceFeatures()) return "features differ";
        for (int q = 0; q < queueCount; q++)
            if (maxQueueSizes[q] != b.maxQueueSize(q)) return "queue " + q + " size differs";
        return null;
    }

    /** Stops the model; the device is gone. */
    public void stop() {
        lock.writeLock().lock();
        try {
            VirtioDevice d = device;
            if (d != null) d.stop();
            device = null;
        } finally {
            lock.writeLock().unlock();
        }
    }
}
