package vmm.vmx;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

import vmm.kvm.fixtures.Fixtures;
import vmm.kvm.vendor.HostFacts;

/** EPT, VPID, unrestricted guest and APICv as read from an Intel host's /proc/cpuinfo and kvm_intel parameters. */
class VmxCapabilitiesTest {
    private static final String CPUINFO = Fixtures.text("intel-xeon-gold-6252.cpuinfo");

    @Test
    void aCascadeLakeRunningKvmIntelReportsEptVpidUnrestrictedGuestAndApicv() {
        VmxVendor v = new VmxVendor(Fixtures.host("intel-xeon-gold-6252"));
        List<Integer> kvmMsrs = Fixtures.msrs("intel-kvm-msr-index-list.msrs");
        int all = v.msrsToSave().size();

        // The whole report, in order, as the log line shows it; 11 of the Intel MSRs are missing from that KVM's list.
        assertThat(v.capabilities(Fixtures.probe("intel-xeon-gold-6252.cpuid", kvmMsrs)))
                .hasToString("{kvm-module=kvm_intel, vmx=yes, ept=yes, vpid=yes, unrestricted-guest=yes, apicv=yes,"
                        + " nested=yes, msrs-to-save=" + (all - 11) + " of " + all + "}");
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
