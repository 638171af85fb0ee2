package vmm.vhostuser.internal.osgi;

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
import vmm.vhostuser.VhostUserServer;

/**
 * One vhost-user socket per {@code vmm.vhost-user} factory configuration
 * ({@code socket}, {@code type}, optional {@code implementation}): the
 * core's {@link ServedInstance} reads it, follows the providers of the type
 * (serve, swap under the connected front-end, hold when none is left) and
 * publishes the device as a {@code DeviceInstanceInfo}; this component is
 * only its DS wiring.
 */
@Component(configurationPid = VhostUserComponent.PID, configurationPolicy = ConfigurationPolicy.REQUIRE, immediate = true, service = {})
public final class VhostUserComponent {
    public static final String PID = "vmm.vhost-user";
    private final ServedInstance<VhostUserServer> served =
            new ServedInstance<>("vhost-user", System.getLogger("vmm.vhost-user"), VhostUserServer::start);

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
    ServedInstance<VhostUserServer> served() { return served; }
}
