package vmm.launcher.internal;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;

import vmm.core.device.DeviceProvider;

/** Which bundle provides a device implementation: the bundle that registered its {@link DeviceProvider} service. */
public final class Implementations {
    private Implementations() {}

    /** "symbolic-name version [id]" of the bundle providing {@code implementation} of {@code type}, or "-". */
    public static String bundleOf(BundleContext context, String type, String implementation) {
        if (type == null || implementation == null) return "-";
        try {
            for (ServiceReference<DeviceProvider> r : context.getServiceReferences(DeviceProvider.class,
                    "(&(" + DeviceProvider.TYPE + "=" + type + ")(" + DeviceProvider.IMPLEMENTATION + "=" + implementation + "))")) {
                Bundle b = r.getBundle();
                if (b != null) return b.getSymbolicName() + " " + b.getVersion() + " [" + b.getBundleId() + "]";
            }
        } catch (InvalidSyntaxException e) {
            // a type or implementation name with filter characters: not one a provider registered
        }
        return "-";
    }
}
