package vmm.core.machine;

import vmm.core.device.DeviceModel;
import vmm.core.device.IncompatibleStateException;
import vmm.core.virtio.VirtioContext;
import vmm.core.virtio.VirtioDevice;
import vmm.core.virtio.VirtioFeatures;
import vmm.core.virtio.VirtioPciTransport;

/** A virtio device's shell: its virtio-pci transport, which keeps the PCI function, the queues and the status. */
final class VirtioShell implements Shell {
    private final String id;
    final VirtioPciTransport transport;

    VirtioShell(String id, VirtioPciTransport transport) {
        this.id = id;
        this.transport = transport;
    }

    @Override
    public DeviceModel model() {
        return transport.device();
    }

    @Override
    public void checkShape(DeviceModel model) {
        if (!(model instanceof VirtioDevice next))
            throw new IllegalArgumentException("device " + id + ": the new implementation made a "
                    + model.getClass().getName() + ", not a virtio device");
        VirtioDevice old = transport.device();
        StringBuilder why = new StringBuilder();
        if (old.deviceId() != next.deviceId()) why.append(" device ID ").append(next.deviceId()).append(" != ").append(old.deviceId());
        if (old.queueCount() != next.queueCount()) why.append(" queue count ").append(next.queueCount()).append(" != ").append(old.queueCount());
        if (old.configSize() != next.configSize()) why.append(" config size ").append(next.configSize()).append(" != ").append(old.configSize());
        for (int q = 0; q < Math.min(old.queueCount(), next.queueCount()); q++)
            if (next.maxQueueSize(q) < old.maxQueueSize(q)) why.append(" queue ").append(q).append(" smaller");
        VirtioContext ctx = transport.context();
        if (ctx != null) {
            // VERSION_1 is the transport's to offer, every other negotiated bit the device's.
            long missing = ctx.negotiatedFeatures() & ~next.deviceFeatures() & ~VirtioFeatures.bit(VirtioFeatures.VERSION_1);
            if (missing != 0) why.append(String.format(" lacks negotiated features 0x%x", missing));
        }
        if (!why.isEmpty())
            throw new IncompatibleStateException("device " + id + ": the new implementation does not match the guest-visible device:" + why);
    }

    @Override
    public void install(DeviceModel next) {
        transport.replaceDevice((VirtioDevice) next);
    }

    @Override
    public void releaseModel() {
        transport.releaseKernelBindings();
    }

    @Override
    public void afterInstall() {
        transport.kickEnabledQueues();
    }

    @Override
    public void reset() {
        transport.reset();
    }

    @Override
    public void unplug() {
        transport.detach();
    }

    @Override
    public String location() {
        return transport.toString();
    }
}
