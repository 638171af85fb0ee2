package device.virtio_vsock.host;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

import device.virtio_vsock.connection.ConnectionKey;
import device.virtio_vsock.connection.Connections;
import device.virtio_vsock.connection.HostAction;

/**
 * Moves what {@link Connections} decides to and from the host's Unix
 * sockets, never blocking: connects to {@code PATH_port} for the guest,
 * greets host clients ({@code CONNECT <port>\n}), writes the guest's bytes,
 * reads the host's within the guest's credit. Every failure of one socket
 * resets that connection only. Used by one I/O thread.
 */
public final class HostBridge {
    /** The longest CONNECT line accepted, newline included. */
    static final int MAX_GREETING = 32;
    /** Clients that have not finished their CONNECT line at most; later ones are closed at once. */
    static final int MAX_GREETERS = 64;
    private static final String CONNECT = "CONNECT ";

    private final HostSockets host;
    private final Connections conns;
    private final ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
    private final ByteBuffer one = ByteBuffer.allocate(1);

    public HostBridge(HostSockets host, Connections conns) {
        this.host = host;
        this.conns = conns;
    }

    public HostSockets sockets() { return host; }

    /** Does what the state machine asked, until it asks nothing more; returns whether anything was asked. */
    public boolean runActions() {
        boolean any = false;
        List<HostAction> actions;
        while (!(actions = conns.takeActions()).isEmpty()) {
            any = true;
            for (HostAction a : actions) run(a);
        }
        return any;
    }

    private void run(HostAction a) {
        ConnectionKey key = a.key();
        switch (a.kind()) {
            case CONNECT -> connect(key);
            case SHUTDOWN_OUTPUT -> {
                SocketChannel ch = host.streams.get(key);
                if (ch == null) return;
                try {
                    ch.shutdownOutput();
                } catch (IOException e) {
                    conns.hostFailed(key);
                }
            }
            case CLOSE -> host.close(key);
        }
    }

    private void connect(ConnectionKey key) {
        SocketChannel ch = null;
        try {
            ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            ch.configureBlocking(false);
            if (ch.connect(UnixDomainSocketAddress.of(host.portPath(key.hostPort())))) {
                host.streams.put(key, ch);
                conns.hostConnected(key);
            } else {
                host.connecting.put(key, ch);
            }
        } catch (IOException | RuntimeException e) {
            // No listener on PATH_port (or no such file): the guest's connect is refused.
            HostSockets.quietly(ch);
            conns.hostFailed(key);
        }
    }

    /** Finishes connects and moves bytes both ways on every host stream; returns whether anything moved. */
    public boolean pump() {
        boolean moved = false;
        for (Iterator<Map.Entry<ConnectionKey, SocketChannel>> it = host.connecting.entrySet()
                .iterator(); it.hasNext(); ) {
            Map.Entry<ConnectionKey, SocketChannel> e = it.next();
            try {
                if (!e.getValue().finishConnect()) continue;
                it.remove();
                host.streams.put(e.getKey(), e.getValue());
                conns.hostConnected(e.getKey());
            } catch (IOException ex) {
                it.remove();
                HostSockets.quietly(e.getValue());
                conns.hostFailed(e.getKey());
            }
            moved = true;
        }
        for (Map.Entry<ConnectionKey, SocketChannel> e : new ArrayList<>(host.streams.entrySet())) {
            ConnectionKey k = e.getKey();
            SocketChannel ch = e.getValue();
            try {
                int pending = conns.pendingForHost(k);
                if (pending > 0) {
                    buf.clear();
                    conns.peekForHost(k, buf);
                    buf.flip();
                    int n = ch.write(buf);
                    if (n > 0) {
                        conns.hostWrote(k, n);
                        moved = true;
                    }
                }
                int allowed = conns.hostReadAllowance(k);
                if (allowed > 0) {
                    buf.clear().limit(Math.min(allowed, buf.capacity()));
                    int n = ch.read(buf);
                    if (n < 0) {
                        conns.hostEof(k);
                        moved = true;
                    } else if (n > 0) {
                        conns.fromHost(k, buf.array(), 0, n);
                        moved = true;
                    }
                }
            } catch (IOException ex) {
                // The host peer vanished or broke the stream: that connection is reset, the others go on.
                conns.hostFailed(k);
                moved = true;
            }
        }
        return moved;
    }

    /** Accepts host clients and reads their CONNECT lines; returns whether anything happened. */
    public boolean accept() {
        boolean any = false;
        try {
            SocketChannel c;
            while ((c = host.listener().accept()) != null) {
                any = true;
                if (host.greeting.size() >= MAX_GREETERS) {
                    HostSockets.quietly(c);
                    continue;
                }
                c.configureBlocking(false);
                host.greeting.put(c, new StringBuilder());
            }
        } catch (IOException e) {
            // a client that left before it was accepted
        }
        for (Iterator<Map.Entry<SocketChannel, StringBuilder>> it = host.greeting.entrySet()
                .iterator(); it.hasNext(); ) {
            Map.Entry<SocketChannel, StringBuilder> e = it.next();
            SocketChannel c = e.getKey();
            StringBuilder line = e.getValue();
            try {
                // One byte at a time: what the client sends after its line is the stream's, not ours.
                int n;
                while ((n = c.read(one.clear())) > 0) {
                    char ch = (char) (one.get(0) & 0xff);
                    if (ch == '\n') break;
                    line.append(ch);
                    if (line.length() >= MAX_GREETING) break;
                }
                if (n == 0) continue;
                any = true;
                it.remove();
                ConnectionKey key = n < 0 ? null : greet(line.toString());
                if (key == null) HostSockets.quietly(c);
                else host.streams.put(key, c);
            } catch (IOException ex) {
                it.remove();
                HostSockets.quietly(c);
            }
        }
        return any;
    }

    /** The connection a CONNECT line opens, or null when the line is not one or the connection is refused. */
    private ConnectionKey greet(String line) {
        long port = parsePort(line);
        return port < 0 ? null : conns.connectFromHost(port);
    }

    /** The port of {@code CONNECT <port>} (decimal u32, a trailing CR allowed), or -1. */
    static long parsePort(String line) {
        if (!line.startsWith(CONNECT)) return -1;
        String p = line.substring(CONNECT.length());
        if (p.endsWith("\r")) p = p.substring(0, p.length() - 1);
        if (p.isEmpty() || p.length() > 10 || !p.chars().allMatch(Character::isDigit)) return -1;
        long v = Long.parseLong(p);
        return v > 0xffff_ffffL ? -1 : v;
    }

    /**
     * Sets what {@code selector} waits for: clients, connects, and on each
     * stream reading while the guest has credit and writing while bytes are owed.
     */
    public void register(Selector selector) {
        interest(selector, host.listener(), SelectionKey.OP_ACCEPT, null);
        for (SocketChannel c : host.greeting.keySet()) interest(selector, c, SelectionKey.OP_READ, null);
        for (Map.Entry<ConnectionKey, SocketChannel> e : host.connecting.entrySet())
            interest(selector, e.getValue(), SelectionKey.OP_CONNECT, e.getKey());
        for (Map.Entry<ConnectionKey, SocketChannel> e : host.streams.entrySet()) {
            ConnectionKey k = e.getKey();
            int ops = (conns.hostReadAllowance(k) > 0 ? SelectionKey.OP_READ : 0)
                    | (conns.pendingForHost(k) > 0 ? SelectionKey.OP_WRITE : 0);
            interest(selector, e.getValue(), ops, k);
        }
    }

    private void interest(Selector selector, SelectableChannel ch, int ops, ConnectionKey key) {
        try {
            SelectionKey k = ch.keyFor(selector);
            if (k == null) ch.register(selector, ops);
            else k.interestOps(ops);
        } catch (ClosedChannelException | java.nio.channels.CancelledKeyException e) {
            if (key != null) conns.hostFailed(key);
        }
    }

    /** Closes host streams that belong to no connection (their connection ended while another model served). */
    public void closeStale() {
        Set<ConnectionKey> live = conns.keys();
        for (ConnectionKey k : new ArrayList<>(host.streams.keySet())) if (!live.contains(k)) host.close(k);
        for (ConnectionKey k : new ArrayList<>(host.connecting.keySet())) if (!live.contains(k)) host.close(k);
    }

    /** The connections of {@code keys} that have no host stream here. */
    public List<ConnectionKey> withoutStream(Set<ConnectionKey> keys) {
        List<ConnectionKey> out = new ArrayList<>();
        for (ConnectionKey k : keys) if (!host.has(k)) out.add(k);
        return out;
    }
}
