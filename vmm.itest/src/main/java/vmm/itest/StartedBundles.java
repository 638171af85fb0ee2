package vmm.itest;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;

/**
 * Bundles a test installed from the embedded jars ({@link EmbeddedBundles}) and started; after each test
 * (register it with {@code @RegisterExtension}) they are uninstalled, the last started first, so a test
 * leaves the framework as it found it.
 */
final class StartedBundles implements AfterEachCallback {
    private final List<Bundle> installed = new ArrayList<>();

    /** Installs embedded bundle {@code name} through {@code context} and starts it. */
    Bundle start(BundleContext context, String name) throws Exception {
        Bundle b = EmbeddedBundles.install(context, name);
        installed.add(b);
        b.start();
        return b;
    }

    /** Uninstalls what this started, in reverse order; bundles already uninstalled are left alone. */
    @Override
    public void afterEach(ExtensionContext test) throws Exception {
        for (Bundle b : installed.reversed()) if (b.getState() != Bundle.UNINSTALLED) b.uninstall();
        installed.clear();
    }
}
