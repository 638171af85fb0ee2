package vmm.vmx.internal;

import java.util.List;

import vmm.kvm.fixtures.HypervisorComponentContract;
import vmm.vmx.VmxVendor;

/** The component publishes the VT-x hypervisor on Intel hosts only (the contract's tests). */
class VmxHypervisorComponentTest extends HypervisorComponentContract {
    VmxHypervisorComponentTest() {
        super(VmxVendor::new, INTEL_HOST, AMD_HOST, List.of("ept", "vpid", "apicv"), (host, open, log) -> {
            VmxHypervisorComponent c = new VmxHypervisorComponent(host, open, log);
            return new Lifecycle(c::activate, c::deactivate);
        });
    }
}
