package device.uart.backend;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A listening socket (TCP or Unix-domain) that one user at a time attaches
 * to, like bhyve's {@code tcp=} back end. While a client is attached, further
 * connections are accepted and closed at once. With no client attached,
 * output is discarded; input comes only from the attached client.
 */
final class SocketBackend extends AbstractBackend {
    private final String description;
    private final ServerSocketChannel server;
    private final Path unixPath;
    private final Thread acceptor;
    private volatile SocketChannel client;
    private volatile long clientsRefused;

    private SocketBackend(String description, ServerSocketChannel server, Path unixPath) {
        super(description);
        this.description = description;
        this.server = server;
        this.unixPath = unixPath;
        acceptor = Thread.ofPlatform().daemon().name("uart-accept " + description).unstarted(this::acceptLoop);
        startWriter();
        acceptor.start();
    }

    /** Listens on TCP {@code address}; a port of 0 picks a free one. */
    static SocketBackend tcp(java.net.InetSocketAddress address) {
        try {
            ServerSocketChannel s = ServerSocketChannel.open();
            s.setOption(java.net.StandardSocketOptions.SO_REUSEADDR, true);
            s.bind(address, 1);
            return new SocketBackend("tcp=" + format(s.getLocalAddress()), s, null);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on " + address + ": " + e.getMessage(), e);
        }
    }

    /**
     * Listens on a Unix-domain socket at {@code path}. A socket file left by
     * an earlier run is replaced; any other file there is refused.
     */
    static SocketBackend unix(Path path) {
        try {
            if (Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                if (!"socket".equals(fileType(path)))
                    throw new IOException(path + " exists and is not a socket");
                Files.delete(path);
            }
            ServerSocketChannel s = ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX);
            s.bind(UnixDomainSocketAddress.of(path), 1);
            return new SocketBackend("unix=" + path, s, path);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on " + path + ": " + e.getMessage(), e);
        }
    }

    private static String fileType(Path p) throws IOException {
        var a = Files.readAttributes(p, java.nio.file.attribute.BasicFileAttributes.class,
                java.nio.file.LinkOption.NOFOLLOW_LINKS);
        return a.isOther() ? "socket" : a.isDirectory() ? "directory" : "file";
    }

    private static String format(SocketAddress a) {
        if (a instanceof java.net.InetSocketAddress i) {
            String host = i.getAddress().getHostAddress();
            return (host.contains(":") ? "[" + host + "]" : host) + ":" + i.getPort();
        }
        return String.valueOf(a);
    }

    /** Where clients connect: an {@link java.net.InetSocketAddress} or a {@link UnixDomainSocketAddress}. */
    SocketAddress localAddress() {
        try {
            return server.getLocalAddress();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Whether a client is attached now. */
    boolean hasClient() {
        return client != null;
    }

    long clientsRefused() {
        return clientsRefused;
    }

    private void acceptLoop() {
        while (!isClosed()) {
            SocketChannel c;
            try {
                c = server.accept();
            } catch (IOException e) {
                return; // closed
            }
            if (client != null) {
                clientsRefused++;
                closeQuietly(c);
                continue;
            }
            client = c;
            Thread.ofPlatform().daemon().name("uart-in " + description).start(() -> serve(c));
        }
    }

    private void serve(SocketChannel c) {
        try {
            pump((b, off, len) -> c.read(ByteBuffer.wrap(b, off, len)));
        } catch (ClosedChannelException e) {
            // the back end closed under us
        } catch (IOException e) {
            // the client went away abruptly: same as end of input
        } finally {
            if (client == c) client = null;
            closeQuietly(c);
        }
    }

    @Override
    void writeOut(byte[] b, int len) throws IOException {
        SocketChannel c = client;
        if (c == null) {
            discard(len);
            return;
        }
        ByteBuffer bb = ByteBuffer.wrap(b, 0, len);
        try {
            while (bb.hasRemaining()) c.write(bb);
        } catch (IOException e) {
            discard(bb.remaining());
            if (client == c) client = null;
            closeQuietly(c);
        }
    }

    @Override
    void closeResources() {
        closeQuietly(server);
        SocketChannel c = client;
        if (c != null) closeQuietly(c);
        if (unixPath != null) {
            try {
                Files.deleteIfExists(unixPath);
            } catch (IOException e) {
                // a stale socket file is replaced by the next listener anyway
            }
        }
    }

    private static void closeQuietly(java.io.Closeable c) {
        try {
            c.close();
        } catch (IOException e) {
            // closing is best effort
        }
    }

    @Override
    public String describe() {
        return description;
    }
}
