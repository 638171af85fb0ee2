package vmm.benchmarks;

import java.nio.file.Path;
import java.util.Map;

import vmm.core.device.DeviceProvider;
import vmm.vhostuser.VhostUserServer;

/** What the vhost-user serving programs of the benchmark scripts share: their arguments and their lifetime. */
final class VhostUserServing {
    private VhostUserServing() {}

    /** Adds {@code args[from..]}, each {@code key=value}, to {@code config}; exits with status 2 on any other. */
    static Map<String, Object> keyValues(String[] args, int from, Map<String, Object> config) {
        for (int i = from; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq < 1) {
                System.err.println("not key=value: " + args[i]);
                System.exit(2);
            }
            config.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        return config;
    }

    /** Serves {@code provider}'s device on {@code socket}, says so on standard output, until standard input closes. */
    static void serveUntilInputCloses(Path socket, String id, Map<String, Object> config, String implementation,
                                      DeviceProvider provider, String what) throws Exception {
        try (VhostUserServer server = VhostUserServer.start(socket, id, config, implementation, provider)) {
            System.out.println("serving " + what + " on " + socket);
            System.out.flush();
            while (System.in.read() >= 0) {
                // serve until the script closes our input
            }
        }
    }
}
