package vmm.kvm.vendor;

import java.util.Optional;
import java.util.function.Function;

import vmm.core.hypervisor.HypervisorException;
import vmm.kvm.KvmHypervisor;
import vmm.kvm.KvmVendor;

/**
 * What a vendor bundle's component does when it starts: decide by the host's
 * CPU vendor whether its back end serves this host, and if so open KVM with it.
 * Either way it logs one line saying what it did and why.
 */
public final class BackEndOpener {
    private BackEndOpener() {}

    /**
     * The hypervisor to publish, or empty when {@code vendor} does not serve this host
     * or KVM cannot be opened (both logged to {@code log}).
     *
     * @param open opens KVM for a vendor; {@code KvmHypervisor::new} outside tests
     */
    public static Optional<KvmHypervisor> open(KvmVendor vendor, HostFacts host, Function<KvmVendor, KvmHypervisor> open,
                                               System.Logger log) {
        BackEndChoice choice = BackEndChoice.decide(vendor, host.cpuVendorId());
        if (!choice.serve()) {
            log.log(System.Logger.Level.INFO, choice.reason());
            return Optional.empty();
        }
        try {
            KvmHypervisor h = open.apply(vendor);
            log.log(System.Logger.Level.INFO, choice.reason() + "; " + h.capabilities().features());
            return Optional.of(h);
        } catch (HypervisorException e) {
            // A host without a usable KVM is the host's state rather than this bundle's failure, and most commands
            // (help, shell, vhost-user, vfio-user) need no hypervisor: what needs one says which back end runs and
            // why, once (./vmm run does). So this stays at INFO, seen with VMM_LOG=1.
            log.log(System.Logger.Level.INFO, "the " + vendor.name()
                    + " back end serves this host but cannot open KVM, so no Hypervisor is published: "
                    + e.getMessage());
            return Optional.empty();
        }
    }
}
