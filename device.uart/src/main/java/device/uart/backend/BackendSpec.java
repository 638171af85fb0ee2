package device.uart.backend;

import java.net.InetSocketAddress;
import java.nio.file.Path;

/**
 * A parsed back-end description, in bhyve's {@code -l com1,...} syntax:
 * {@code stdio}, {@code tcp=HOST:PORT} (HOST may be {@code [v6]}; port 0
 * picks a free one), {@code unix=PATH}, {@code log=FILE}, or {@code none}.
 * Parsing checks the syntax only; {@link #open()} acquires the terminal,
 * socket or file.
 *
 * @param kind what kind of back end
 * @param host for {@code tcp}: the address to listen on
 * @param port for {@code tcp}: the port to listen on
 * @param path for {@code unix} and {@code log}: the file
 */
public record BackendSpec(Kind kind, String host, int port, Path path) {
    /** The back-end kinds, by their keyword. */
    public enum Kind { NONE, STDIO, TCP, UNIX, LOG }

    private static final String FORMS = "stdio, tcp=HOST:PORT, unix=PATH, log=FILE or none";

    /**
     * Parses {@code spec}.
     *
     * @throws IllegalArgumentException naming what is wrong: an unknown kind, a missing path, an
     *                                  unparsable host or port
     */
    public static BackendSpec parse(String spec) {
        if (spec == null) throw new IllegalArgumentException("no back end given (expected " + FORMS + ")");
        String s = spec.trim();
        int eq = s.indexOf('=');
        String kind = eq < 0 ? s : s.substring(0, eq);
        String arg = eq < 0 ? null : s.substring(eq + 1);
        switch (kind) {
            case "stdio", "none" -> {
                if (arg != null) throw new IllegalArgumentException("'" + s + "': " + kind + " takes no value");
                return new BackendSpec(kind.equals("stdio") ? Kind.STDIO : Kind.NONE, null, 0, null);
            }
            case "unix", "log" -> {
                if (arg == null || arg.isBlank()) throw new IllegalArgumentException("'" + s + "': " + kind + "= needs a file path");
                return new BackendSpec(kind.equals("unix") ? Kind.UNIX : Kind.LOG, null, 0, Path.of(arg));
            }
            case "tcp" -> {
                if (arg == null) throw new IllegalArgumentException("'" + s + "': tcp= needs HOST:PORT");
                int colon = arg.lastIndexOf(':');
                if (colon < 0) throw new IllegalArgumentException("'" + s + "': tcp= needs HOST:PORT, found no port");
                String host = arg.substring(0, colon);
                if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
                else if (host.contains(":")) throw new IllegalArgumentException("'" + s + "': write an IPv6 host in brackets, [::1]:PORT");
                if (host.isEmpty()) throw new IllegalArgumentException("'" + s + "': tcp= needs a host before the port");
                int port;
                try {
                    port = Integer.parseInt(arg.substring(colon + 1));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("'" + s + "': port '" + arg.substring(colon + 1) + "' is not a number");
                }
                if (port < 0 || port > 65535) throw new IllegalArgumentException("'" + s + "': port " + port + " is not in 0..65535");
                return new BackendSpec(Kind.TCP, host, port, null);
            }
            default -> throw new IllegalArgumentException("unknown back end '" + s + "' (expected " + FORMS + ")");
        }
    }

    /**
     * Acquires the back end: starts listening, opens the file, takes the terminal.
     *
     * @throws java.io.UncheckedIOException when the host refuses (address in use, unwritable file)
     * @throws IllegalArgumentException     when the TCP host does not resolve
     */
    public Backend open() {
        return switch (kind) {
            case NONE -> new NullBackend();
            case STDIO -> new StdioBackend();
            case LOG -> new LogBackend(path);
            case UNIX -> SocketBackend.unix(path);
            case TCP -> {
                InetSocketAddress a = new InetSocketAddress(host, port);
                if (a.isUnresolved()) throw new IllegalArgumentException("tcp=" + host + ":" + port + ": host '" + host + "' does not resolve");
                yield SocketBackend.tcp(a);
            }
        };
    }

    @Override
    public String toString() {
        return switch (kind) {
            case NONE -> "none";
            case STDIO -> "stdio";
            case LOG -> "log=" + path;
            case UNIX -> "unix=" + path;
            case TCP -> "tcp=" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        };
    }
}
