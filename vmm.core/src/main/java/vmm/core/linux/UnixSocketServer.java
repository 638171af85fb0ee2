package vmm.core.linux;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;
import java.util.function.IntFunction;

/**
 * A Unix stream socket that serves one peer at a time, the shape both the
 * vhost-user and the vfio-user servers have: an acceptor thread takes a
 * peer, serves it until it leaves or is cut off, records why it was cut
 * off, and takes the next. What a peer is, is the caller's.
 *
 * @since 1.2
 */
public final class UnixSocketServer {
    /** One connected peer; created, served and closed by the server. */
    public interface Peer {
        /** Serves the peer on the acceptor thread until it leaves or is cut off; a RuntimeException is logged. */
        void serve();

        /** Why the peer was cut off, or null if it left on its own. Called after {@link #serve()} returned. */
        String failure();

        /** Cuts the peer off from another thread, so that {@link #serve()} returns. Idempotent. */
        void close();
    }

    private final Path socket;
    private final String name;
    private final String peers;
    private final System.Logger log;
    private final IntFunction<Peer> connect;
    private final int listenFd;
    private final Thread acceptor;
    private volatile Peer current;
    private volatile boolean closed;
    private volatile String lastFailure;
    private int connections;

    /**
     * Listens on {@code socket}, which must not exist (see {@link #removeStale}); call {@link #start()} to
     * accept. {@code name} begins log messages and names the thread, {@code peers} says what peers are
     * in them ("clients"), and {@code connect} makes a peer of each accepted descriptor.
     *
     * @throws IOException when the socket cannot be created
     */
    public UnixSocketServer(Path socket, String name, String peers, System.Logger log, IntFunction<Peer> connect)
            throws IOException {
        this.socket = Objects.requireNonNull(socket, "socket");
        this.name = Objects.requireNonNull(name, "name");
        this.peers = Objects.requireNonNull(peers, "peers");
        this.log = Objects.requireNonNull(log, "log");
        this.connect = Objects.requireNonNull(connect, "connect");
        this.listenFd = Native.listenUnix(socket.toString(), 1);
        this.acceptor = Thread.ofPlatform().daemon().name(name.replace(' ', '-')).unstarted(this::acceptLoop);
    }

    /**
     * Removes a stale socket at {@code socket} (one an earlier run left); nothing there is fine.
     *
     * @throws IllegalArgumentException when {@code socket} exists and is not a socket ({@code name} begins the message)
     * @throws IOException              when it cannot be removed
     */
    public static void removeStale(Path socket, String name) throws IOException {
        if (!Files.exists(socket)) return;
        if (!isSocket(socket))
            throw new IllegalArgumentException(name + ": socket: " + socket + " exists and is not a socket");
        Files.delete(socket);
    }

    private static boolean isSocket(Path p) {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class).isOther();
        } catch (IOException e) {
            return false;
        }
    }

    /** Starts accepting peers. Call once. */
    public void start() {
        acceptor.start();
    }

    private void acceptLoop() {
        while (!closed) {
            int fd;
            try {
                fd = Native.accept(listenFd);
            } catch (IOException e) {
                if (!closed)
                    log.log(Level.ERROR, "{0}: accept failed, no more {1}: {2}", name, peers, e.getMessage());
                return;
            }
            if (closed) {
                Native.close(fd);
                return;
            }
            Peer p = connect.apply(fd);
            synchronized (this) {
                connections++;
            }
            current = p;
            try {
                p.serve();
            } catch (RuntimeException e) {
                log.log(Level.ERROR, name + ": the connection ended in a failure; taking the next one", e);
            }
            // The failure first: whoever sees the peer gone finds why.
            if (p.failure() != null) lastFailure = p.failure();
            current = null;
        }
    }

    /** The socket's path. */
    public Path socket() {
        return socket;
    }

    /** Peers accepted so far. */
    public synchronized int connections() {
        return connections;
    }

    /** Why the last peer that was cut off was, or null. */
    public String lastFailure() {
        return lastFailure;
    }

    /** Whether a peer is connected now. */
    public boolean connected() {
        return current != null;
    }

    /**
     * Stops accepting, cuts the peer off and waits (a bounded while) for the acceptor to end, runs
     * {@code stopped} (what served the peers goes), then removes the socket. Idempotent: only the first
     * call does anything.
     */
    public void close(Runnable stopped) {
        synchronized (this) {
            if (closed) return;
            closed = true;
        }
        Native.shutdown(listenFd);
        Peer p = current;
        if (p != null) p.close();
        try {
            acceptor.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Native.close(listenFd);
        stopped.run();
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            log.log(Level.WARNING, "{0}: cannot remove {1}: {2}", name, socket, e.getMessage());
        }
    }
}
