package vmm.kvm;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A {@link KvmVendor} that serves any host and does only what every x86 guest
 * needs: each vCPU's APIC ID in CPUID, and the architectural MSRs. The AMD-V
 * and VT-x back ends replace it; tests and hosts without one use it.
 */
public final class GenericVendor implements KvmVendor {
    static final int LEAF_FEATURES = 0x1, LEAF_TOPOLOGY = 0xB, LEAF_TOPOLOGY_V2 = 0x1F;

    /** IA32_TSC, IA32_SYSENTER_CS/ESP/EIP, IA32_PAT, STAR, LSTAR, CSTAR, SFMASK, KERNEL_GS_BASE. */
    private static final List<Integer> ARCHITECTURAL_MSRS = List.of(
            0x10, 0x174, 0x175, 0x176, 0x277, 0xC0000081, 0xC0000082, 0xC0000083, 0xC0000084, 0xC0000102);

    @Override
    public String name() {
        return "generic";
    }

    @Override
    public boolean supportsHost(String cpuVendorId) {
        return true;
    }

    @Override
    public List<CpuidEntry> guestCpuid(List<CpuidEntry> supported, int vcpuIndex, int vcpuCount) {
        List<CpuidEntry> out = new ArrayList<>(supported.size());
        for (CpuidEntry e : supported) {
            switch (e.function()) {
                // Leaf 1 EBX[31:24]: initial APIC ID, which the in-kernel LAPIC also uses.
                case LEAF_FEATURES -> out.add(e.withEbx((e.ebx() & 0x00FFFFFF) | (vcpuIndex & 0xFF) << 24));
                // Leaves 0xB and 0x1F EDX: the x2APIC ID of the current logical processor.
                case LEAF_TOPOLOGY, LEAF_TOPOLOGY_V2 -> out.add(e.withEdx(vcpuIndex));
                default -> out.add(e);
            }
        }
        return out;
    }

    @Override
    public List<Integer> msrsToSave() {
        return ARCHITECTURAL_MSRS;
    }

    @Override
    public Map<String, String> capabilities(KvmProbe probe) {
        return Map.of();
    }

    @Override
    public String explainEntryFailure(long hardwareEntryFailureReason) {
        return "no vendor back end to decode it";
    }
}
