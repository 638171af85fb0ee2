package vmm.launcher.internal;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The command line, parsed into the configurations it stands for: the
 * command line is one way to write Configuration Admin configuration, not a
 * second configuration system. Pure: no framework, no I/O beyond checking
 * that files named on the line exist, so every mistake is found before
 * anything starts.
 */
public final class Arguments {
    /** A configuration to create: a factory PID, a name for it, its properties. */
    public record Config(String factoryPid, String name, Map<String, Object> properties) {}

    /** What to do: the command, and the configurations it needs. */
    public record Plan(String command, List<Config> configs) {}

    /** A mistake on the command line; the message is the one line the user sees. */
    public static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        public UsageException(String message) {
            super(message);
        }
    }

    public static final String USAGE = """
            usage: vmm vhost-user --socket PATH EMULATION[,conf]
                   serve one device over vhost-user to another VMM (QEMU, user-mode Linux)
            emulations:
                   virtio-blk,PATH[,ro][,sectorsize=N[/M]][,ser=SERIAL]
                   virtio-rng""";

    /** The emulations the launcher knows, as bhyve names them, and the device type each one is. */
    static final Map<String, String> EMULATIONS = Map.of("virtio-blk", "virtio-blk", "virtio-rng", "virtio-rng");

    private Arguments() {}

    /**
     * Parses {@code args}.
     *
     * @throws UsageException naming the first thing that is wrong
     */
    public static Plan parse(List<String> args) throws UsageException {
        if (args.isEmpty() || List.of("help", "-h", "--help").contains(args.getFirst())) return new Plan("help", List.of());
        String command = args.getFirst();
        return switch (command) {
            case "vhost-user" -> vhostUser(args.subList(1, args.size()));
            default -> throw new UsageException("unknown command '" + command + "' (try: vmm help)");
        };
    }

    private static Plan vhostUser(List<String> args) throws UsageException {
        String socket = null, device = null;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--socket")) {
                if (i + 1 == args.size()) throw new UsageException("--socket needs a path");
                socket = args.get(++i);
            } else if (a.startsWith("--socket=")) {
                socket = a.substring("--socket=".length());
            } else if (a.startsWith("-")) {
                throw new UsageException("vhost-user: unknown option " + a);
            } else if (device != null) {
                throw new UsageException("vhost-user: one device per socket; '" + a + "' is a second one");
            } else {
                device = a;
            }
        }
        if (socket == null || socket.isBlank()) throw new UsageException("vhost-user: --socket PATH is required");
        if (device == null) throw new UsageException("vhost-user: which device? e.g. virtio-blk,disk.img");
        Path dir = Path.of(socket).toAbsolutePath().getParent();
        if (dir != null && !Files.isDirectory(dir)) throw new UsageException("vhost-user: --socket " + socket + ": no directory " + dir);
        Map<String, Object> props = emulation(device);
        props.put("socket", Path.of(socket).toAbsolutePath().toString());
        return new Plan("vhost-user", List.of(new Config("vmm.vhost-user", "cli", props)));
    }

    /** A bhyve-style device string, {@code emulation[,conf]}, as device configuration properties. */
    static Map<String, Object> emulation(String spec) throws UsageException {
        List<String> parts = List.of(spec.split(",", -1));
        String name = parts.getFirst();
        String type = EMULATIONS.get(name);
        if (type == null) throw new UsageException("unknown emulation '" + name + "' (known: " + String.join(", ", EMULATIONS.keySet().stream().sorted().toList()) + ")");
        Map<String, Object> props = new LinkedHashMap<>();
        props.put("type", type);
        List<String> options = new ArrayList<>(parts.subList(1, parts.size()));
        switch (name) {
            case "virtio-blk" -> {
                if (options.isEmpty() || options.getFirst().isBlank() || options.getFirst().contains("="))
                    throw new UsageException("virtio-blk needs a disk image: virtio-blk,PATH[,ro]");
                Path image = Path.of(options.removeFirst());
                if (!Files.exists(image)) throw new UsageException("virtio-blk: " + image + ": no such file");
                if (Files.isDirectory(image)) throw new UsageException("virtio-blk: " + image + " is a directory, not a disk image");
                props.put("path", image.toAbsolutePath().toString());
                for (String o : options) {
                    if (o.equals("ro")) props.put("ro", "true");
                    else if (o.startsWith("sectorsize=")) props.put("sectorsize", value(o));
                    else if (o.startsWith("ser=")) props.put("serial", value(o));
                    else if (o.contains("=")) props.put(o.substring(0, o.indexOf('=')), value(o));
                    else throw new UsageException("virtio-blk: unknown option '" + o + "'");
                }
            }
            default -> {
                for (String o : options) {
                    if (!o.contains("=") || o.startsWith("=")) throw new UsageException(name + ": option '" + o + "' is not key=value");
                    props.put(o.substring(0, o.indexOf('=')), value(o));
                }
            }
        }
        return props;
    }

    private static String value(String option) throws UsageException {
        String v = option.substring(option.indexOf('=') + 1);
        if (v.isEmpty()) throw new UsageException("option '" + option + "' has no value");
        return v;
    }
}
