package vmm.vfiouser.internal.osgi;

import java.util.Map;

import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

import vmm.core.device.DeviceProvider;
import vmm.core.machine.ServedInstance;
import vmm.vfiouser.VfioUserServer;

/**
 * One vfio-user socket per {@code vmm.vfio-user} factory configuration
 * ({@code socket}, {@code type}, optional {@code implementation}): the
 * core's {@link ServedInstance} reads it, follows the providers of the type
 * (serve, swap under the connected client, hold when none is left) and
 * publishes the device as a {@code DeviceInstanceInfo}; this component is
 * only its DS wiring.
 */
@Component(configurationPid = VfioUserComponent.PID, configurationPolicy = ConfigurationPolicy.REQUIRE, immediate = true, service = {})
public final class VfioUserComponent {
    public static final String PID = "vmm.vfio-user";
    private final ServedInstance<VfioUserServer> served =
            new ServedInstance<>("vfio-user", System.getLogger("vmm.vfio-user"), VfioUserServer::start);

    @Activate
    void activate(BundleContext context, Map<String, Object> properties) { served.activate(context, properties); }

    @Modified
    void modified(Map<String, Object> properties) { served.modified(properties); }

    @Deactivate
    void deactivate() { served.deactivate(); }

    @Reference(service = DeviceProvider.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void addProvider(DeviceProvider provider, Map<String, Object> props) { served.add(provider, props); }

    void removeProvider(DeviceProvider provider, Map<String, Object> props) { served.remove(props); }

    /** The served instance (for tests). */
    ServedInstance<VfioUserServer> served() { return served; }
}
