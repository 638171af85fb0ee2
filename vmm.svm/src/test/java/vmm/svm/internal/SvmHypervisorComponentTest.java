package vmm.svm.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.verifyNoInteractions;
import static org.mockito.Mockito.when;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Dictionary;

import org.junit.jupiter.api.Test;
import org.mockito.ArgumentCaptor;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;

import vmm.core.hypervisor.Hypervisor;
import vmm.core.hypervisor.HypervisorException;
import vmm.kvm.KvmHypervisor;
import vmm.kvm.vendor.HostFacts;
import vmm.svm.RecordingLogger;

/** The component publishes the AMD-V hypervisor on AMD hosts only; the framework is the seam, mocked. */
class SvmHypervisorComponentTest {
    private static final HostFacts INTEL_HOST = HostFacts.of("vendor_id\t: GenuineIntel\nflags\t\t: fpu vmx\n", "kvm_intel/ept=Y\n");
    private static final HostFacts AMD_HOST = HostFacts.of("vendor_id\t: AuthenticAMD\nflags\t\t: fpu svm npt\n", "kvm_amd/npt=1\n");

    private final BundleContext context = mock(BundleContext.class);
    private final RecordingLogger log = new RecordingLogger();

    @Test
    void onAnIntelHostItOpensNothingRegistersNothingAndSaysWhy() {
        SvmHypervisorComponent c = new SvmHypervisorComponent(INTEL_HOST, v -> {
            throw new AssertionError("KVM opened for a host the back end does not serve");
        }, log);

        c.activate(context);
        c.deactivate();

        verifyNoInteractions(context);
        assertThat(log.lines()).singleElement().asString()
                .startsWith("INFO").contains("amd-v back end stays inactive", "GenuineIntel");
    }

    @Test
    void onAnAmdHostWhoseKvmCannotOpenItRegistersNothingAndLogsTheReason() {
        SvmHypervisorComponent c = new SvmHypervisorComponent(AMD_HOST, v -> {
            throw new HypervisorException("KVM is not available: /dev/kvm does not exist");
        }, log);

        c.activate(context);

        verifyNoInteractions(context);
        assertThat(log.lines()).singleElement().asString().startsWith("INFO").contains("/dev/kvm does not exist");
    }

    @Test
    @SuppressWarnings({"unchecked", "rawtypes"})
    void onThisAmdHostKvmWithTheAmdVendorPartIsPublishedAsTheHypervisor() {
        HostFacts host = HostFacts.ofThisHost();
        assumeTrue(host.cpuVendorId().equals("AuthenticAMD"), "this host's CPU is " + host.cpuVendorId() + ", not AMD");
        // -Dvmm.kvm.device=/nonexistent shows what a host without KVM does.
        String device = System.getProperty("vmm.kvm.device", "/dev/kvm");
        assumeTrue(Files.exists(Path.of(device)), "no " + device + " on this host");
        ServiceRegistration<Hypervisor> registration = mock(ServiceRegistration.class);
        when(context.registerService(eq(Hypervisor.class), any(Hypervisor.class), any(Dictionary.class))).thenReturn(registration);
        SvmHypervisorComponent c = new SvmHypervisorComponent(host, vendor -> new KvmHypervisor(vendor, device), log);

        c.activate(context);

        ArgumentCaptor<Hypervisor> published = ArgumentCaptor.forClass(Hypervisor.class);
        ArgumentCaptor<Dictionary> props = ArgumentCaptor.forClass(Dictionary.class);
        verify(context).registerService(eq(Hypervisor.class), published.capture(), props.capture());
        assertThat(published.getValue().capabilities().backEnd()).isEqualTo("kvm/amd-v");
        assertThat(published.getValue().capabilities().features()).containsKeys("npt", "asid", "avic");
        assertThat(props.getValue().get("vmm.hypervisor.backend")).isEqualTo("kvm/amd-v");
        assertThat(log.lines()).singleElement().asString().startsWith("INFO").contains("amd-v back end serves this host");

        c.deactivate();
        verify(registration).unregister();
    }
}
