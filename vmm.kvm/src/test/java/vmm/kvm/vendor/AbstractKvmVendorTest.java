package vmm.kvm.vendor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;

import vmm.kvm.CpuidEntry;
import vmm.kvm.KvmProbe;

/** The frame both vendor back ends share: the capability report's order, the MSR filter, module parameters. */
class AbstractKvmVendorTest {
    /** A vendor whose one feature, "fast", needs the CPU flag and kvm_amd's parameter of that name. */
    private static final class TestVendor extends AbstractKvmVendor {
        TestVendor(HostFacts host) {
            super("test-v", "kvm_amd", List.of(0x10, 0x200, 0x2FF, 0xC0000081), host);
        }

        @Override public boolean supportsHost(String cpuVendorId) { return true; }
        @Override public String explainEntryFailure(long reason) { return ""; }

        @Override
        protected void normalize(CpuidTable t, CpuTopology topology, int vcpuIndex) {
            t.update(1, e -> e.withEbx(topology.apicId(vcpuIndex) << 24));
        }

        @Override
        protected void hardwareFeatures(Set<String> flags, Map<String, String> f) {
            f.put("fast", yesNo(flags.contains("fast") && enabled("fast")));
        }
    }

    private static KvmProbe probe(List<Integer> msrIndexList) {
        return new KvmProbe() {
            @Override public int checkExtension(int capability) { return 0; }
            @Override public List<CpuidEntry> supportedCpuid() { return List.of(); }
            @Override public String cpuVendorId() { return "TestVendor"; }
            @Override public List<Integer> msrIndexList() { return msrIndexList; }
        };
    }

    @Test
    void theReportNamesTheKvmModuleFirstTheVendorsFeaturesThenTheMsrsThisKvmCanSave() {
        TestVendor v = new TestVendor(HostFacts.of("vendor_id\t: TestVendor\nflags\t\t: fpu fast\n",
                "kvm_amd/fast=Y\n"));

        Map<String, String> caps = v.capabilities(probe(List.of(0x10)));

        // 0x10 is listed, the MTRRs are saved though KVM lists none, 0xC0000081 is not listed.
        assertThat(caps).containsExactly(Map.entry("kvm-module", "kvm_amd"), Map.entry("fast", "yes"),
                Map.entry("msrs-to-save", "3 of 4"));
        assertThat(v.msrsToSave(List.of(0x10))).containsExactly(0x10, 0x200, 0x2FF);
    }

    @Test
    void aFeatureIsOffWhenTheModuleIsNotLoadedOrItsParameterIsOffAndThereIsNoMsrCountWithoutAList() {
        String cpuinfo = "vendor_id\t: TestVendor\nflags\t\t: fpu fast\n";

        assertThat(new TestVendor(HostFacts.of(cpuinfo, "kvm_intel/fast=Y\n")).capabilities(probe(List.of())))
                .containsEntry("fast", "no").doesNotContainKey("msrs-to-save");
        assertThat(new TestVendor(HostFacts.of(cpuinfo, "kvm_amd/fast=N\n")).capabilities(probe(List.of())))
                .containsEntry("fast", "no");
    }

    @Test
    void guestCpuidIsTheSupportedTableAsTheVendorNormalizesItForTheVcpu() {
        List<CpuidEntry> supported = List.of(new CpuidEntry(0, 0, 0, 1, 0, 0, 0), new CpuidEntry(1, 0, 0, 0, 0, 0, 0));

        List<CpuidEntry> guest = new TestVendor(HostFacts.of("", "")).guestCpuid(supported, 3, 4);

        assertThat(guest).containsExactly(supported.get(0), new CpuidEntry(1, 0, 0, 0, 3 << 24, 0, 0));
        assertThat(new TestVendor(HostFacts.of("", ""))).hasToString("TestVendor[test-v]");
    }
}
