package vmm.core.virtio;

import vmm.core.memory.GuestMemory;

/**
 * What an active device gets from the virtio-pci transport at DRIVER_OK:
 * valid until the next reset, kept across hot swaps. Once invalid, its
 * queues are gone and its notifications and errors are dropped.
 */
final class DriverContext implements VirtioContext {
    private final VirtioPciTransport t;
    private final long features;
    private final GuestMemory memory;
    volatile boolean valid = true;

    DriverContext(VirtioPciTransport t, long features, GuestMemory memory) {
        this.t = t;
        this.features = features;
        this.memory = memory;
    }

    @Override
    public GuestMemory memory() {
        return memory;
    }

    @Override
    public long negotiatedFeatures() {
        return features;
    }

    @Override
    public VirtQueue queue(int index) {
        synchronized (t.lock) {
            return valid && index >= 0 && index < t.queueCount ? t.queues[index].queue : null;
        }
    }

    @Override
    public void configChanged() {
        synchronized (t.lock) {
            if (!valid) return;
            t.configGeneration = (t.configGeneration + 1) & 0xff;
            t.configInterruptLocked();
        }
    }

    @Override
    public boolean deterministic() {
        return t.deterministic;
    }

    @Override
    public void deviceError(String reason) {
        synchronized (t.lock) {
            if (valid) t.needsResetLocked("device error: " + reason);
        }
    }
}
