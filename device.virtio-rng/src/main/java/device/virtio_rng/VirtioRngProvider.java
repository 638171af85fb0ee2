package device.virtio_rng;

import org.osgi.service.component.annotations.Component;

import vmm.core.device.DeviceContext;
import vmm.core.device.DeviceModel;
import vmm.core.device.DeviceProvider;

/**
 * Offers virtio-rng to the core. A device instance is a {@code vmm.device}
 * factory configuration with {@code type=virtio-rng}; the optional
 * {@code max-bytes-per-request} (default 4096) caps one request.
 */
@Component(property = {DeviceProvider.TYPE + "=virtio-rng", DeviceProvider.IMPLEMENTATION + "=virtio-rng"})
public final class VirtioRngProvider implements DeviceProvider {
    @Override
    public DeviceModel create(DeviceContext context) {
        long max = context.longProperty("max-bytes-per-request", 4096);
        if (max < 1 || max > (1 << 20))
            throw new IllegalArgumentException("device " + context.instanceId() + ": max-bytes-per-request must be 1..1048576, was " + max);
        return new VirtioRng((int) max);
    }
}
