package vmm.itest;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import java.util.Objects;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.FrameworkUtil;

/**
 * Installs bundle jars that this test bundle carries as resources under
 * {@code bundles/NAME.jar} (NAME is the Maven artifactId; see bnd.bnd and
 * pom.xml for how a jar gets there). Tests use it to install, update and
 * uninstall bundles at run time, for example a device bundle under hot swap,
 * instead of having them in -runbundles.
 *
 * <pre>
 * &#64;InjectBundleContext BundleContext context;
 *
 * Bundle device = EmbeddedBundles.install(context, "device.virtio-rng");
 * device.start();
 * EmbeddedBundles.update(device, "device.virtio-rng");
 * device.uninstall();
 * </pre>
 *
 * Bundles installed through the context that OSGi Test injects are also
 * uninstalled by it when the test (or, for a static field, the class) ends.
 */
public final class EmbeddedBundles {
    /** The folder, inside this bundle, that holds the embedded jars. */
    public static final String FOLDER = "bundles";

    private EmbeddedBundles() {}

    /** The names (artifactIds) of the embedded bundles, sorted. */
    public static List<String> names() {
        List<String> names = new ArrayList<>();
        Enumeration<String> paths = self().getEntryPaths(FOLDER + "/");
        if (paths != null) {
            for (String path : Collections.list(paths)) {
                if (path.endsWith(".jar")) {
                    names.add(path.substring(FOLDER.length() + 1, path.length() - ".jar".length()));
                }
            }
        }
        Collections.sort(names);
        return names;
    }

    /** The install location used for {@code name}: {@code vmm.itest:bundles/NAME.jar}. */
    public static String location(String name) {
        return self().getSymbolicName() + ":" + path(name);
    }

    /** The entry of the embedded jar {@code name}; fails listing the names there are. */
    public static URL entry(String name) {
        Objects.requireNonNull(name, "name");
        URL url = self().getEntry(path(name));
        if (url == null) {
            throw new IllegalArgumentException("no embedded bundle " + path(name) + " in "
                    + self().getSymbolicName() + "; embedded: " + names()
                    + " (add it to <vmm.itest.embedded> in vmm.itest/pom.xml)");
        }
        return url;
    }

    /** Opens the embedded jar {@code name}; the caller closes the stream. */
    public static InputStream open(String name) throws IOException {
        return entry(name).openStream();
    }

    /**
     * Installs (does not start) the embedded bundle {@code name} through
     * {@code context}, at {@link #location(String)}.
     *
     * @throws IllegalStateException if that location is already installed:
     *         the framework would silently hand back the old bundle, and all
     *         test classes share one framework, so a test must uninstall what
     *         it installs.
     */
    public static Bundle install(BundleContext context, String name) throws BundleException, IOException {
        String location = location(name);
        Bundle existing = context.getBundle(location);
        if (existing != null) {
            throw new IllegalStateException(location + " is already installed as bundle "
                    + existing.getBundleId() + "; uninstall it first");
        }
        try (InputStream in = open(name)) {
            return context.installBundle(location, in);
        }
    }

    /**
     * Updates {@code bundle} with the content of the embedded jar {@code name}
     * (the same or another one, e.g. a second version of a device bundle). As
     * {@link Bundle#update(InputStream)}: an active bundle is stopped and
     * started again; wires to the old revision stay until a refresh.
     */
    public static void update(Bundle bundle, String name) throws BundleException, IOException {
        try (InputStream in = open(name)) {
            bundle.update(in);
        }
    }

    private static String path(String name) {
        return FOLDER + "/" + name + ".jar";
    }

    private static Bundle self() {
        return FrameworkUtil.getBundle(EmbeddedBundles.class);
    }
}
