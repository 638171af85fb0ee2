package device.virtio_vsock;

import java.io.IOException;
import java.nio.file.Path;

import org.osgi.service.component.annotations.Component;

import device.virtio_vsock.connection.Connections;
import device.virtio_vsock.host.HostSockets;
import device.virtio_vsock.protocol.VsockSpec;
import vmm.core.device.DeviceContext;
import vmm.core.device.DeviceModel;
import vmm.core.device.DeviceProvider;

/**
 * Offers virtio-vsock to the core. A device instance is a
 * {@code vmm.device} factory configuration with {@code type=virtio-vsock},
 * {@code cid} (the guest's CID, 3..4294967294) and {@code path} (the Unix
 * socket host processes connect to; a guest connecting to host port P
 * reaches {@code path_P}). Optional: {@code max-connections} (default
 * 1024), {@code buf-alloc} (the credit per connection in bytes, default
 * 262144) and {@code event-idx} (offer VIRTIO_F_EVENT_IDX, default true).
 */
@Component(property = {DeviceProvider.TYPE + "=virtio-vsock", DeviceProvider.IMPLEMENTATION + "=virtio-vsock"})
public final class VsockProvider implements DeviceProvider {
    /** Opens the host side of a path; a seam for tests. */
    interface Opener {
        HostSockets.Opened open(Path path) throws IOException;
    }

    private final Opener opener;

    /** The OSGi constructor: the host side at the configured path. */
    public VsockProvider() {
        this(HostSockets::open);
    }

    VsockProvider(Opener opener) {
        this.opener = opener;
    }

    @Override
    public DeviceModel create(DeviceContext context) {
        String id = context.instanceId();
        long cid = context.longProperty("cid", -1);
        if (cid < VsockSpec.FIRST_GUEST_CID || cid > VsockSpec.MAX_GUEST_CID)
            throw new IllegalArgumentException("device " + id + ": cid must be " + VsockSpec.FIRST_GUEST_CID + ".."
                    + VsockSpec.MAX_GUEST_CID + (cid == -1 ? ", and is required" : ", was " + cid));
        String path = context.property("path", "");
        if (path.isEmpty()) throw new IllegalArgumentException("device " + id
                + ": path (the host Unix socket) is required");
        long max = context.longProperty("max-connections", Connections.Limits.DEFAULT.maxConnections());
        if (max < 1 || max > 65536)
            throw new IllegalArgumentException("device " + id + ": max-connections must be 1..65536, was " + max);
        long buf = context.longProperty("buf-alloc", Connections.Limits.DEFAULT.bufAlloc());
        if (buf < 4096 || buf > (16 << 20))
            throw new IllegalArgumentException("device " + id + ": buf-alloc must be 4096..16777216, was " + buf);
        String eventIdx = context.property("event-idx", "true");
        if (!eventIdx.equals("true") && !eventIdx.equals("false"))
            throw new IllegalArgumentException("device " + id + ": event-idx must be true or false, was " + eventIdx);
        HostSockets.Opened opened;
        try {
            opened = opener.open(Path.of(path));
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("device " + id + ": path=" + path + " cannot be listened on: "
                    + e.getMessage(), e);
        }
        try {
            return new VsockDevice(id, cid, new Connections.Limits((int) max, (int) buf,
                    Connections.Limits.DEFAULT.toGuestCap()), opened, Boolean.parseBoolean(eventIdx));
        } catch (RuntimeException e) {
            opened.sockets().release();
            throw e;
        }
    }
}
