package vmm.kvm.vendor;

import java.util.List;

import vmm.kvm.CpuidEntry;

/**
 * The CPU topology a guest with {@code vcpuCount} vCPUs sees: one package, one
 * die, one thread per core, one core per vCPU. vCPU {@code i} has APIC ID
 * {@code i}, which is also the ID KVM's in-kernel LAPIC gives it.
 *
 * @param vcpuCount 1 to {@link #MAX_VCPUS}
 */
public record CpuTopology(int vcpuCount) {
    /** Leaf 1 EBX[31:24] holds an 8-bit initial APIC ID; more vCPUs need x2APIC IDs this VMM does not hand out. */
    public static final int MAX_VCPUS = 255;

    /** Leaf 0xB/0x1F ECX[15:8] level types (Intel SDM vol. 2A, CPUID leaf 0BH). */
    public static final int LEVEL_TYPE_INVALID = 0, LEVEL_TYPE_SMT = 1, LEVEL_TYPE_CORE = 2;

    public CpuTopology {
        if (vcpuCount < 1 || vcpuCount > MAX_VCPUS)
            throw new IllegalArgumentException("vCPU count must be 1.." + MAX_VCPUS + ", was " + vcpuCount);
    }

    /** Bits of the APIC ID that number the cores of the package: ceil(log2(vcpuCount)). */
    public int coreIdBits() {
        return vcpuCount == 1 ? 0 : 32 - Integer.numberOfLeadingZeros(vcpuCount - 1);
    }

    /** The APIC ID of vCPU {@code index}. */
    public int apicId(int index) {
        if (index < 0 || index >= vcpuCount)
            throw new IllegalArgumentException("vCPU index " + index + " outside 0.." + (vcpuCount - 1));
        return index;
    }

    /**
     * The subleaves of an extended topology leaf (0xB, or 0x1F which has the same
     * layout) for vCPU {@code index}: SMT level (1 thread per core), core level
     * (all vCPUs), then the invalid level that ends the enumeration. EDX of each
     * is the vCPU's x2APIC ID.
     */
    public List<CpuidEntry> extendedTopologyLeaf(int function, int index) {
        int apic = apicId(index);
        int sig = CpuidEntry.FLAG_SIGNIFICANT_INDEX;
        return List.of(
                new CpuidEntry(function, 0, sig, 0, 1, LEVEL_TYPE_SMT << 8, apic),
                new CpuidEntry(function, 1, sig, coreIdBits(), vcpuCount, LEVEL_TYPE_CORE << 8 | 1, apic),
                new CpuidEntry(function, 2, sig, 0, 0, LEVEL_TYPE_INVALID << 8 | 2, apic));
    }
}
