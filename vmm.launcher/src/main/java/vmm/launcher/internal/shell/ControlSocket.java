package vmm.launcher.internal.shell;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.System.Logger.Level;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Converter;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;

/**
 * The running VM's shell, reachable from another terminal: a Unix socket
 * (configuration {@code vmm.control}, property {@code socket}) on which each
 * connection sends one Gogo command line and gets its output back, then the
 * connection closes ({@code ./vmm shell NAME COMMAND...} is the client). Any
 * Gogo command of the runtime works: {@code vm:*}, {@code device:*},
 * {@code felix:install}/{@code felix:update} for a new device build. The
 * socket is created owner-only; a command line is at most 4 KiB.
 */
@Component(configurationPid = ControlSocket.PID, configurationPolicy = ConfigurationPolicy.REQUIRE, immediate = true, service = {})
public final class ControlSocket {
    public static final String PID = "vmm.control";
    private static final System.Logger LOG = System.getLogger("vmm.shell");
    private static final int MAX_LINE = 4096;

    private final CommandProcessor processor;
    private final Path path;
    private final ServerSocketChannel server;
    private final Thread acceptor;

    @Activate
    public ControlSocket(@Reference CommandProcessor processor, Map<String, Object> config) throws IOException {
        this.processor = processor;
        Object p = config.get("socket");
        if (p == null || String.valueOf(p).isBlank()) throw new IllegalArgumentException("configuration " + PID + " lacks 'socket'");
        path = Path.of(String.valueOf(p));
        if (Files.exists(path) && !Files.isRegularFile(path)) Files.delete(path); // stale, from an earlier run
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(path));
        Files.setPosixFilePermissions(path, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        acceptor = Thread.ofPlatform().daemon().name("vmm-shell").start(this::serve);
    }

    /**
     * Whether a running VM's shell answers on {@code path}: a socket file there that takes a connection. A file
     * that refuses one is stale (its VM ended without removing it) and may be replaced. Any thread; no side effects.
     */
    public static boolean answers(Path path) {
        if (!Files.exists(path) || Files.isRegularFile(path)) return false;
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            return c.isConnected();
        } catch (IOException e) {
            return false;
        }
    }

    private void serve() {
        while (server.isOpen()) {
            try (SocketChannel c = server.accept()) {
                answer(c);
            } catch (IOException e) {
                if (server.isOpen()) LOG.log(Level.WARNING, "shell connection failed: {0}", e.getMessage());
            }
        }
    }

    private void answer(SocketChannel c) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(c), StandardCharsets.UTF_8));
        char[] buf = new char[MAX_LINE];
        int n = 0, ch;
        while (n < MAX_LINE && (ch = in.read()) >= 0 && ch != '\n') buf[n++] = (char) ch;
        String line = new String(buf, 0, n).trim();
        OutputStream raw = Channels.newOutputStream(c);
        PrintStream out = new PrintStream(raw, true, StandardCharsets.UTF_8);
        if (line.isEmpty()) return;
        CommandSession session = processor.createSession(new ByteArrayInputStream(new byte[0]), out, out);
        try {
            Object result = session.execute(line);
            if (result != null) out.println(session.format(result, Converter.INSPECT));
        } catch (Exception e) {
            out.println("error: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
        } finally {
            session.close();
        }
        out.flush();
    }

    @Deactivate
    void deactivate() throws IOException, InterruptedException {
        server.close();
        acceptor.join(2000);
        Files.deleteIfExists(path);
    }
}
