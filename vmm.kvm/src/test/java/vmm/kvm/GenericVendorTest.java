package vmm.kvm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

/** The generic vendor part gives each vCPU its own APIC ID and leaves other leaves alone. */
class GenericVendorTest {
    private final GenericVendor vendor = new GenericVendor();

    @Test
    void eachVcpuSeesItsOwnApicIdInLeafOneAndTheTopologyLeaves() {
        List<CpuidEntry> supported = List.of(
                new CpuidEntry(0x1, 0, 0, 0x00A00F11, 0x00000800, 0x80000000, 0x0781ABFD),
                new CpuidEntry(0xB, 1, CpuidEntry.FLAG_SIGNIFICANT_INDEX, 1, 2, 0x201, 0),
                new CpuidEntry(0x0, 0, 0, 0x10, 0x68747541, 0x444D4163, 0x69746E65));

        List<CpuidEntry> cpu3 = vendor.guestCpuid(supported, 3, 4);

        assertThat(cpu3.get(0).ebx()).isEqualTo(0x03000800);
        assertThat(cpu3.get(0).ecx()).isEqualTo(0x80000000);
        assertThat(cpu3.get(1).edx()).isEqualTo(3);
        assertThat(cpu3.get(2)).isEqualTo(supported.get(2));
    }

    @Test
    void theMsrListHasTheArchitecturalSyscallAndSysenterMsrs() {
        assertThat(vendor.msrsToSave()).contains(0x174, 0xC0000082, 0xC0000102);
    }
}
