package vmm.kvm.vendor;

import vmm.kvm.CpuidEntry;

/**
 * The normalization steps both vendors share, applied to a {@link CpuidTable}
 * built from {@code KVM_GET_SUPPORTED_CPUID}. Bit names follow the Intel SDM
 * vol. 2A and the AMD APM vol. 3 (CPUID specification).
 */
public final class GuestCpuid {
    public static final int LEAF_VENDOR = 0x0, LEAF_FEATURES = 0x1, LEAF_MONITOR = 0x5, LEAF_THERMAL_POWER = 0x6,
            LEAF_EXTENDED_FEATURES = 0x7, LEAF_EXTENDED_TOPOLOGY = 0xB, LEAF_EXTENDED_MAX = 0x80000000,
            LEAF_EXTENDED_PROCESSOR_INFO = 0x80000001;

    /** Leaf 1 ECX. */
    public static final int FEATURES_ECX_DTES64 = 1 << 2, FEATURES_ECX_MONITOR = 1 << 3, FEATURES_ECX_DS_CPL = 1 << 4,
            FEATURES_ECX_VMX = 1 << 5, FEATURES_ECX_SMX = 1 << 6, FEATURES_ECX_EIST = 1 << 7, FEATURES_ECX_TM2 = 1 << 8,
            FEATURES_ECX_SDBG = 1 << 11, FEATURES_ECX_XTPR = 1 << 14, FEATURES_ECX_PDCM = 1 << 15,
            FEATURES_ECX_DCA = 1 << 18, FEATURES_ECX_OSXSAVE = 1 << 27, FEATURES_ECX_HYPERVISOR = 1 << 31;
    /** Leaf 1 EDX. */
    public static final int FEATURES_EDX_PSN = 1 << 18, FEATURES_EDX_DS = 1 << 21, FEATURES_EDX_ACPI = 1 << 22,
            FEATURES_EDX_HTT = 1 << 28, FEATURES_EDX_TM = 1 << 29, FEATURES_EDX_PBE = 1 << 31;
    /** Leaf 6 EAX: the APIC timer keeps running in deep C-states. */
    public static final int THERMAL_POWER_EAX_ARAT = 1 << 2;

    /**
     * Leaf 1 ECX and EDX features no guest of this VMM gets on either vendor: the
     * host's thermal and power management, debug store, performance-monitoring
     * capabilities MSR, and MONITOR/MWAIT (a vCPU that MWAITs would hold a host CPU).
     * OSXSAVE mirrors the guest's CR4 and is KVM's to set.
     */
    public static final int HIDDEN_FEATURES_ECX = FEATURES_ECX_DTES64 | FEATURES_ECX_MONITOR | FEATURES_ECX_DS_CPL
            | FEATURES_ECX_SMX | FEATURES_ECX_EIST | FEATURES_ECX_TM2 | FEATURES_ECX_SDBG | FEATURES_ECX_XTPR
            | FEATURES_ECX_PDCM | FEATURES_ECX_DCA | FEATURES_ECX_OSXSAVE;
    public static final int HIDDEN_FEATURES_EDX = FEATURES_EDX_PSN | FEATURES_EDX_DS | FEATURES_EDX_ACPI
            | FEATURES_EDX_TM | FEATURES_EDX_PBE;

    private GuestCpuid() {}

    /**
     * Leaf 1 for vCPU {@code index}: its initial APIC ID in EBX[31:24],
     * {@code logicalPerPackage} in EBX[23:16] with HTT set when it exceeds 1, the
     * hypervisor bit set, and {@code hideEcx}/{@code hideEdx} cleared.
     */
    public static void features(CpuidTable t, CpuTopology topology, int index, int logicalPerPackage, int hideEcx, int hideEdx) {
        int apic = topology.apicId(index);
        t.update(LEAF_FEATURES, e -> {
            int ebx = CpuidTable.withBits(e.ebx(), 31, 24, apic);
            ebx = CpuidTable.withBits(ebx, 23, 16, Math.min(logicalPerPackage, 0xFF));
            int edx = e.edx() & ~hideEdx;
            edx = topology.vcpuCount() > 1 ? edx | FEATURES_EDX_HTT : edx & ~FEATURES_EDX_HTT;
            return new CpuidEntry(e.function(), e.index(), e.flags(), e.eax(), ebx,
                    (e.ecx() & ~hideEcx) | FEATURES_ECX_HYPERVISOR, edx);
        });
    }

    /** Leaf 5 (MONITOR/MWAIT parameters) zeroed, since MONITOR is hidden; leaf 6 keeps only ARAT. */
    public static void powerManagement(CpuidTable t) {
        t.update(LEAF_MONITOR, e -> new CpuidEntry(e.function(), e.index(), e.flags(), 0, 0, 0, 0));
        t.update(LEAF_THERMAL_POWER, e -> new CpuidEntry(e.function(), e.index(), e.flags(),
                e.eax() & THERMAL_POWER_EAX_ARAT, 0, 0, 0));
    }

    /**
     * Replaces an extended topology leaf ({@code 0xB}, or {@code 0x1F}) with the
     * {@link CpuTopology}'s, when the basic range reaches it.
     */
    public static void extendedTopology(CpuidTable t, int function, CpuTopology topology, int index) {
        if (Integer.compareUnsigned(maxBasicLeaf(t), function) < 0) return;
        t.remove(function);
        for (CpuidEntry e : topology.extendedTopologyLeaf(function, index)) t.put(e);
    }

    /** The basic range's highest leaf as leaf 0 EAX says, or -1 without leaf 0. */
    public static int maxBasicLeaf(CpuidTable t) {
        return t.get(LEAF_VENDOR, 0).map(CpuidEntry::eax).orElse(-1);
    }

    /** Clears {@code bits} in register {@code reg} ('a', 'b', 'c', 'd') of subleaf {@code index} of {@code function}, if present. */
    public static void hide(CpuidTable t, int function, int index, char reg, int bits) {
        t.get(function, index).ifPresent(e -> t.put(switch (reg) {
            case 'a' -> e.withEax(e.eax() & ~bits);
            case 'b' -> e.withEbx(e.ebx() & ~bits);
            case 'c' -> e.withEcx(e.ecx() & ~bits);
            case 'd' -> e.withEdx(e.edx() & ~bits);
            default -> throw new IllegalArgumentException("register " + reg);
        }));
    }

    /** Replaces every subleaf of {@code function} with zeros, keeping it listed (a guest that asks reads nothing). */
    public static void zero(CpuidTable t, int function) {
        t.update(function, e -> new CpuidEntry(e.function(), e.index(), e.flags(), 0, 0, 0, 0));
    }
}
