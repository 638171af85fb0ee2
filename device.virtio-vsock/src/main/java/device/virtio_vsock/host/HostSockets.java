package device.virtio_vsock.host;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

import device.virtio_vsock.connection.ConnectionKey;

/**
 * The host side of one device: the Unix socket it listens on ({@code path},
 * where host processes say {@code CONNECT <port>}), the host streams of its
 * connections and the clients still greeting. Shared within the process by
 * every model of the same {@code path} with a holder count, so the
 * implementation taking over in a swap finds the streams the old one had
 * open and no byte queued in a host socket is lost; the last holder's
 * {@link #release()} closes everything and removes the socket file.
 *
 * <p>Threading: {@link #open} and {@link #release} from any thread; the
 * maps are used by the I/O thread of the one model that serves at a time
 * (the core never runs two at once: the old one is paused).
 */
public final class HostSockets {
    private static final Map<Path, HostSockets> OPEN = new HashMap<>();

    private final Path path;
    private final ServerSocketChannel listener;
    /** Established (or established-to-be) streams by connection. */
    final Map<ConnectionKey, SocketChannel> streams = new HashMap<>();
    /** Host-bound connects still in progress (the listener's backlog was full). */
    final Map<ConnectionKey, SocketChannel> connecting = new HashMap<>();
    /** Accepted clients that have not finished their CONNECT line yet, with what they wrote so far. */
    final Map<SocketChannel, StringBuilder> greeting = new LinkedHashMap<>();
    private int holders;

    private HostSockets(Path path, ServerSocketChannel listener) {
        this.path = path;
        this.listener = listener;
    }

    /**
     * One holder's grip on a host side.
     *
     * @param shared whether another model held it already (a swap): saved connections still have their streams
     */
    public record Opened(HostSockets sockets, boolean shared) {}

    /**
     * The host side for {@code path}: the one open in this process, or a new
     * one listening there. The socket file appears only once it listens.
     *
     * @throws IOException when the path cannot be bound (a directory missing, another process's socket there)
     */
    public static synchronized Opened open(Path path) throws IOException {
        Path key = path.toAbsolutePath().normalize();
        HostSockets h = OPEN.get(key);
        boolean shared = h != null;
        if (h == null) {
            h = new HostSockets(key, listen(key));
            OPEN.put(key, h);
        }
        h.holders++;
        return new Opened(h, shared);
    }

    private static ServerSocketChannel listen(Path path) throws IOException {
        // A stale socket file of an earlier run would make bind fail; a regular file is left alone.
        if (Files.exists(path) && !Files.isRegularFile(path) && !Files.isDirectory(path)) Files.delete(path);
        Path tmp = path.resolveSibling(path.getFileName() + ".binding-" + ProcessHandle.current().pid());
        Files.deleteIfExists(tmp);
        ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            s.bind(UnixDomainSocketAddress.of(tmp));
            // bind has listened too: the final name appears only now, so a client that waits for it connects at once.
            Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            s.configureBlocking(false);
            return s;
        } catch (IOException | RuntimeException e) {
            s.close();
            Files.deleteIfExists(tmp);
            throw e;
        }
    }

    /** The socket host processes connect to. */
    public Path path() { return path; }

    ServerSocketChannel listener() { return listener; }

    /** Where a guest connecting to host port {@code port} is sent: {@code PATH_port}. */
    Path portPath(long port) {
        return path.resolveSibling(path.getFileName() + "_" + port);
    }

    /** Whether a stream (or a connect in progress) exists for {@code key}. */
    boolean has(ConnectionKey key) {
        return streams.containsKey(key) || connecting.containsKey(key);
    }

    /** Closes and forgets the stream of {@code key}, if any. */
    void close(ConnectionKey key) {
        quietly(streams.remove(key));
        quietly(connecting.remove(key));
    }

    /** Drops one holder; the last closes the listener, every stream and client, and removes the socket file. */
    public void release() {
        synchronized (HostSockets.class) {
            if (--holders > 0) return;
            OPEN.remove(path);
        }
        quietly(listener);
        streams.values().forEach(HostSockets::quietly);
        connecting.values().forEach(HostSockets::quietly);
        greeting.keySet().forEach(HostSockets::quietly);
        streams.clear();
        connecting.clear();
        greeting.clear();
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            // the directory went away; nothing is left to clean
        }
    }

    static void quietly(java.io.Closeable c) {
        if (c == null) return;
        try {
            c.close();
        } catch (IOException e) {
            // closing a socket the peer already dropped
        }
    }

    @Override
    public String toString() {
        return "unix:" + path;
    }
}
