package vmm.itest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;
import org.osgi.service.component.runtime.ServiceComponentRuntime;
import org.osgi.service.component.runtime.dto.ComponentConfigurationDTO;
import org.osgi.service.component.runtime.dto.ComponentDescriptionDTO;
import org.osgi.test.common.annotation.InjectBundleContext;
import org.osgi.test.common.annotation.InjectService;
import org.osgi.util.tracker.ServiceTracker;

import vmm.core.hypervisor.Hypervisor;
import vmm.testing.HangGuard;

/**
 * Both vendor back ends (vmm.svm, vmm.vmx, with vmm.kvm; embedded in this test
 * bundle) installed and started in one framework: exactly one publishes the
 * {@code Hypervisor} service, the one for this host's CPU vendor, and the
 * service goes when its bundle stops.
 */
class VendorBackEndsInFrameworkTest {
    @InjectBundleContext
    BundleContext context;
    @InjectService
    ServiceComponentRuntime scr;

    @RegisterExtension
    final StartedBundles bundles = new StartedBundles();

    private Bundle start(String name) throws Exception {
        return bundles.start(context, name);
    }

    /** Waits (bounded) until SCR has activated every component of {@code bundle}, so it has done whatever it will do. */
    private void awaitComponentsActive(Bundle bundle) throws InterruptedException {
        long deadline = System.nanoTime() + HangGuard.BOUND.toNanos();
        while (true) {
            List<ComponentDescriptionDTO> descriptions = new ArrayList<>(scr.getComponentDescriptionDTOs(bundle));
            boolean active = !descriptions.isEmpty() && descriptions.stream().allMatch(d -> {
                var configs = scr.getComponentConfigurationDTOs(d);
                return !configs.isEmpty() && configs.stream().allMatch(c -> c.state == ComponentConfigurationDTO.ACTIVE);
            });
            if (active) return;
            if (System.nanoTime() > deadline) throw new AssertionError("the components of " + bundle.getSymbolicName() + " did not activate");
            Thread.sleep(20);
        }
    }

    /** The host CPU's vendor as the first processor of {@code /proc/cpuinfo} names it. */
    private static String hostCpuVendor() throws IOException {
        return Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("vendor_id"))
                .map(l -> l.substring(l.indexOf(':') + 1).strip()).findFirst().orElse("unknown");
    }

    @Test
    void exactlyTheBackEndOfThisHostsCpuVendorPublishesTheHypervisor() throws Exception {
        assumeTrue(Files.exists(Path.of("/dev/kvm")), "no /dev/kvm on this host: the back ends cannot open KVM");
        String vendor = hostCpuVendor();
        assumeTrue(vendor.equals("AuthenticAMD") || vendor.equals("GenuineIntel"), "host CPU vendor " + vendor);
        String expected = vendor.equals("AuthenticAMD") ? "kvm/amd-v" : "kvm/vt-x";

        start("vmm.kvm");
        Bundle svm = start("vmm.svm"), vmx = start("vmm.vmx");
        ServiceTracker<Hypervisor, Hypervisor> tracker = new ServiceTracker<>(context, Hypervisor.class, null);
        tracker.open();
        try {
            awaitComponentsActive(svm);
            awaitComponentsActive(vmx);

            ServiceReference<Hypervisor>[] refs = tracker.getServiceReferences();
            assertThat(refs).hasSize(1);
            assertThat(refs[0].getProperty("vmm.hypervisor.backend")).isEqualTo(expected);
            assertThat(refs[0].getProperty("vmm.hypervisor.cpu.vendor")).isEqualTo(vendor);
            assertThat(tracker.getService().capabilities().backEnd()).isEqualTo(expected);
            Bundle serving = vendor.equals("AuthenticAMD") ? svm : vmx, idle = serving == svm ? vmx : svm;
            assertThat(refs[0].getBundle()).isEqualTo(serving);
            assertThat(idle.getState()).as("the other back end runs, publishing nothing").isEqualTo(Bundle.ACTIVE);
            assertThat(idle.getRegisteredServices()).isNull();

            serving.stop();

            assertThat(tracker.getServiceReferences()).as("the service goes with its bundle").isNull();
        } finally {
            tracker.close();
        }
    }
}
