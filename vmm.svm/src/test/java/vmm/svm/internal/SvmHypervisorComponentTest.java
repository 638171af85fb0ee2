package vmm.svm.internal;

import java.util.List;

import vmm.kvm.fixtures.HypervisorComponentContract;
import vmm.svm.SvmVendor;

/** The component publishes the AMD-V hypervisor on AMD hosts only (the contract's tests). */
class SvmHypervisorComponentTest extends HypervisorComponentContract {
    SvmHypervisorComponentTest() {
        super(SvmVendor::new, AMD_HOST, INTEL_HOST, List.of("npt", "asid", "avic"), (host, open, log) -> {
            SvmHypervisorComponent c = new SvmHypervisorComponent(host, open, log);
            return new Lifecycle(c::activate, c::deactivate);
        });
    }
}
