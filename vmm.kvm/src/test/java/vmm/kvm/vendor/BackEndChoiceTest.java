package vmm.kvm.vendor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import vmm.kvm.CpuidEntry;
import vmm.kvm.KvmProbe;
import vmm.kvm.KvmVendor;

/** A back end serves the host whose CPU vendor it names, and says why it does not otherwise. */
class BackEndChoiceTest {
    /** A back end that serves one vendor string, as vmm.svm and vmm.vmx do. */
    private static KvmVendor servingOnly(String name, String vendorId) {
        return new KvmVendor() {
            @Override public String name() { return name; }
            @Override public boolean supportsHost(String id) { return id.equals(vendorId); }
            @Override public List<CpuidEntry> guestCpuid(List<CpuidEntry> s, int i, int n) { return s; }
            @Override public List<Integer> msrsToSave() { return List.of(); }
            @Override public Map<String, String> capabilities(KvmProbe p) { return Map.of(); }
            @Override public String explainEntryFailure(long r) { return ""; }
        };
    }

    @Test
    void exactlyOneOfTwoVendorBackEndsServesEachHost() {
        KvmVendor amd = servingOnly("amd-v", "AuthenticAMD"), intel = servingOnly("vt-x", "GenuineIntel");
        for (String host : List.of("AuthenticAMD", "GenuineIntel")) {
            long serving = List.of(amd, intel).stream().filter(v -> BackEndChoice.decide(v, host).serve()).count();
            assertThat(serving).as(host).isEqualTo(1);
        }
    }

    @Test
    void anInactiveBackEndNamesTheHostVendorItDoesNotServe() {
        BackEndChoice c = BackEndChoice.decide(servingOnly("vt-x", "GenuineIntel"), "AuthenticAMD");

        assertThat(c.serve()).isFalse();
        assertThat(c.reason()).contains("vt-x back end stays inactive", "AuthenticAMD");
    }
}
