package vmm.vfiouser;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.Map;

import vmm.core.device.DeviceProvider;
import vmm.core.machine.ServedInstance;
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
 * It can be swapped for another implementation under a connected client, and
 * held while no implementation is there.
 */
public final class VfioUserServer implements ServedInstance.Server {
    private static final System.Logger LOG = System.getLogger("vmm.vfio-user");

    private final ServedFunction function;
    private final String name;
    private volatile String implementation;
    private volatile int swaps;
    private final UnixSocketServer server;

    private VfioUserServer(Path socket, String name, ServedFunction function, String implementation)
            throws IOException {
        this.function = function;
        this.name = name;
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

    /** The implementation serving now (the last one while held). */
    public String implementation() { return implementation; }

    /** Swaps and re-attachments so far. */
    public int swapCount() { return swaps; }

    /** Whether the function is held with no implementation (see {@link #detach()}). */
    public boolean held() { return function.held(); }

    /**
     * Moves the function to another implementation, under a connected client if there is one (same queues, same
     * ring positions, state carried over), or out of {@link #detach()}. Called from a configuration thread.
     *
     * @throws IllegalArgumentException when the new model does not match the function (nothing changes)
     */
    public synchronized void swapTo(String nextImplementation, DeviceProvider provider) {
        boolean wasHeld = function.held();
        function.swapTo(provider);
        implementation = nextImplementation;
        swaps++;
        LOG.log(Level.INFO, "vfio-user {0}: now served by {1}{2}", name, nextImplementation,
                wasHeld ? " (was held)" : "");
    }

    /**
     * Holds the function with no implementation (its provider left and none is there): the model finishes what it
     * took and its state is kept; the socket and the client stay, and the client's accesses to the device wait,
     * bounded, until {@link #swapTo} brings a successor. Idempotent. Called from a configuration thread.
     */
    public synchronized void detach() {
        function.detach();
        LOG.log(Level.INFO, "vfio-user {0}: {1} left; holding the function and its client until a successor arrives",
                name, implementation);
    }

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
