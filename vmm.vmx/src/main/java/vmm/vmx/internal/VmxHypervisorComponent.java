package vmm.vmx.internal;

import java.util.function.Function;

import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;

import vmm.kvm.KvmHypervisor;
import vmm.kvm.KvmVendor;
import vmm.kvm.vendor.HostFacts;
import vmm.kvm.vendor.HypervisorPublisher;
import vmm.vmx.VmxVendor;

/**
 * Publishes KVM with the VT-x vendor part as the {@code Hypervisor} service, on
 * GenuineIntel hosts only, through {@link HypervisorPublisher}: whether the service
 * exists depends on the host's CPU, which DS cannot express, so it is registered by
 * hand; on another vendor's host this component stays up, publishes nothing and logs why.
 */
@Component(immediate = true, service = {})
public final class VmxHypervisorComponent {
    private final HypervisorPublisher publisher;

    public VmxHypervisorComponent() {
        this(HostFacts.ofThisHost(), KvmHypervisor::new, System.getLogger("vmm.vmx"));
    }

    VmxHypervisorComponent(HostFacts host, Function<KvmVendor, KvmHypervisor> open, System.Logger log) {
        publisher = new HypervisorPublisher(new VmxVendor(host), host, open, log);
    }

    @Activate
    void activate(BundleContext context) {
        publisher.publish(context);
    }

    @Deactivate
    void deactivate() {
        publisher.withdraw();
    }
}
