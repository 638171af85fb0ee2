package vmm.kvm.vendor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import vmm.kvm.CpuidEntry;

/** The guest topology: one package, a core per vCPU, APIC ID = vCPU index. */
class CpuTopologyTest {

    @ParameterizedTest
    @CsvSource({"1,0", "2,1", "3,2", "4,2", "5,3", "8,3", "9,4", "255,8"})
    void coreIdBitsAreEnoughToNumberEveryVcpu(int count, int bits) {
        assertThat(new CpuTopology(count).coreIdBits()).isEqualTo(bits);
    }

    @Test
    void theExtendedTopologyLeafListsSmtCoreAndTheEndWithTheX2apicId() {
        var leaf = new CpuTopology(4).extendedTopologyLeaf(0xB, 3);

        assertThat(leaf).containsExactly(
                new CpuidEntry(0xB, 0, 1, 0, 1, 0x100, 3),
                new CpuidEntry(0xB, 1, 1, 2, 4, 0x201, 3),
                new CpuidEntry(0xB, 2, 1, 0, 0, 0x002, 3));
    }

    @Test
    void countsAndIndicesOutsideTheRangeAreRefused() {
        assertThatThrownBy(() -> new CpuTopology(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new CpuTopology(256)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new CpuTopology(2).apicId(2)).isInstanceOf(IllegalArgumentException.class);
    }
}
