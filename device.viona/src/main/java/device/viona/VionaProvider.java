package device.viona;

import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.osgi.service.component.annotations.Component;

import device.viona.engine.WorkerDataPath;
import device.viona.vhost.VhostHost;
import device.viona.vhost.VhostNetDataPath;
import device.virtio_net.backend.Backends;
import device.virtio_net.backend.NetBackend;
import device.virtio_net.model.DataPath;
import device.virtio_net.model.NetModel;
import device.virtio_net.model.NetOptions;
import vmm.core.device.DeviceContext;
import vmm.core.device.DeviceModel;
import vmm.core.device.DeviceProvider;

/**
 * The {@code viona} implementation of device type {@code virtio-net}: the
 * same guest-visible device as device.virtio-net's, with offloads on by
 * default ({@code offload=false} turns them off, which makes its features
 * those of the plain implementation), up to {@value NetOptions#MAX_QUEUE_PAIRS}
 * queue pairs over a multi-queue TAP, and the host's vhost-net as data path
 * where it exists ({@code vhost-net=off} keeps the in-process engine).
 */
@Component(property = {DeviceProvider.TYPE + "=virtio-net", DeviceProvider.IMPLEMENTATION + "=viona"})
public final class VionaProvider implements DeviceProvider {
    private static final Logger LOG = Logger.getLogger(VionaProvider.class.getName());
    private final BiFunction<String, NetOptions, NetBackend> backends;
    private final VhostHost vhost;

    public VionaProvider() {
        this((id, o) -> Backends.open(id, o.backend(), o.queuePairs()), VhostHost.LINUX);
    }

    /** With other back ends and another vhost-net (tests). */
    public VionaProvider(BiFunction<String, NetOptions, NetBackend> backends, VhostHost vhost) {
        this.backends = backends;
        this.vhost = vhost;
    }

    /**
     * @throws IllegalArgumentException naming the key of a bad value, or of a back end the host refuses
     */
    @Override
    public DeviceModel create(DeviceContext context) {
        NetOptions o = NetOptions.parse(context, true, NetOptions.MAX_QUEUE_PAIRS);
        boolean vhostAllowed = switch (context.property("vhost-net", "auto").trim()) {
            case "auto" -> true;
            case "off" -> false;
            default -> throw new IllegalArgumentException("device " + context.instanceId() + ": vhost-net must be auto or off, was "
                    + context.property("vhost-net", ""));
        };
        NetBackend b = backends.apply(context.instanceId(), o);
        try {
            return new NetModel(context.instanceId(), o, b, engine(context.instanceId(), b, vhostAllowed));
        } catch (RuntimeException e) {
            b.close();
            throw e;
        }
    }

    /** vhost-net when allowed, present and the back end is a TAP; else the in-process engine, saying why. */
    Function<NetModel.Wiring, DataPath> engine(String id, NetBackend b, boolean vhostAllowed) {
        String why = !vhostAllowed ? "vhost-net=off"
                : vhost.unavailable() != null ? vhost.unavailable()
                : b.hostDescriptor(0).isEmpty() ? "the back end is not a TAP"
                : null;
        if (why == null) {
            LOG.log(Level.INFO, "device {0}: data path handed to vhost-net", id);
            return wiring -> new VhostNetDataPath(wiring, vhost);
        }
        LOG.log(Level.INFO, "device {0}: in-process data path ({1})", new Object[] {id, why});
        return WorkerDataPath::new;
    }
}
