package vmm.launcher.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.FileTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipFile;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;

/**
 * The directories of {@code --bundle DIR}, watched while the VM runs, the way Apache Felix FileInstall watches
 * its directory: a jar put there is installed and started, a jar replaced updates its bundle (so a device's new
 * build is swapped in under the running guest), a jar removed uninstalls its bundle (its device instances wait
 * detached for another provider). A jar still being written is not a whole zip yet and is taken at a later event;
 * put a finished jar there by renaming it into place to be taken once. Packages are not refreshed (as Gogo's
 * {@code felix:update}): a bundle other bundles import from keeps serving them its old classes until a refresh.
 * One daemon thread; what it does and what fails is one {@code vmm:} line each on standard error, and the VM runs
 * on.
 */
final class BundleDirectories implements Runnable {
    private final BundleContext context;
    private final PrintStream err;
    private final WatchService watcher;
    /** The jar each bundle of a watched directory came from, with the jar's time and size when it was read. */
    private final Map<Path, Bundle> bundles = new HashMap<>();
    private final Map<Path, String> seen = new HashMap<>();

    private BundleDirectories(BundleContext context, WatchService watcher, PrintStream err) {
        this.context = context;
        this.err = err;
        this.watcher = watcher;
    }

    /**
     * Watches {@code directories} from now on, knowing {@code installed} (jar to bundle) as the bundles their jars
     * were installed as at start; does nothing when there is no directory.
     *
     * @throws IOException when a directory cannot be watched
     */
    static void watch(BundleContext context, List<Path> directories, Map<Path, Bundle> installed, PrintStream err)
            throws IOException {
        if (directories.isEmpty()) return;
        BundleDirectories w = new BundleDirectories(context, directories.getFirst().getFileSystem().newWatchService(),
                err);
        for (Path d : directories)
            d.toAbsolutePath().normalize().register(w.watcher, StandardWatchEventKinds.ENTRY_CREATE,
                    StandardWatchEventKinds.ENTRY_MODIFY, StandardWatchEventKinds.ENTRY_DELETE);
        for (Map.Entry<Path, Bundle> e : installed.entrySet()) {
            w.bundles.put(e.getKey(), e.getValue());
            w.seen.put(e.getKey(), stamp(e.getKey()));
        }
        Thread t = new Thread(w, "vmm-bundle-directories");
        t.setDaemon(true);
        t.start();
    }

    @Override
    public void run() {
        try {
            while (true) {
                WatchKey key = watcher.take();
                Path dir = (Path) key.watchable();
                for (WatchEvent<?> e : key.pollEvents()) {
                    if (!(e.context() instanceof Path name) || !name.toString().endsWith(".jar")) continue;
                    Path jar = dir.resolve(name);
                    if (e.kind() == StandardWatchEventKinds.ENTRY_DELETE) removed(jar);
                    else changed(jar);
                }
                key.reset();
            }
        } catch (InterruptedException | ClosedWatchServiceException e) {
            // the process is ending
        }
    }

    private void changed(Path jar) {
        String stamp = stamp(jar);
        if (stamp == null || stamp.equals(seen.get(jar)) || !wholeZip(jar)) return;
        Bundle b = bundles.get(jar);
        try (InputStream in = Files.newInputStream(jar)) {
            if (b != null && b.getState() != Bundle.UNINSTALLED) {
                b.update(in);
                say(jar + ": updated " + b.getSymbolicName() + " to "
                        + b.getVersion());
            } else {
                b = context.installBundle(jar.toUri().toString(), in);
                bundles.put(jar, b);
                b.start();
                say(jar + ": installed and started "
                        + b.getSymbolicName() + " " + b.getVersion());
            }
            seen.put(jar, stamp);
        } catch (BundleException | IOException | RuntimeException e) {
            seen.put(jar, stamp); // the same bytes would fail the same way; a new write is tried again
            say(jar + ": " + UserBundles.oneLine(e));
        }
    }

    private void removed(Path jar) {
        seen.remove(jar);
        Bundle b = bundles.remove(jar);
        if (b == null) return;
        try {
            b.uninstall();
            say(jar + ": removed, uninstalled " + b.getSymbolicName());
        } catch (BundleException | IllegalStateException e) {
            say(jar + ": " + UserBundles.oneLine(e));
        }
    }

    private void say(String line) {
        err.println("vmm: --bundle " + line);
        err.flush();
    }

    /** The jar's modification time and size, or null when it is gone. */
    private static String stamp(Path jar) {
        try {
            FileTime t = Files.getLastModifiedTime(jar);
            return t.toMillis() + "/" + Files.size(jar);
        } catch (IOException e) {
            return null;
        }
    }

    /** Whether the jar's central directory is there: a jar being written has none yet. */
    private static boolean wholeZip(Path jar) {
        try (ZipFile z = new ZipFile(jar.toFile())) {
            return z.size() > 0;
        } catch (IOException e) {
            return false;
        }
    }
}
