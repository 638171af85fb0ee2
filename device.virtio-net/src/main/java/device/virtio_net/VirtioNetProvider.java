package device.virtio_net;

import java.util.function.BiFunction;

import org.osgi.service.component.annotations.Component;

import device.virtio_net.backend.Backends;
import device.virtio_net.backend.NetBackend;
import device.virtio_net.model.NetModel;
import device.virtio_net.model.NetOptions;
import vmm.core.device.DeviceContext;
import vmm.core.device.DeviceModel;
import vmm.core.device.DeviceProvider;

/**
 * The {@code virtio-net} implementation of device type {@code virtio-net}:
 * one queue pair, data path on one I/O thread. Configuration: see
 * {@link NetOptions}; {@code offload} defaults to false here.
 */
@Component(property = {DeviceProvider.TYPE + "=virtio-net", DeviceProvider.IMPLEMENTATION + "=virtio-net"})
public final class VirtioNetProvider implements DeviceProvider {
    private final BiFunction<String, NetOptions, NetBackend> backends;

    /** The OSGi constructor: real back ends. */
    public VirtioNetProvider() {
        this((id, o) -> Backends.open(id, o.backend(), o.queuePairs()));
    }

    /** With another source of back ends, e.g. a test's fake. */
    public VirtioNetProvider(BiFunction<String, NetOptions, NetBackend> backends) {
        this.backends = backends;
    }

    /** Reads {@link NetOptions} with this implementation's defaults (no offloads, one pair). */
    public static NetOptions options(DeviceContext context) {
        return NetOptions.parse(context, false, 1);
    }

    /**
     * @throws IllegalArgumentException naming the key of a bad value, or of a back end the host refuses
     */
    @Override
    public DeviceModel create(DeviceContext context) {
        NetOptions o = options(context);
        NetBackend b = backends.apply(context.instanceId(), o);
        try {
            return new NetModel(context.instanceId(), o, b, SingleThreadDataPath::new);
        } catch (RuntimeException e) {
            b.close();
            throw e;
        }
    }
}
