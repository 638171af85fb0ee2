package vmm.kvm.vendor;

import java.util.Dictionary;
import java.util.Hashtable;
import java.util.function.Function;

import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;

import vmm.core.hypervisor.Hypervisor;
import vmm.kvm.KvmHypervisor;
import vmm.kvm.KvmVendor;

/**
 * The {@code Hypervisor} service of a vendor bundle, for its DS component to delegate to:
 * {@link #publish} opens KVM with the vendor part where it serves the host ({@link BackEndOpener})
 * and registers it by hand, because whether the service exists depends on the host's CPU, which
 * DS cannot express; {@link #withdraw} unregisters it and closes KVM. Not a component itself
 * (DS annotations are not inherited): each vendor bundle declares its own small one. Its
 * component's activate and deactivate call it, which DS serializes; not thread-safe otherwise.
 */
public final class HypervisorPublisher {
    /** Service properties: the back end ({@code Capabilities.backEnd()}) and the host's CPUID vendor string. */
    public static final String PROPERTY_BACKEND = "vmm.hypervisor.backend",
            PROPERTY_CPU_VENDOR = "vmm.hypervisor.cpu.vendor";

    private final KvmVendor vendor;
    private final HostFacts host;
    private final Function<KvmVendor, KvmHypervisor> open;
    private final System.Logger log;
    private KvmHypervisor hypervisor;
    private ServiceRegistration<Hypervisor> registration;

    /**
     * @param open opens KVM for a vendor; {@code KvmHypervisor::new} outside tests
     * @param log  where the one line saying what {@link #publish} did goes
     */
    public HypervisorPublisher(KvmVendor vendor, HostFacts host, Function<KvmVendor, KvmHypervisor> open,
                               System.Logger log) {
        this.vendor = vendor;
        this.host = host;
        this.open = open;
        this.log = log;
    }

    /**
     * Registers KVM with the vendor part as the {@code Hypervisor} in {@code context} where the
     * vendor serves this host and KVM opens; otherwise registers nothing. Either way logs why.
     * Called once, before {@link #withdraw}.
     */
    public void publish(BundleContext context) {
        BackEndOpener.open(vendor, host, open, log).ifPresent(h -> {
            Dictionary<String, Object> props = new Hashtable<>();
            props.put(PROPERTY_BACKEND, h.capabilities().backEnd());
            props.put(PROPERTY_CPU_VENDOR, h.capabilities().cpuVendor());
            hypervisor = h;
            registration = context.registerService(Hypervisor.class, h, props);
        });
    }

    /** Unregisters the service and closes KVM, if {@link #publish} published them; else does nothing. */
    public void withdraw() {
        if (registration != null) registration.unregister();
        if (hypervisor != null) hypervisor.close();
        registration = null;
        hypervisor = null;
    }
}
