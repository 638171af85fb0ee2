package vmm.vhostuser;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import vmm.core.device.DeviceProvider;
import vmm.vhostuser.internal.Connection;
import vmm.vhostuser.internal.ServedDevice;
import vmm.core.linux.Native;
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
public final class VhostUserServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vmm.vhost-user");

    private final Path socket;
    private final String name;
    private final ServedDevice served;
    private final int listenFd;
    private final Thread acceptor;
    private volatile Connection current;
    private volatile boolean closed;
    private volatile String lastFailure;
    private int connections;

    private VhostUserServer(Path socket, String name, ServedDevice served, int listenFd) {
        this.socket = socket;
        this.name = name;
        this.served = served;
        this.listenFd = listenFd;
        this.acceptor = Thread.ofPlatform().daemon().name("vhost-user-" + name).unstarted(this::acceptLoop);
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
        if (Files.exists(socket)) {
            if (!"socket".equals(fileType(socket)))
                throw new IllegalArgumentException("vhost-user " + instanceId + ": socket: " + socket + " exists and is not a socket");
            Files.delete(socket); // a stale socket of an earlier run
        }
        ServedDevice served = new ServedDevice(instanceId, configuration, implementation, provider);
        int fd;
        try {
            fd = Native.listenUnix(socket.toString(), 1);
        } catch (IOException | RuntimeException e) {
            served.stop();
            throw e;
        }
        VhostUserServer s = new VhostUserServer(socket, instanceId, served, fd);
        s.acceptor.start();
        LOG.log(Level.INFO, "vhost-user {0}: serving {1} on {2}", instanceId, implementation, socket);
        return s;
    }

    private static String fileType(Path p) {
        try {
            return Files.isRegularFile(p) ? "file" : Files.isDirectory(p) ? "directory"
                    : Files.readAttributes(p, java.nio.file.attribute.BasicFileAttributes.class).isOther() ? "socket" : "other";
        } catch (IOException e) {
            return "unknown";
        }
    }

    private void acceptLoop() {
        while (!closed) {
            int fd;
            try {
                fd = Native.accept(listenFd);
            } catch (IOException e) {
                if (!closed) LOG.log(Level.ERROR, "vhost-user {0}: accept failed, no more front-ends: {1}", name, e.getMessage());
                return;
            }
            if (closed) {
                Native.close(fd);
                return;
            }
            Connection c = new Connection(fd, served, "vhost-user " + name);
            synchronized (this) {
                connections++;
            }
            current = c;
            try {
                c.serve();
            } catch (RuntimeException e) {
                LOG.log(Level.ERROR, "vhost-user " + name + ": the connection ended in a failure; taking the next front-end", e);
            } catch (InternalError e) {
                // A fault on memory the front-end took away, where the connection could not catch it itself.
                if (!PeerMemoryFault.is(e)) throw e;
                LOG.log(Level.WARNING, "vhost-user {0}: front-end memory fault; taking the next front-end", name);
            }
            // The failure first: whoever sees the front-end gone finds why.
            if (c.failure() != null) lastFailure = c.failure();
            current = null;
        }
    }

    /** Moves the device to another implementation, under a connected front-end if there is one. */
    public void swapTo(String implementation, DeviceProvider provider) {
        served.swapTo(implementation, provider);
        LOG.log(Level.INFO, "vhost-user {0}: now served by {1}", name, implementation);
    }

    public Path socket() { return socket; }
    public String implementation() { return served.implementation(); }
    public int swapCount() { return served.swapCount(); }
    public synchronized int connections() { return connections; }
    /** Why the last connection that ended early was cut off, or null. */
    public String lastFailure() { return lastFailure; }
    /** Whether a front-end is connected now. */
    public boolean connected() { return current != null; }

    /** Cuts the front-end off, stops the device and removes the socket. Idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        Native.shutdown(listenFd);
        Connection c = current;
        if (c != null) c.close();
        try {
            acceptor.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Native.close(listenFd);
        served.stop();
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "vhost-user {0}: cannot remove {1}: {2}", name, socket, e.getMessage());
        }
    }
}
