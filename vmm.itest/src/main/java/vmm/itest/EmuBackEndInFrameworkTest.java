package vmm.itest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.test.common.annotation.InjectBundleContext;
import org.osgi.util.tracker.ServiceTracker;

import vmm.core.hypervisor.Hypervisor;
import vmm.testing.HangGuard;

/**
 * The software CPU (vmm.emu, embedded in this test bundle) in a framework: it
 * publishes a {@code Hypervisor} with {@code vmm.hypervisor.backend=emu} on
 * every host, ranked below KVM's, so where a KVM back end registers too the
 * plain service lookup gets KVM.
 */
class EmuBackEndInFrameworkTest {
    @InjectBundleContext
    BundleContext context;

    @RegisterExtension
    final StartedBundles bundles = new StartedBundles();

    private Bundle start(String name) throws Exception {
        return bundles.start(context, name);
    }

    /** Waits (bounded) for a Hypervisor whose back end starts with {@code prefix}. */
    private static ServiceReference<Hypervisor> await(ServiceTracker<Hypervisor, Hypervisor> tracker, String prefix)
            throws InterruptedException {
        long deadline = System.nanoTime() + HangGuard.BOUND.toNanos();
        while (System.nanoTime() < deadline) {
            ServiceReference<Hypervisor>[] refs = tracker.getServiceReferences();
            if (refs != null) {
                for (ServiceReference<Hypervisor> r : refs)
                    if (String.valueOf(r.getProperty("vmm.hypervisor.backend")).startsWith(prefix)) return r;
            }
            Thread.sleep(20);
        }
        return null;
    }

    @Test
    void theSoftwareCpuRegistersOnEveryHostAndGoesWithItsBundle() throws Exception {
        ServiceTracker<Hypervisor, Hypervisor> tracker = new ServiceTracker<>(context, Hypervisor.class, null);
        tracker.open();
        try {
            Bundle emu = start("vmm.emu");
            ServiceReference<Hypervisor> ref = await(tracker, "emu");
            assertThat(ref).as("vmm.emu's Hypervisor service").isNotNull();
            assertThat(ref.getProperty("vmm.hypervisor.backend")).isEqualTo("emu");
            assertThat((Integer) ref.getProperty(Constants.SERVICE_RANKING)).isNegative();
            assertThat(context.getService(ref).capabilities().backEnd()).isEqualTo("emu");
            context.ungetService(ref);

            emu.stop();

            assertThat(tracker.getServiceReferences()).as("the service goes with its bundle").isNull();
        } finally {
            tracker.close();
        }
    }

    @Test
    void whereKvmRegistersItOutranksTheSoftwareCpu() throws Exception {
        assumeTrue(Files.exists(Path.of("/dev/kvm")), "no /dev/kvm on this host: no KVM back end to outrank vmm.emu");
        ServiceTracker<Hypervisor, Hypervisor> tracker = new ServiceTracker<>(context, Hypervisor.class, null);
        tracker.open();
        try {
            start("vmm.emu");
            assertThat(await(tracker, "emu")).isNotNull();
            start("vmm.kvm");
            start("vmm.svm");
            start("vmm.vmx");
            ServiceReference<Hypervisor> kvm = await(tracker, "kvm");
            assumeTrue(kvm != null, "the KVM back end did not register here (KVM present but unusable)");

            ServiceReference<Hypervisor> best = context.getServiceReference(Hypervisor.class);
            assertThat(best.getProperty("vmm.hypervisor.backend")).asString().startsWith("kvm/");
            assertThat(Arrays.stream(tracker.getServiceReferences()).map(r -> r.getProperty("vmm.hypervisor.backend")))
                    .contains("emu");
        } finally {
            tracker.close();
        }
    }
}
