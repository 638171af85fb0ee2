package vmm.svm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static vmm.kvm.vendor.CpuidTable.bits;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import vmm.kvm.CpuidEntry;
import vmm.kvm.fixtures.Fixtures;
import vmm.kvm.vendor.CpuidTable;

/**
 * AMD CPUID normalization over recorded CPUID: a Ryzen (Zen 2) and this
 * machine's own KVM_GET_SUPPORTED_CPUID (kvm_pvm on EPYC).
 */
class SvmCpuidTest {
    static final String RYZEN = "amd-ryzen-matisse.cpuid", THIS_HOST = "this-host-kvm-pvm-epyc.cpuid";

    private final SvmVendor vendor = new SvmVendor(Fixtures.host("amd-epyc-7742"));

    private CpuidTable guest(String fixture, int index, int count) {
        return CpuidTable.of(vendor.guestCpuid(Fixtures.cpuid(fixture), index, count));
    }

    private static CpuidEntry leaf(CpuidTable t, int function, int index) {
        return t.get(function, index).orElseThrow(() -> new AssertionError(String.format("no leaf %x.%x", function, index)));
    }

    @ParameterizedTest
    @ValueSource(strings = {RYZEN, THIS_HOST})
    void theVendorStringAndMaximumLeavesArePreserved(String fixture) {
        CpuidTable in = CpuidTable.of(Fixtures.cpuid(fixture));
        CpuidTable out = guest(fixture, 0, 2);

        assertThat(out.vendorId()).isEqualTo("AuthenticAMD");
        assertThat(leaf(out, 0, 0)).isEqualTo(leaf(in, 0, 0));
        assertThat(leaf(out, 0x80000000, 0)).isEqualTo(leaf(in, 0x80000000, 0));
    }

    @ParameterizedTest
    @ValueSource(strings = {RYZEN, THIS_HOST})
    void everyVcpuSeesTheHypervisorBit(String fixture) {
        for (int i = 0; i < 4; i++) assertThat(leaf(guest(fixture, i, 4), 1, 0).ecx() >>> 31).isEqualTo(1);
    }

    @ParameterizedTest
    @CsvSource({RYZEN + ",1", RYZEN + ",2", RYZEN + ",4", THIS_HOST + ",1", THIS_HOST + ",2", THIS_HOST + ",4"})
    void apicIdsAreUniqueAndAgreeAcrossLeaves(String fixture, int count) {
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            CpuidTable t = guest(fixture, i, count);
            int legacy = bits(leaf(t, 1, 0).ebx(), 31, 24);
            assertThat(leaf(t, 0x8000001E, 0).eax()).as("0x8000001E extended APIC ID").isEqualTo(legacy);
            assertThat(bits(leaf(t, 0x8000001E, 0).ebx(), 7, 0)).as("core ID").isEqualTo(legacy);
            t.get(0xB, 0).ifPresent(b -> assertThat(b.edx()).as("leaf 0xB x2APIC ID").isEqualTo(legacy));
            ids.add(legacy);
        }
        assertThat(ids).doesNotHaveDuplicates().hasSize(count).allMatch(id -> id < count);
    }

    @ParameterizedTest
    @CsvSource({RYZEN + ",1,0", RYZEN + ",2,1", RYZEN + ",4,2", THIS_HOST + ",1,0", THIS_HOST + ",2,1", THIS_HOST + ",4,2"})
    void coreCountsDescribeOneThreadPerVcpu(String fixture, int count, int apicIdBits) {
        CpuidTable t = guest(fixture, 0, count);

        assertThat(bits(leaf(t, 0x80000008, 0).ecx(), 7, 0) + 1).as("0x80000008 NC + 1").isEqualTo(count);
        assertThat(bits(leaf(t, 0x80000008, 0).ecx(), 15, 12)).as("ApicIdSize").isEqualTo(apicIdBits);
        assertThat(bits(leaf(t, 1, 0).ebx(), 23, 16)).as("leaf 1 logical processor count").isEqualTo(count);
        assertThat(bits(leaf(t, 1, 0).edx(), 28, 28)).as("HTT").isEqualTo(count > 1 ? 1 : 0);
        assertThat(bits(leaf(t, 0x80000001, 0).ecx(), 1, 1)).as("CmpLegacy").isEqualTo(count > 1 ? 1 : 0);
        assertThat(bits(leaf(t, 0x8000001E, 0).ebx(), 15, 8)).as("threads per core - 1").isZero();
    }

    @ParameterizedTest
    @CsvSource({RYZEN + ",4", THIS_HOST + ",4", THIS_HOST + ",1"})
    void theL3IsSharedByEveryVcpuAndL1AndL2AreEachVcpusOwn(String fixture, int count) {
        CpuidTable t = guest(fixture, 0, count);
        int caches = 0;
        for (int sub = 0; sub < 8; sub++) {
            CpuidEntry c = t.get(0x8000001D, sub).orElse(null);
            if (c == null || bits(c.eax(), 4, 0) == 0) break;
            int level = bits(c.eax(), 7, 5), sharing = bits(c.eax(), 25, 14) + 1;
            assertThat(sharing).as("L%d sharing", level).isEqualTo(level == 3 ? count : 1);
            caches++;
        }
        assertThat(caches).isEqualTo(4); // L1d, L1i, L2, L3
    }

    @Test
    void svmMonitorAndHostMonitoringFeaturesAreHidden() {
        CpuidTable in = CpuidTable.of(Fixtures.cpuid(RYZEN));
        assertThat(leaf(in, 0x80000001, 0).ecx() & SvmVendor.EXT_ECX_SVM).as("the fixture has SVM").isNotZero();
        assertThat(leaf(in, 1, 0).ecx() & 1 << 3).as("the fixture has MONITOR").isNotZero();

        CpuidTable out = guest(RYZEN, 0, 2);

        assertThat(leaf(out, 0x80000001, 0).ecx() & (SvmVendor.EXT_ECX_SVM | SvmVendor.EXT_ECX_MONITORX | SvmVendor.EXT_ECX_IBS)).isZero();
        assertThat(leaf(out, 1, 0).ecx() & 1 << 3).as("MONITOR").isZero();
        assertThat(leaf(out, 0x8000000A, 0)).as("SVM features leaf").extracting(CpuidEntry::eax, CpuidEntry::ebx, CpuidEntry::edx)
                .containsExactly(0, 0, 0);
        assertThat(leaf(out, 5, 0).eax()).as("MONITOR leaf").isZero();
        assertThat(leaf(out, 7, 0).ebx() & (1 << 12 | 1 << 15)).as("PQM, PQE").isZero();
        assertThat(out.has(0xF)).isFalse();
        assertThat(out.has(0x10)).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {RYZEN, THIS_HOST})
    void noFeatureAppearsThatTheInputLacksExceptTheHypervisorAndTopologyBits(String fixture) {
        CpuidTable in = CpuidTable.of(Fixtures.cpuid(fixture));
        CpuidTable out = guest(fixture, 1, 4);
        int[][] featureRegisters = {{1, 0}, {7, 0}, {0x80000001, 0}, {0xD, 1}};
        int[] allowedNew = {1 << 31 /* leaf 1 ECX hypervisor */, 1 << 28 /* leaf 1 EDX HTT */, 1 << 1 /* CmpLegacy */};
        for (int[] r : featureRegisters) {
            CpuidEntry a = leaf(in, r[0], r[1]), b = leaf(out, r[0], r[1]);
            int newEcx = b.ecx() & ~a.ecx(), newEdx = b.edx() & ~a.edx(), newEbx = r[0] == 1 ? 0 : b.ebx() & ~a.ebx();
            if (r[0] == 1) { newEcx &= ~allowedNew[0]; newEdx &= ~allowedNew[1]; }
            if (r[0] == 0x80000001) newEcx &= ~allowedNew[2];
            assertThat(new int[] {newEbx, newEcx, newEdx}).as("new bits in leaf %x.%x", r[0], r[1]).containsOnly(0);
        }
    }

    @Test
    void leavesWithoutVendorMeaningPassThroughUnchanged() {
        CpuidTable in = CpuidTable.of(Fixtures.cpuid(RYZEN));
        CpuidTable out = guest(RYZEN, 3, 4);
        for (int f : new int[] {0x80000002, 0x80000003, 0x80000004, 0x80000005, 0x80000006}) // brand string, L1/L2 TLBs
            assertThat(leaf(out, f, 0)).isEqualTo(leaf(in, f, 0));
        assertThat(leaf(out, 0xD, 0)).isEqualTo(leaf(in, 0xD, 0));
    }

    @Test
    void moreVcpusThanEightBitApicIdsCanNameAreRefused() {
        assertThatThrownBy(() -> vendor.guestCpuid(Fixtures.cpuid(THIS_HOST), 0, 256))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("255");
    }

    @Test
    void theVendorServesAmdAndHygonHostsOnly() {
        assertThat(vendor.supportsHost("AuthenticAMD")).isTrue();
        assertThat(vendor.supportsHost("HygonGenuine")).isTrue();
        assertThat(vendor.supportsHost("GenuineIntel")).isFalse();
    }
}
