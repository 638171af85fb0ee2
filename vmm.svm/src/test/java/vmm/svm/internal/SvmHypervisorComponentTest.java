package vmm.svm.internal;

import java.util.function.Function;

import vmm.kvm.KvmHypervisor;
import vmm.kvm.KvmVendor;
import vmm.kvm.fixtures.HypervisorComponentContract;
import vmm.kvm.vendor.HostFacts;
import vmm.svm.SvmVendor;

/** The component publishes the AMD-V hypervisor on AMD hosts only (the contract's tests). */
class SvmHypervisorComponentTest extends HypervisorComponentContract {
    SvmHypervisorComponentTest() {
        super(SvmVendor::new, AMD_HOST, INTEL_HOST, "npt", "asid", "avic");
    }

    @Override
    protected Lifecycle component(HostFacts host, Function<KvmVendor, KvmHypervisor> open, System.Logger log) {
        SvmHypervisorComponent c = new SvmHypervisorComponent(host, open, log);
        return new Lifecycle(c::activate, c::deactivate);
    }
}
