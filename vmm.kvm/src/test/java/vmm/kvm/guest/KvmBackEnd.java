package vmm.kvm.guest;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import vmm.core.hypervisor.Hypervisor;
import vmm.core.hypervisor.HypervisorException;
import vmm.kvm.GenericVendor;
import vmm.kvm.KvmHypervisor;
import vmm.kvm.KvmVendor;
import vmm.testing.guest.GuestBackEnd;

/**
 * Guest tests on KVM: each VM opens {@code /dev/kvm} with the vendor part {@link #vendor()} names,
 * and a test skips (a JUnit assumption saying why) where this host has no usable KVM.
 */
public interface KvmBackEnd extends GuestBackEnd {
    /** The KVM device; {@code -Dvmm.kvm.device=/nonexistent} shows what a host without KVM does. */
    String DEVICE = System.getProperty("vmm.kvm.device", "/dev/kvm");

    @Override
    default Hypervisor openHypervisor() {
        return openOrSkip();
    }

    /**
     * The vendor part the guests run with: {@link GenericVendor}, or the class that
     * {@code -Dvmm.kvm.vendor} names (on the test class path), e.g. {@code vmm.svm.SvmVendor},
     * to run these guests with a back end's CPUID normalization.
     */
    static KvmVendor vendor() {
        String name = System.getProperty("vmm.kvm.vendor");
        if (name == null || name.isBlank()) return new GenericVendor();
        try {
            return (KvmVendor) Class.forName(name).getConstructor().newInstance();
        } catch (ReflectiveOperationException e) {
            throw new IllegalArgumentException("-Dvmm.kvm.vendor=" + name + ": not a KvmVendor on the test class path", e);
        }
    }

    /** Opens KVM, or skips the test saying why it cannot run here. */
    static KvmHypervisor openOrSkip() {
        assumeTrue(Files.exists(Path.of(DEVICE)), "no " + DEVICE + " on this host: tests that run guest code are skipped");
        try {
            return new KvmHypervisor(vendor(), DEVICE);
        } catch (HypervisorException e) {
            assumeTrue(false, "KVM is present but unusable, tests that run guest code are skipped: " + e.getMessage());
            throw e;
        }
    }
}
