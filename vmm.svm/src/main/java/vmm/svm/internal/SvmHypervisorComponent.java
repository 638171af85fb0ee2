package vmm.svm.internal;

import java.util.function.Function;

import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;

import vmm.kvm.KvmHypervisor;
import vmm.kvm.KvmVendor;
import vmm.kvm.vendor.HostFacts;
import vmm.kvm.vendor.HypervisorPublisher;
import vmm.svm.SvmVendor;

/**
 * Publishes KVM with the AMD-V vendor part as the {@code Hypervisor} service, on
 * AuthenticAMD (and Hygon) hosts only, through {@link HypervisorPublisher}: whether the service
 * exists depends on the host's CPU, which DS cannot express, so it is registered by
 * hand; on another vendor's host this component stays up, publishes nothing and logs why.
 */
@Component(immediate = true, service = {})
public final class SvmHypervisorComponent {
    private final HypervisorPublisher publisher;

    public SvmHypervisorComponent() {
        this(HostFacts.ofThisHost(), KvmHypervisor::new, System.getLogger("vmm.svm"));
    }

    SvmHypervisorComponent(HostFacts host, Function<KvmVendor, KvmHypervisor> open, System.Logger log) {
        publisher = new HypervisorPublisher(new SvmVendor(host), host, open, log);
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
