package vmm.vmx.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.verifyNoInteractions;

import org.junit.jupiter.api.Test;
import org.osgi.framework.BundleContext;

import vmm.core.hypervisor.HypervisorException;
import vmm.kvm.KvmHypervisor;
import vmm.kvm.vendor.HostFacts;
import vmm.vmx.RecordingLogger;

/** The component publishes the VT-x hypervisor on Intel hosts only; the framework is the seam, mocked. */
class VmxHypervisorComponentTest {
    private static final HostFacts AMD_HOST = HostFacts.of("vendor_id\t: AuthenticAMD\nflags\t\t: fpu svm npt\n", "kvm_amd/npt=1\n");
    private static final HostFacts INTEL_HOST = HostFacts.of("vendor_id\t: GenuineIntel\nflags\t\t: fpu vmx\n", "kvm_intel/ept=Y\n");

    private final BundleContext context = mock(BundleContext.class);
    private final RecordingLogger log = new RecordingLogger();

    @Test
    void onAnAmdHostItOpensNothingRegistersNothingAndSaysWhy() {
        VmxHypervisorComponent c = new VmxHypervisorComponent(AMD_HOST, v -> {
            throw new AssertionError("KVM opened for a host the back end does not serve");
        }, log);

        c.activate(context);
        c.deactivate();

        verifyNoInteractions(context);
        assertThat(log.lines()).singleElement().asString()
                .startsWith("INFO").contains("vt-x back end stays inactive", "AuthenticAMD");
    }

    @Test
    void onThisAmdMachineTheVtxBackEndStaysInactive() {
        HostFacts host = HostFacts.ofThisHost();
        assumeTrue(host.cpuVendorId().equals("AuthenticAMD"), "this host's CPU is " + host.cpuVendorId() + ", not AMD");
        VmxHypervisorComponent c = new VmxHypervisorComponent(host, KvmHypervisor::new, log);

        c.activate(context);

        verifyNoInteractions(context);
        assertThat(log.lines()).singleElement().asString().contains("stays inactive");
    }

    @Test
    void onAnIntelHostWhoseKvmCannotOpenItRegistersNothingAndLogsTheReason() {
        VmxHypervisorComponent c = new VmxHypervisorComponent(INTEL_HOST, v -> {
            throw new HypervisorException("KVM is not accessible: permission denied opening /dev/kvm");
        }, log);

        c.activate(context);

        verifyNoInteractions(context);
        assertThat(log.lines()).singleElement().asString().startsWith("INFO").contains("vt-x", "permission denied");
    }
}
