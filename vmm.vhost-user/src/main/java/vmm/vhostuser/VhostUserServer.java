package vmm.vhostuser;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.Map;

import vmm.core.device.DeviceProvider;
import vmm.core.machine.ServedInstance;
import vmm.vhostuser.internal.Connection;
import vmm.vhostuser.internal.ServedDevice;
import vmm.core.linux.UnixSocketServer;
import vmm.core.linux.PeerMemoryFault;

/**
 * Serves one virtio device on a Unix socket as a vhost-user back-end: a
 * front-end (QEMU, Cloud Hypervisor, user-mode Linux) connects, hands over
 * its memory and rings, and drives the same {@code VirtioDevice} code that
 * serves virtio-pci guests. One front-end at a time; when it goes (or
 * breaks the protocol and is cut off) the device is reset and the socket
 * takes the next. The device outlives connections and can be swapped for
 * another implementation while one is connected.
 */
public final class VhostUserServer implements ServedInstance.Server {
    private static final System.Logger LOG = System.getLogger("vmm.vhost-user");

    private final String name;
    private final ServedDevice served;
    private final UnixSocketServer server;

    private VhostUserServer(Path socket, String name, ServedDevice served) throws IOException {
        this.name = name;
        this.served = served;
        this.server = new UnixSocketServer(socket, "vhost-user " + name, "front-ends", LOG,
                fd -> new FrontEnd(new Connection(fd, served, "vhost-user " + name), name));
    }

    /**
     * Creates the device from {@code provider} and listens on {@code socket}.
     * Called from a configuration thread.
     *
     * @throws IllegalArgumentException when the configuration is unusable (the provider's message), or the socket path exists and is not a socket
     * @throws IOException              when the socket cannot be created
     */
    public static VhostUserServer start(Path socket, String instanceId, Map<String, Object> configuration,
                                        String implementation, DeviceProvider provider) throws IOException {
        UnixSocketServer.removeStale(socket, "vhost-user " + instanceId); // a stale socket of an earlier run
        ServedDevice served = new ServedDevice(instanceId, configuration, implementation, provider);
        VhostUserServer s;
        try {
            s = new VhostUserServer(socket, instanceId, served);
        } catch (IOException | RuntimeException e) {
            served.stop();
            throw e;
        }
        s.server.start();
        LOG.log(Level.INFO, "vhost-user {0}: serving {1} on {2}", instanceId, implementation, socket);
        return s;
    }

    /** A connected front-end; a fault on memory it took away ends only its connection. */
    private record FrontEnd(Connection c, String name) implements UnixSocketServer.Peer {
        @Override
        public void serve() {
            try {
                c.serve();
            } catch (InternalError e) {
                // A fault on memory the front-end took away, where the connection could not catch it itself.
                if (!PeerMemoryFault.is(e)) throw e;
                LOG.log(Level.WARNING, "vhost-user {0}: front-end memory fault; taking the next front-end", name);
            }
        }

        @Override
        public String failure() {
            return c.failure();
        }

        @Override
        public void close() {
            c.close();
        }
    }

    /**
     * Moves the device to another implementation, under a connected front-end if there is one; out of
     * {@link #detach()} when the device is held. Called from a configuration thread.
     *
     * @throws IllegalArgumentException when the new model does not match the device (nothing changes)
     */
    public void swapTo(String implementation, DeviceProvider provider) {
        boolean wasHeld = served.held();
        served.swapTo(implementation, provider);
        LOG.log(Level.INFO, "vhost-user {0}: now served by {1}{2}", name, implementation, wasHeld ? " (was held)" : "");
    }

    /**
     * Holds the device with no implementation (its provider left and none is there): the model finishes what it
     * took, its state is kept, and the socket and any front-end stay, with requests left in the rings until
     * {@link #swapTo} brings a successor. Idempotent. Called from a configuration thread.
     */
    public void detach() {
        served.detach();
        LOG.log(Level.INFO, "vhost-user {0}: {1} left; holding the device and its front-end until a successor arrives",
                name, served.implementation());
    }

    /** Whether the device is held (see {@link #detach()}). */
    public boolean held() { return served.held(); }

    /** Kicks the front-end sent while the device was held, since start (for tests and logs). */
    public long kicksWhileHeld() { return served.kicksWhileHeld(); }

    public Path socket() { return server.socket(); }
    public String implementation() { return served.implementation(); }
    public int swapCount() { return served.swapCount(); }
    public int connections() { return server.connections(); }
    /** Why the last connection that ended early was cut off, or null. */
    public String lastFailure() { return server.lastFailure(); }
    /** Whether a front-end is connected now. */
    public boolean connected() { return server.connected(); }

    /** Cuts the front-end off, stops the device and removes the socket. Idempotent. */
    @Override
    public void close() {
        server.close(served::stop);
    }
}
