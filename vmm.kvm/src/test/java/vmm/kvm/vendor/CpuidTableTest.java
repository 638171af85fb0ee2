package vmm.kvm.vendor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

import vmm.kvm.CpuidEntry;

/** The working CPUID table and its bit helpers. */
class CpuidTableTest {
    private static final CpuidEntry LEAF0_AMD = new CpuidEntry(0, 0, 0, 0xD, 0x68747541, 0x444D4163, 0x69746E65);

    @Test
    void leafZeroSpellsTheVendorInEbxEdxEcx() {
        assertThat(CpuidTable.of(List.of(LEAF0_AMD)).vendorId()).isEqualTo("AuthenticAMD");
        assertThat(CpuidTable.of(List.of()).vendorId()).isEqualTo("unknown");
    }

    @Test
    void updateTouchesEverySubleafOfItsLeafAndKeepsTheOrder() {
        CpuidTable t = CpuidTable.of(List.of(LEAF0_AMD, new CpuidEntry(4, 0, 1, 1, 0, 0, 0), new CpuidEntry(4, 1, 1, 2, 0, 0, 0),
                new CpuidEntry(7, 0, 1, 0, 0, 0, 0)));

        t.update(4, e -> e.withEdx(9)).remove(7);

        assertThat(t.entries()).extracting(CpuidEntry::function, CpuidEntry::index, CpuidEntry::edx)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(0, 0, 0x69746E65), org.assertj.core.groups.Tuple.tuple(4, 0, 9),
                        org.assertj.core.groups.Tuple.tuple(4, 1, 9));
    }

    @Test
    void bitFieldsAreReadAndReplacedInPlace() {
        assertThat(CpuidTable.bits(0xFF00_0000, 31, 24)).isEqualTo(0xFF);
        assertThat(CpuidTable.withBits(0x1234_5678, 31, 24, 0xAB)).isEqualTo(0xAB34_5678);
        assertThat(CpuidTable.withBits(0x0000_0000, 25, 14, 0xFFFF)).isEqualTo(0x03FF_C000); // wider values are cut to the field
    }
}
