package vmm.launcher.internal;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import org.osgi.framework.BundleContext;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * The program: bnd's launcher calls it on the main thread once the
 * framework runs, with the command line. It turns the line into
 * configurations (see {@link Arguments}), writes them to Configuration
 * Admin, waits until the components they configure are up, and then serves
 * until the process is stopped. The bundles of {@code --bundle} are installed
 * and started first, so the device types their providers offer are emulation
 * names. A mistake on the line is one message and exit code 2, before
 * anything is configured.
 */
@Component(service = Callable.class, property = "main.thread=true")
public final class Main implements Callable<Integer> {
    private static final long STARTUP_MILLIS = 10_000;

    private final ConfigurationAdmin cm;
    private final BundleContext context;
    private final List<String> args;
    private final PrintStream out = System.out, err = System.err;

    @Activate
    public Main(@Reference ConfigurationAdmin cm,
                @Reference(service = Object.class, target = "(launcher.arguments=*)") Map<String, Object> launcher,
                BundleContext context) {
        this.cm = cm;
        this.context = context;
        Object a = launcher.get("launcher.arguments");
        this.args = a instanceof String[] s ? List.of(s) : List.of();
    }

    @Override
    public Integer call() throws Exception {
        if (!args.isEmpty() && args.getFirst().equals("shell"))
            return ShellClient.run(args.subList(1, args.size()), out, err);
        Arguments.Plan plan;
        Map<String, List<String>> providers;
        Arguments.WithBundles line;
        Map<Path, org.osgi.framework.Bundle> installed = new java.util.LinkedHashMap<>();
        try {
            // The user's bundles first: the emulation names and the devices' providers include theirs.
            line = Arguments.bundles(args);
            List<Path> jars = UserBundles.jars(line.bundles());
            List<org.osgi.framework.Bundle> bundles = UserBundles.install(context, jars);
            for (int i = 0; i < jars.size(); i++) installed.put(jars.get(i), bundles.get(i));
            providers = UserBundles.providers(context);
            try {
                plan = Arguments.parse(line.rest(), providers.keySet());
            } catch (Arguments.MissingFirmware missing) {
                FirmwareInstaller.host(err).install(missing);
                plan = Arguments.parse(line.rest(), providers.keySet());
            }
        } catch (Arguments.UsageException e) {
            err.println("vmm: " + e.getMessage());
            return 2;
        }
        for (String warning : plan.warnings()) err.println("vmm: " + warning);
        if (plan.command().equals("help")) {
            out.println(Arguments.USAGE);
            out.println(UserBundles.describe(providers));
            return 0;
        }
        if (plan.command().equals("dump")) { // bhyve's config.dump: the variables, and no VM
            out.print(plan.output());
            out.flush();
            return 0;
        }
        // From now on a jar put into, replaced in or removed from a --bundle directory is installed, updated or
        // uninstalled while the VM runs.
        try {
            BundleDirectories.watch(context, line.bundles().stream().filter(Files::isDirectory).toList(), installed,
                    err);
        } catch (IOException e) {
            err.println("vmm: --bundle: cannot watch the directory: " + e.getMessage());
            return 2;
        }
        boolean socketServer = List.of("vhost-user", "vfio-user").contains(plan.command());
        if (socketServer) {
            Path socket = Path.of((String) plan.configs().getFirst().properties().get("socket"));
            // stale, from an earlier run
            if (Files.exists(socket) && !Files.isRegularFile(socket)) Files.delete(socket);
        }
        if (plan.command().equals("run")) return new RunCommand(cm, context, out, err).run(plan);
        if (plan.command().equals("restore")) {
            Map<String, Object> r = plan.configs().getFirst().properties();
            SnapshotFile.Restore restore;
            try {
                @SuppressWarnings("unchecked")
                List<Arguments.Config> replace = (List<Arguments.Config>) r.get(Arguments.REPLACE);
                restore = SnapshotFile.open(Path.of((String) r.get("file")), (String) r.get("name"), replace,
                        providers.keySet());
            } catch (Arguments.UsageException e) {
                err.println("vmm: " + e.getMessage());
                return 2;
            }
            try (java.nio.channels.FileChannel file = restore.channel()) {
                return new RunCommand(cm, context, out, err).restore(restore);
            }
        }
        for (Arguments.Config c : plan.configs()) {
            Configuration config = cm.getFactoryConfiguration(c.factoryPid(), c.name(), "?");
            config.update(new Hashtable<>(c.properties()));
        }
        if (socketServer) {
            Map<String, Object> p = plan.configs().getFirst().properties();
            Path socket = Path.of((String) p.get("socket"));
            if (!awaitSocket(socket)) {
                err.println("vmm: the device did not start serving on " + socket + " within " + STARTUP_MILLIS / 1000
                        + " s (see the log above for why)");
                return 1;
            }
            // The same shell as a VM's, so the device bundle can be updated or swapped while a front-end uses it.
            String shellName = shellName(plan.command(), socket);
            Path controlSocket = RunCommand.controlSocket(shellName);
            // SIGTERM and SIGINT end the process without stopping the framework: what this command made goes here.
            RunCommand.removeOnExit(socket, controlSocket);
            Configuration control = cm.getConfiguration("vmm.control", "?");
            control.update(new Hashtable<>(Map.of("socket", controlSocket.toString())));
            out.println("vmm: serving " + p.get("type") + " over " + plan.command() + " on " + socket
                    + "; Ctrl-C stops");
            out.println("vmm: shell: ./vmm shell " + shellName + " COMMAND   (socket " + controlSocket + ")");
            out.flush();
            Thread.currentThread().join(); // until the process is stopped
        }
        return 0;
    }

    /**
     * The shell's name for a socket server: {@code vhost-user-blk} for {@code /tmp/blk.sock} (its socket adds
     * .sock once).
     */
    static String shellName(String command, Path socket) {
        String file = socket.getFileName().toString();
        return command + "-" + (file.endsWith(".sock") && file.length() > 5 ? file.substring(0, file.length() - 5)
                : file);
    }

    private static boolean awaitSocket(Path socket) throws InterruptedException, IOException {
        long deadline = System.currentTimeMillis() + STARTUP_MILLIS;
        while (System.currentTimeMillis() < deadline) {
            if (Files.exists(socket) && !Files.isRegularFile(socket)) return true;
            Thread.sleep(20);
        }
        return false;
    }
}
