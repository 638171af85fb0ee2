package vmm.emu.internal.vm;

import java.util.Dictionary;
import java.util.Hashtable;

import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;

import vmm.core.hypervisor.Hypervisor;

/**
 * Publishes the software CPU as a {@code Hypervisor} service ranked below the
 * KVM back ends, so a host with working KVM keeps it and one without gets the
 * software CPU.
 */
@Component(immediate = true, service = {})
public final class EmuHypervisorComponent {
    /** Below the KVM back ends' default ranking of 0. */
    static final int RANKING = -100;

    private ServiceRegistration<Hypervisor> registration;

    @Activate
    void activate(BundleContext context) {
        EmuHypervisor h = new EmuHypervisor();
        Dictionary<String, Object> props = new Hashtable<>();
        props.put("vmm.hypervisor.backend", h.capabilities().backEnd());
        props.put("vmm.hypervisor.cpu.vendor", h.capabilities().cpuVendor());
        props.put(Constants.SERVICE_RANKING, RANKING);
        registration = context.registerService(Hypervisor.class, h, props);
    }

    @Deactivate
    void deactivate() {
        if (registration != null) registration.unregister();
        registration = null;
    }
}
