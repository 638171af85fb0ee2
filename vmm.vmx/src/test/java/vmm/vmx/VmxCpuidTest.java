package vmm.vmx;

import static org.assertj.core.api.Assertions.assertThat;
import static vmm.kvm.vendor.CpuidTable.bits;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import vmm.kvm.CpuidEntry;
import vmm.kvm.fixtures.Fixtures;
import vmm.kvm.vendor.CpuidTable;

/** Intel CPUID normalization over the recorded CPUID of a Xeon Gold 6252 (Cascade Lake). */
class VmxCpuidTest {
    static final String XEON = "intel-xeon-gold-6252.cpuid";

    private final VmxVendor vendor = new VmxVendor(Fixtures.host("intel-xeon-gold-6252"));
    private final CpuidTable in = CpuidTable.of(Fixtures.cpuid(XEON));

    private CpuidTable guest(int index, int count) {
        return CpuidTable.of(vendor.guestCpuid(Fixtures.cpuid(XEON), index, count));
    }

    private static CpuidEntry leaf(CpuidTable t, int function, int index) {
        return t.get(function, index).orElseThrow(() -> new AssertionError(String.format("no leaf %x.%x", function, index)));
    }

    @Test
    void theVendorStringAndMaximumLeavesArePreserved() {
        CpuidTable out = guest(0, 2);

        assertThat(out.vendorId()).isEqualTo("GenuineIntel");
        assertThat(leaf(out, 0, 0)).isEqualTo(leaf(in, 0, 0));
        assertThat(leaf(out, 0x80000000, 0)).isEqualTo(leaf(in, 0x80000000, 0));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4})
    void everyVcpuSeesTheHypervisorBit(int count) {
        for (int i = 0; i < count; i++) assertThat(leaf(guest(i, count), 1, 0).ecx() >>> 31).isEqualTo(1);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4})
    void apicIdsAreUniqueAndAgreeBetweenLeafOneAndLeafB(int count) {
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            CpuidTable t = guest(i, count);
            int legacy = bits(leaf(t, 1, 0).ebx(), 31, 24);
            for (int sub = 0; sub < 3; sub++) assertThat(leaf(t, 0xB, sub).edx()).as("0xB.%d x2APIC ID", sub).isEqualTo(legacy);
            ids.add(legacy);
        }
        assertThat(ids).doesNotHaveDuplicates().hasSize(count).allMatch(id -> id < count);
    }

    @ParameterizedTest
    @CsvSource({"1,0", "2,1", "4,2", "3,2"})
    void leafBDescribesOneThreadPerCoreAndOneCorePerVcpu(int count, int coreBits) {
        CpuidTable t = guest(0, count);

        CpuidEntry smt = leaf(t, 0xB, 0), core = leaf(t, 0xB, 1), end = leaf(t, 0xB, 2);
        assertThat(bits(smt.ecx(), 15, 8)).as("level 0 type SMT").isEqualTo(1);
        assertThat(smt.ebx()).as("threads per core").isEqualTo(1);
        assertThat(bits(smt.eax(), 4, 0)).as("SMT shift").isZero();
        assertThat(bits(core.ecx(), 15, 8)).as("level 1 type core").isEqualTo(2);
        assertThat(core.ebx()).as("logical processors in the package").isEqualTo(count);
        assertThat(bits(core.eax(), 4, 0)).as("core shift").isEqualTo(coreBits);
        assertThat(bits(end.ecx(), 15, 8)).as("level 2 ends the list").isZero();
        assertThat(bits(leaf(t, 1, 0).ebx(), 23, 16)).as("leaf 1 addressable IDs").isEqualTo(1 << coreBits);
        assertThat(bits(leaf(t, 1, 0).edx(), 28, 28)).as("HTT").isEqualTo(count > 1 ? 1 : 0);
    }

    @ParameterizedTest
    @CsvSource({"1,1", "2,2", "4,4", "3,4"})
    void leafFourSharesTheL3AcrossThePackageAndKeepsL1AndL2PerCore(int count, int addressable) {
        CpuidTable t = guest(0, count);
        int caches = 0;
        for (int sub = 0; sub < 8; sub++) {
            CpuidEntry c = t.get(4, sub).orElse(null);
            if (c == null || bits(c.eax(), 4, 0) == 0) break;
            int level = bits(c.eax(), 7, 5);
            assertThat(bits(c.eax(), 31, 26) + 1).as("addressable core IDs").isEqualTo(addressable);
            assertThat(bits(c.eax(), 25, 14) + 1).as("L%d sharing", level).isEqualTo(level == 3 ? addressable : 1);
            assertThat(c.ebx()).as("cache geometry unchanged").isEqualTo(leaf(in, 4, sub).ebx());
            caches++;
        }
        assertThat(caches).isEqualTo(4);
    }

    @Test
    void vmxMonitorSgxProcessorTraceAndThermalFeaturesAreHidden() {
        assertThat(leaf(in, 1, 0).ecx() & (1 << 5 | 1 << 3)).as("the fixture has VMX and MONITOR").isEqualTo(1 << 5 | 1 << 3);
        assertThat(leaf(in, 7, 0).ebx() & 1 << 25).as("the fixture has processor trace").isNotZero();

        CpuidTable out = guest(0, 2);

        assertThat(leaf(out, 1, 0).ecx() & (1 << 5 | 1 << 3 | 1 << 6 | 1 << 7 | 1 << 15)).as("VMX MONITOR SMX EIST PDCM").isZero();
        assertThat(leaf(out, 1, 0).edx() & (1 << 21 | 1 << 22 | 1 << 29 | 1 << 31)).as("DS ACPI TM PBE").isZero();
        assertThat(leaf(out, 7, 0).ebx() & VmxVendor.HIDDEN_LEAF7_EBX).isZero();
        assertThat(out.has(0x14)).as("processor trace leaf").isFalse();
        assertThat(out.has(0xF) || out.has(0x10)).as("RDT leaves").isFalse();
        assertThat(leaf(out, 6, 0)).as("thermal leaf keeps only ARAT")
                .extracting(CpuidEntry::eax, CpuidEntry::ebx, CpuidEntry::ecx).containsExactly(4, 0, 0);
    }

    @Test
    void noFeatureAppearsThatTheInputLacksExceptTheHypervisorAndHttBits() {
        CpuidTable out = guest(1, 4);
        for (int[] r : new int[][] {{1, 0}, {7, 0}, {0x80000001, 0}, {0xD, 1}}) {
            CpuidEntry a = leaf(in, r[0], r[1]), b = leaf(out, r[0], r[1]);
            int newEbx = r[0] == 1 ? 0 : b.ebx() & ~a.ebx();
            int newEcx = b.ecx() & ~a.ecx() & (r[0] == 1 ? ~(1 << 31) : -1);
            int newEdx = b.edx() & ~a.edx() & (r[0] == 1 ? ~(1 << 28) : -1);
            assertThat(new int[] {newEbx, newEcx, newEdx}).as("new bits in leaf %x.%x", r[0], r[1]).containsOnly(0);
        }
    }

    @Test
    void aHostWithLeaf1FGetsTheSameTopologyThere() {
        List<CpuidEntry> withV2 = new ArrayList<>(Fixtures.cpuid(XEON));
        withV2.add(new CpuidEntry(0x1F, 0, 1, 1, 2, 0x100, 0xC7));
        withV2.replaceAll(e -> e.function() == 0 ? e.withEax(0x1F) : e);

        CpuidTable t = CpuidTable.of(vendor.guestCpuid(withV2, 2, 4));

        for (int sub = 0; sub < 3; sub++) assertThat(leaf(t, 0x1F, sub).edx()).as("x2APIC ID").isEqualTo(2);
        assertThat(leaf(t, 0x1F, 1).ebx()).isEqualTo(4);
        assertThat(leaf(t, 0x1F, 1).eax()).isEqualTo(leaf(t, 0xB, 1).eax());
    }

    @Test
    void theVendorServesIntelHostsOnly() {
        assertThat(vendor.supportsHost("GenuineIntel")).isTrue();
        assertThat(vendor.supportsHost("AuthenticAMD")).isFalse();
    }
}
