package vmm.launcher.internal.shell;

import org.apache.felix.service.command.Converter;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;

/**
 * Lets shell commands that take a {@link Bundle} (Gogo's
 * {@code felix:update}, {@code felix:stop}, ...) be given a bundle ID or a
 * symbolic name, as in {@code felix:update 2 file:/path/new.jar}; the
 * runtime here has no other converter for bundles.
 */
@Component(property = "osgi.converter.classes=org.osgi.framework.Bundle")
public final class BundleConverter implements Converter {
    private final BundleContext context;

    @Activate
    public BundleConverter(BundleContext context) {
        this.context = context;
    }

    @Override
    public Object convert(Class<?> desired, Object in) {
        if (desired != Bundle.class || in instanceof Bundle) return null;
        String s = String.valueOf(in).trim();
        try {
            return context.getBundle(Long.parseLong(s));
        } catch (NumberFormatException notAnId) {
            for (Bundle b : context.getBundles()) if (s.equals(b.getSymbolicName())) return b;
            return null;
        }
    }

    @Override
    public CharSequence format(Object target, int level, Converter escape) {
        if (!(target instanceof Bundle b)) return null;
        return b.getBundleId() + " " + b.getSymbolicName() + " " + b.getVersion();
    }
}
