package vmm.kvm.vendor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.inOrder;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.verifyNoInteractions;
import static org.mockito.Mockito.when;

import java.util.Dictionary;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.mockito.ArgumentCaptor;
import org.mockito.InOrder;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;

import vmm.core.hypervisor.Capabilities;
import vmm.core.hypervisor.Hypervisor;
import vmm.core.hypervisor.HypervisorException;
import vmm.kvm.CpuidEntry;
import vmm.kvm.KvmHypervisor;
import vmm.kvm.KvmProbe;
import vmm.kvm.KvmVendor;
import vmm.kvm.fixtures.RecordingLogger;

/**
 * A vendor bundle's Hypervisor service: registered with its properties where the vendor serves the
 * host and KVM opens, withdrawn (unregistered, then KVM closed) on request. The framework and the
 * opened KVM are the seams, mocked.
 */
class HypervisorPublisherTest {
    private static final HostFacts AMD_HOST = HostFacts.of("vendor_id\t: AuthenticAMD\nflags\t\t: fpu svm\n", "");
    private static final KvmVendor AMD_ONLY = new KvmVendor() {
        @Override public String name() { return "amd-v"; }
        @Override public boolean supportsHost(String id) { return id.equals("AuthenticAMD"); }
        @Override public List<CpuidEntry> guestCpuid(List<CpuidEntry> s, int i, int n) { return s; }
        @Override public List<Integer> msrsToSave() { return List.of(); }
        @Override public Map<String, String> capabilities(KvmProbe p) { return Map.of(); }
        @Override public String explainEntryFailure(long r) { return ""; }
    };

    private final BundleContext context = mock(BundleContext.class);
    private final RecordingLogger log = new RecordingLogger();

    @Test
    @SuppressWarnings({"unchecked", "rawtypes"})
    void publishesTheOpenedKvmWithItsBackEndAndCpuVendorAndWithdrawUnregistersItBeforeClosingKvm() {
        KvmHypervisor kvm = mock(KvmHypervisor.class);
        when(kvm.capabilities()).thenReturn(new Capabilities("kvm/amd-v", "AuthenticAMD", Map.of("npt", "yes")));
        ServiceRegistration<Hypervisor> registration = mock(ServiceRegistration.class);
        when(context.registerService(eq(Hypervisor.class), any(Hypervisor.class), any(Dictionary.class)))
                .thenReturn(registration);
        HypervisorPublisher p = new HypervisorPublisher(AMD_ONLY, AMD_HOST, v -> kvm, log);

        p.publish(context);

        ArgumentCaptor<Dictionary> props = ArgumentCaptor.forClass(Dictionary.class);
        InOrder order = inOrder(context, registration, kvm);
        order.verify(context).registerService(eq(Hypervisor.class), eq(kvm), props.capture());
        assertThat(props.getValue().get(HypervisorPublisher.PROPERTY_BACKEND)).isEqualTo("kvm/amd-v");
        assertThat(props.getValue().get(HypervisorPublisher.PROPERTY_CPU_VENDOR)).isEqualTo("AuthenticAMD");
        assertThat(log.lines()).singleElement().asString().startsWith("INFO").contains("serves this host", "npt=yes");

        p.withdraw();
        order.verify(registration).unregister();
        order.verify(kvm).close();

        p.withdraw(); // a second withdrawal finds nothing left to undo
        order.verifyNoMoreInteractions();
    }

    @Test
    void whereKvmCannotOpenNothingIsRegisteredAndWithdrawHasNothingToDo() {
        HypervisorPublisher p = new HypervisorPublisher(AMD_ONLY, AMD_HOST, v -> {
            throw new HypervisorException("KVM is not available: /dev/kvm does not exist");
        }, log);

        p.publish(context);
        p.withdraw();

        verifyNoInteractions(context);
        assertThat(log.lines()).singleElement().asString().startsWith("INFO")
                .contains("amd-v", "/dev/kvm does not exist");
    }

    @Test
    void onAHostTheVendorDoesNotServeKvmIsNotOpened() {
        HostFacts intel = HostFacts.of("vendor_id\t: GenuineIntel\nflags\t\t: fpu vmx\n", "");
        HypervisorPublisher p = new HypervisorPublisher(AMD_ONLY, intel, v -> {
            throw new AssertionError("KVM opened for a host the back end does not serve");
        }, log);

        p.publish(context);
        p.withdraw();

        verifyNoInteractions(context);
        assertThat(log.lines()).singleElement().asString().contains("amd-v back end stays inactive", "GenuineIntel");
    }
}
