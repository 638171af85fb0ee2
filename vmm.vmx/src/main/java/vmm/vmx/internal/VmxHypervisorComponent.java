package vmm.vmx.internal;

import java.util.Dictionary;
import java.util.Hashtable;
import java.util.function.Function;

import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;

import vmm.core.hypervisor.Hypervisor;
import vmm.kvm.KvmHypervisor;
import vmm.kvm.KvmVendor;
import vmm.kvm.vendor.BackEndOpener;
import vmm.kvm.vendor.HostFacts;
import vmm.vmx.VmxVendor;

/**
 * Publishes KVM with the VT-x vendor part as the {@code Hypervisor} service,
 * on GenuineIntel hosts only. The service is registered by hand rather than
 * declared, because whether it exists depends on the host's CPU, which DS
 * cannot express; on another vendor's host this component stays up, publishes
 * nothing and logs why.
 */
@Component(immediate = true, service = {})
public final class VmxHypervisorComponent {
    private static final System.Logger DEFAULT_LOG = System.getLogger("vmm.vmx");

    private final HostFacts host;
    private final Function<KvmVendor, KvmHypervisor> open;
    private final System.Logger log;
    private KvmHypervisor hypervisor;
    private ServiceRegistration<Hypervisor> registration;

    public VmxHypervisorComponent() {
        this(HostFacts.ofThisHost(), KvmHypervisor::new, DEFAULT_LOG);
    }

    VmxHypervisorComponent(HostFacts host, Function<KvmVendor, KvmHypervisor> open, System.Logger log) {
        this.host = host;
        this.open = open;
        this.log = log;
    }

    @Activate
    void activate(BundleContext context) {
        BackEndOpener.open(new VmxVendor(host), host, open, log).ifPresent(h -> {
            Dictionary<String, Object> props = new Hashtable<>();
            props.put("vmm.hypervisor.backend", h.capabilities().backEnd());
            props.put("vmm.hypervisor.cpu.vendor", h.capabilities().cpuVendor());
            hypervisor = h;
            registration = context.registerService(Hypervisor.class, h, props);
        });
    }

    @Deactivate
    void deactivate() {
        if (registration != null) registration.unregister();
        if (hypervisor != null) hypervisor.close();
        registration = null;
        hypervisor = null;
    }
}
