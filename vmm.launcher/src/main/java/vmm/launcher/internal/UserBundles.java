package vmm.launcher.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;

import vmm.core.device.DeviceProvider;
import vmm.launcher.internal.Arguments.UsageException;

/**
 * The user's bundles of {@code --bundle JAR|DIR}: installed into the launcher's framework and started before the
 * command line is turned into configuration, so the device providers they register are there when the emulation
 * names are looked up and when the device instances are created. And the device types the providers present
 * offer, which name emulations beyond the built-in table.
 */
final class UserBundles {
    private UserBundles() {}

    /**
     * The jar files {@code paths} name: a file as it is, a directory as every {@code *.jar} directly in it, sorted
     * by name.
     *
     * @throws UsageException naming a path that is not there, or a directory that cannot be listed
     */
    static List<Path> jars(List<Path> paths) throws UsageException {
        List<Path> jars = new ArrayList<>();
        for (Path p : paths) {
            if (!Files.exists(p)) throw new UsageException("--bundle " + p + ": no such file or directory");
            if (!Files.isDirectory(p)) {
                jars.add(p.toAbsolutePath().normalize());
                continue;
            }
            try (Stream<Path> s = Files.list(p)) {
                s.filter(f -> f.getFileName().toString().endsWith(".jar") && Files.isRegularFile(f)).sorted()
                        .forEach(f -> jars.add(f.toAbsolutePath().normalize()));
            } catch (IOException e) {
                throw new UsageException("--bundle " + p + ": cannot list the directory: " + e.getMessage());
            }
        }
        return jars;
    }

    /**
     * Installs every jar, then starts them all (so bundles given together may depend on each other). Called on
     * the launcher's thread before anything is configured.
     *
     * @throws UsageException naming the first jar that is not a bundle, does not install, resolve or start, and
     *         why; the bundles installed by this call are uninstalled again
     */
    static List<Bundle> install(BundleContext context, List<Path> jars) throws UsageException {
        List<Bundle> installed = new ArrayList<>();
        Path current = null;
        try {
            for (Path jar : jars) {
                current = jar;
                Bundle b;
                try (InputStream in = Files.newInputStream(jar)) {
                    b = context.installBundle(jar.toUri().toString(), in);
                }
                installed.add(b);
                if (b.getSymbolicName() == null)
                    throw new UsageException("--bundle " + jar
                            + ": not an OSGi bundle (its manifest has no Bundle-SymbolicName)");
            }
            for (int i = 0; i < installed.size(); i++) {
                current = jars.get(i);
                installed.get(i).start();
            }
            return installed;
        } catch (BundleException | IOException | SecurityException | IllegalStateException e) {
            uninstall(installed);
            throw new UsageException("--bundle " + current + ": " + oneLine(e));
        } catch (UsageException e) {
            uninstall(installed);
            throw e;
        }
    }

    private static void uninstall(List<Bundle> bundles) {
        for (Bundle b : bundles) {
            try {
                b.uninstall();
            } catch (BundleException | IllegalStateException e) {
                // the process ends with the usage error; a bundle that will not go goes with it
            }
        }
    }

    /** An exception's message and its causes' on one line: Felix's resolver messages span several. */
    static String oneLine(Throwable e) {
        StringBuilder b = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
            if (b.indexOf(m) >= 0) continue;
            if (!b.isEmpty()) b.append(": ");
            b.append(m);
        }
        String line = b.toString().replaceAll("\\s*\\R\\s*", " ").strip();
        // Felix repeats the missing requirement as "Unresolved requirements: [...]": once is enough.
        int repeat = line.indexOf(" Unresolved requirements: ");
        return repeat > 0 && line.startsWith("Unable to resolve") ? line.substring(0, repeat) : line;
    }

    /**
     * The device types the registered {@link DeviceProvider} services offer, each with its implementations as
     * "implementation (bundle)", sorted by type.
     */
    static Map<String, List<String>> providers(BundleContext context) {
        Map<String, List<String>> types = new TreeMap<>();
        try {
            for (ServiceReference<DeviceProvider> r : context.getServiceReferences(DeviceProvider.class, null)) {
                Object type = r.getProperty(DeviceProvider.TYPE), impl = r.getProperty(DeviceProvider.IMPLEMENTATION);
                if (!(type instanceof String t) || t.isBlank()) continue;
                Bundle b = r.getBundle();
                types.computeIfAbsent(t, k -> new ArrayList<>()).add(impl + (b == null ? ""
                        : " (" + b.getSymbolicName() + " " + b.getVersion() + ")"));
            }
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e); // no filter given
        }
        types.values().forEach(l -> l.sort(null));
        return types;
    }

    /** {@link #providers}, for {@code vmm help}: a heading and one line per type. */
    static String describe(Map<String, List<String>> providers) {
        StringBuilder b = new StringBuilder("installed device providers (-s SLOT,TYPE[,key=value]... for a PCI type):");
        if (providers.isEmpty()) b.append("\n       none");
        providers.forEach((type, impls) -> b.append("\n       ").append(type).append(": ")
                .append(String.join(", ", impls)));
        return b.toString();
    }
}
