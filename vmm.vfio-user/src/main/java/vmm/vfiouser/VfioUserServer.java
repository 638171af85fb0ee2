package vmm.vfiouser;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Map;

import vmm.core.device.DeviceProvider;
import vmm.core.linux.Native;
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

    private final Path socket;
    private final String name;
    private final ServedFunction function;
    private final String implementation;
    private final int listenFd;
    private final Thread acceptor;
    private volatile ServerConnection current;
    private volatile boolean closed;
    private volatile String lastFailure;
    private int connections;

    private VfioUserServer(Path socket, String name, ServedFunction function, String implementation, int listenFd) {
        this.socket = socket;
        this.name = name;
        this.function = function;
        this.implementation = implementation;
        this.listenFd = listenFd;
        this.acceptor = Thread.ofPlatform().daemon().name("vfio-user-" + name).unstarted(this::acceptLoop);
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
        if (Files.exists(socket)) {
            if (!isSocket(socket))
                throw new IllegalArgumentException("vfio-user " + instanceId + ": socket: " + socket + " exists and is not a socket");
            Files.delete(socket);
        }
        ServedFunction f = new ServedFunction(instanceId, configuration, provider);
        int fd;
        try {
            fd = Native.listenUnix(socket.toString(), 1);
        } catch (IOException | RuntimeException e) {
            f.close();
            throw e;
        }
        VfioUserServer s = new VfioUserServer(socket, instanceId, f, implementation, fd);
        s.acceptor.start();
        LOG.log(Level.INFO, "vfio-user {0}: serving {1} on {2}", instanceId, implementation, socket);
        return s;
    }

    private static boolean isSocket(Path p) {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class).isOther();
        } catch (IOException e) {
            return false;
        }
    }

    private void acceptLoop() {
        while (!closed) {
            int fd;
            try {
                fd = Native.accept(listenFd);
            } catch (IOException e) {
                if (!closed) LOG.log(Level.ERROR, "vfio-user {0}: accept failed, no more clients: {1}", name, e.getMessage());
                return;
            }
            if (closed) {
                Native.close(fd);
                return;
            }
            ServerConnection c = new ServerConnection(fd, function, "vfio-user " + name);
            synchronized (this) {
                connections++;
            }
            current = c;
            try {
                c.serve();
            } catch (RuntimeException e) {
                LOG.log(Level.ERROR, "vfio-user " + name + ": the connection ended in a failure; taking the next client", e);
            }
            // The failure first: whoever sees the client gone finds why.
            if (c.failure() != null) lastFailure = c.failure();
            current = null;
        }
    }

    public Path socket() { return socket; }

    public String implementation() { return implementation; }

    /** Clients accepted so far. */
    public synchronized int connections() { return connections; }

    /** Why the last client that was cut off was, or null. */
    public String lastFailure() { return lastFailure; }

    /** Whether a client is connected now. */
    public boolean connected() { return current != null; }

    /** Interrupts delivered to the client's eventfds so far. */
    public long interruptsSignalled() { return function.interruptCounts()[0]; }


    /** Cuts the client off, stops the device and removes the socket. Idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        Native.shutdown(listenFd);
        ServerConnection c = current;
        if (c != null) c.close();
        try {
            acceptor.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Native.close(listenFd);
        function.close();
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "vfio-user {0}: cannot remove {1}: {2}", name, socket, e.getMessage());
        }
    }
}
