package vmm.emu.internal.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import java.util.Dictionary;

import org.junit.jupiter.api.Test;
import org.mockito.ArgumentCaptor;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceRegistration;

import vmm.core.hypervisor.Hypervisor;

/** The component publishes the software CPU below KVM and withdraws it on deactivation. */
class EmuHypervisorComponentTest {
    @Test
    @SuppressWarnings("unchecked")
    void publishesTheSoftwareCpuRankedBelowKvmAndUnregistersOnDeactivate() {
        BundleContext context = mock(BundleContext.class);
        ServiceRegistration<Hypervisor> registration = mock(ServiceRegistration.class);
        ArgumentCaptor<Dictionary<String, Object>> props = ArgumentCaptor.forClass(Dictionary.class);
        when(context.registerService(eq(Hypervisor.class), any(Hypervisor.class), props.capture()))
                .thenReturn(registration);
        EmuHypervisorComponent c = new EmuHypervisorComponent();

        c.activate(context);
        c.deactivate();

        assertThat(props.getValue().get("vmm.hypervisor.backend")).isEqualTo("emu");
        assertThat((Integer) props.getValue().get(Constants.SERVICE_RANKING)).isNegative();
        verify(registration).unregister();
    }
}
