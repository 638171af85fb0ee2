package vmm.itest;

import java.util.ArrayList;
import java.util.List;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;

/**
 * Bundles a test installed from the embedded jars ({@link EmbeddedBundles}) and started; {@link #close()}
 * uninstalls them, the last started first, so a test leaves the framework as it found it.
 */
final class StartedBundles implements AutoCloseable {
    private final BundleContext context;
    private final List<Bundle> installed = new ArrayList<>();

    StartedBundles(BundleContext context) {
        this.context = context;
    }

    /** Installs embedded bundle {@code name} and starts it. */
    Bundle start(String name) throws Exception {
        Bundle b = EmbeddedBundles.install(context, name);
        installed.add(b);
        b.start();
        return b;
    }

    /** Uninstalls what this started, in reverse order; bundles already uninstalled are left alone. */
    @Override
    public void close() throws Exception {
        for (Bundle b : installed.reversed()) if (b.getState() != Bundle.UNINSTALLED) b.uninstall();
        installed.clear();
    }
}
