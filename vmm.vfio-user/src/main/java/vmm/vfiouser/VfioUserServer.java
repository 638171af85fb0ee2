package vmm.vfiouser;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.Map;

import vmm.core.device.DeviceProvider;
import vmm.core.linux.UnixSocketServer;
import vmm.vfiouser.internal.server.ServedFunction;
import vmm.vfiouser.internal.server.ServerConnection;

/**
 * Serves one PCI device on a Unix socket as a vfio-user server: a client
 * (our {@link VfioUserClient}, QEMU's {@code vfio-user-pci}) connects, maps
 * its memory for DMA, hands over eventfds for the interrupts and drives the
 * function through region reads and writes. The device model comes from a
 * {@link DeviceProvider} (any virtio device bundle) and sits behind the
 * core's virtio-pci transport, so the client sees exactly the function a
 * guest of this VMM would.
 *
 * <p>One client at a time. When it leaves, or breaks the protocol and is
 * cut off, the function is reset, its memory unmapped and its eventfds
 * closed, and the socket takes the next client; the device model lives on.
 */
public final class VfioUserServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vmm.vfio-user");

    private final ServedFunction function;
    private final String implementation;
    private final UnixSocketServer server;

    private VfioUserServer(Path socket, String name, ServedFunction function, String implementation)
            throws IOException {
        this.function = function;
        this.implementation = implementation;
        this.server = new UnixSocketServer(socket, "vfio-user " + name, "clients", LOG,
                fd -> new ServerConnection(fd, function, "vfio-user " + name));
    }

    /**
     * Creates the device from {@code provider} and listens on {@code socket}
     * (a stale socket there is replaced). Called from a configuration thread.
     *
     * @throws IllegalArgumentException when the provider refuses the configuration, the model is not a
     *                                  virtio device, or {@code socket} exists and is not a socket
     * @throws IOException              when the socket cannot be created
     */
    public static VfioUserServer start(Path socket, String instanceId, Map<String, Object> configuration,
                                       String implementation, DeviceProvider provider) throws IOException {
        UnixSocketServer.removeStale(socket, "vfio-user " + instanceId);
        ServedFunction f = new ServedFunction(instanceId, configuration, provider);
        VfioUserServer s;
        try {
            s = new VfioUserServer(socket, instanceId, f, implementation);
        } catch (IOException | RuntimeException e) {
            f.close();
            throw e;
        }
        s.server.start();
        LOG.log(Level.INFO, "vfio-user {0}: serving {1} on {2}", instanceId, implementation, socket);
        return s;
    }

    public Path socket() { return server.socket(); }

    public String implementation() { return implementation; }

    /** Clients accepted so far. */
    public int connections() { return server.connections(); }

    /** Why the last client that was cut off was, or null. */
    public String lastFailure() { return server.lastFailure(); }

    /** Whether a client is connected now. */
    public boolean connected() { return server.connected(); }

    /** Interrupts delivered to the client's eventfds so far. */
    public long interruptsSignalled() { return function.interruptCounts()[0]; }

    /** Cuts the client off, stops the device and removes the socket. Idempotent. */
    @Override
    public void close() {
        server.close(function::close);
    }
}
