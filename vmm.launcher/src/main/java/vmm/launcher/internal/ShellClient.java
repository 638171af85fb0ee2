package vmm.launcher.internal;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code vmm shell NAME|SOCKET [COMMAND...]}: sends a Gogo command line to
 * a running VM's control socket and prints the answer; without a command,
 * reads command lines from standard input, one per request.
 */
final class ShellClient {
    private ShellClient() {}

    static int run(List<String> args, PrintStream out, PrintStream err) throws IOException {
        if (args.isEmpty()) {
            err.println("vmm: usage: vmm shell NAME|SOCKET [COMMAND...]   (e.g. vmm shell default device:list)");
            return 2;
        }
        String target = args.getFirst();
        Path socket = target.contains("/") ? Path.of(target) : RunCommand.controlSocket(target);
        if (!Files.exists(socket)) {
            err.println("vmm: no VM named " + target + " is running here (no " + socket + ")");
            return 2;
        }
        if (args.size() > 1) return send(socket, String.join(" ", args.subList(1, args.size())), out, err);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        int rc = 0;
        while ((line = in.readLine()) != null) if (!line.isBlank()) rc = send(socket, line, out, err);
        return rc;
    }

    private static int send(Path socket, String line, PrintStream out, PrintStream err) throws IOException {
        try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            c.connect(UnixDomainSocketAddress.of(socket));
            c.write(ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8)));
            ByteBuffer b = ByteBuffer.allocate(8192);
            while (c.read(b) >= 0) {
                b.flip();
                out.write(b.array(), 0, b.limit());
                b.clear();
            }
            out.flush();
            return 0;
        } catch (IOException e) {
            err.println("vmm: " + socket + ": " + e.getMessage());
            return 1;
        }
    }
}
