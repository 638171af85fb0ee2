package vmm.vmx;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import vmm.kvm.fixtures.Fixtures;
import vmm.kvm.vendor.HostFacts;

/** EPT, VPID, unrestricted guest and APICv as read from an Intel host's /proc/cpuinfo and kvm_intel parameters. */
class VmxCapabilitiesTest {
    private static final String CPUINFO = Fixtures.text("intel-xeon-gold-6252.cpuinfo");

    @Test
    void aCascadeLakeRunningKvmIntelReportsEptVpidUnrestrictedGuestAndApicv() {
        VmxVendor v = new VmxVendor(Fixtures.host("intel-xeon-gold-6252"));

        Map<String, String> caps = v.capabilities(Fixtures.probe("intel-xeon-gold-6252.cpuid",
                Fixtures.msrs("intel-kvm-msr-index-list.msrs")));

        assertThat(caps).containsEntry("kvm-module", "kvm_intel").containsEntry("vmx", "yes").containsEntry("ept", "yes")
                .containsEntry("vpid", "yes").containsEntry("unrestricted-guest", "yes").containsEntry("apicv", "yes")
                .containsEntry("nested", "yes").containsEntry("msrs-to-save", (v.msrsToSave().size() - 11) + " of " + v.msrsToSave().size());
    }

    @Test
    void withoutEptThereIsNoUnrestrictedGuest() {
        VmxVendor v = new VmxVendor(HostFacts.of(CPUINFO, "kvm_intel/ept=N\nkvm_intel/vpid=Y\nkvm_intel/unrestricted_guest=Y\n"));

        assertThat(v.capabilities(Fixtures.probe("intel-xeon-gold-6252.cpuid", List.of())))
                .containsEntry("ept", "no").containsEntry("unrestricted-guest", "no").containsEntry("vpid", "yes");
    }

    @Test
    void apicvIsOffWhenKvmIntelDisablesIt() {
        VmxVendor v = new VmxVendor(HostFacts.of(CPUINFO, "kvm_intel/ept=Y\nkvm_intel/enable_apicv=N\n"));

        assertThat(v.capabilities(Fixtures.probe("intel-xeon-gold-6252.cpuid", List.of()))).containsEntry("apicv", "no");
    }

    @Test
    void aCpuWithoutVirtualInterruptDeliveryHasNoApicvWhateverKvmIntelSays() {
        String older = CPUINFO.replace(" vid ", " ").replace(" posted_intr ", " ");
        VmxVendor v = new VmxVendor(HostFacts.of(older, "kvm_intel/ept=Y\nkvm_intel/enable_apicv=Y\n"));

        assertThat(v.capabilities(Fixtures.probe("intel-xeon-gold-6252.cpuid", List.of())))
                .containsEntry("apicv", "no").containsEntry("ept", "yes");
    }
}
