package vmm.vmx.internal;

import java.util.function.Function;

import vmm.kvm.KvmHypervisor;
import vmm.kvm.KvmVendor;
import vmm.kvm.fixtures.HypervisorComponentContract;
import vmm.kvm.vendor.HostFacts;
import vmm.vmx.VmxVendor;

/** The component publishes the VT-x hypervisor on Intel hosts only (the contract's tests). */
class VmxHypervisorComponentTest extends HypervisorComponentContract {
    VmxHypervisorComponentTest() {
        super(VmxVendor::new, INTEL_HOST, AMD_HOST, "ept", "vpid", "apicv");
    }

    @Override
    protected Lifecycle component(HostFacts host, Function<KvmVendor, KvmHypervisor> open, System.Logger log) {
        VmxHypervisorComponent c = new VmxHypervisorComponent(host, open, log);
        return new Lifecycle(c::activate, c::deactivate);
    }
}
