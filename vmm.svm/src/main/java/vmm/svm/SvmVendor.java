package vmm.svm;

import static vmm.kvm.vendor.GuestCpuid.*;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import vmm.kvm.CpuidEntry;
import vmm.kvm.vendor.AbstractKvmVendor;
import vmm.kvm.vendor.CommonMsrs;
import vmm.kvm.vendor.CpuTopology;
import vmm.kvm.vendor.CpuidTable;
import vmm.kvm.vendor.GuestCpuid;
import vmm.kvm.vendor.HostFacts;

/**
 * The AMD-V part of the KVM back end. CPUID follows the AMD APM vol. 3
 * appendix E: the guest sees one package of {@code vcpuCount} single-threaded
 * cores sharing the L3, described through leaf 1, 0x80000008 (core count and
 * APIC ID size), 0x8000001D (cache sharing) and 0x8000001E (extended APIC ID,
 * core ID); SVM itself and host-only monitoring features are hidden. Thread-safe.
 */
public final class SvmVendor extends AbstractKvmVendor {
    public static final String VENDOR_ID = "AuthenticAMD";

    static final int LEAF_ADDRESS_SIZES = 0x80000008, LEAF_SVM_FEATURES = 0x8000000A,
            LEAF_CACHE_PROPERTIES = 0x8000001D, LEAF_EXTENDED_APIC_ID = 0x8000001E, LEAF_EXTENDED_TOPOLOGY_AMD = 0x80000026;

    /** Leaf 0x80000001 ECX (APM vol. 3, E.4.2). */
    static final int EXT_ECX_CMP_LEGACY = 1 << 1, EXT_ECX_SVM = 1 << 2, EXT_ECX_IBS = 1 << 10, EXT_ECX_SKINIT = 1 << 12,
            EXT_ECX_WDT = 1 << 13, EXT_ECX_LWP = 1 << 15, EXT_ECX_NODEID = 1 << 19, EXT_ECX_TOPOLOGY_EXTENSIONS = 1 << 22,
            EXT_ECX_PERF_CTR_EXT_NB = 1 << 24, EXT_ECX_PERF_CTR_EXT_LLC = 1 << 28, EXT_ECX_MONITORX = 1 << 29;
    /**
     * Not for guests: SVM (this VMM saves no nested state), instruction-based sampling,
     * SKINIT, the watchdog timer, lightweight profiling, the northbridge and LLC
     * counters, and MONITORX (for the same reason as MONITOR).
     */
    static final int HIDDEN_EXT_ECX = EXT_ECX_SVM | EXT_ECX_IBS | EXT_ECX_SKINIT | EXT_ECX_WDT | EXT_ECX_LWP
            | EXT_ECX_NODEID | EXT_ECX_PERF_CTR_EXT_NB | EXT_ECX_PERF_CTR_EXT_LLC | EXT_ECX_MONITORX;
    /** Leaf 7.0 EBX: platform QoS monitoring (12) and enforcement (15), which belong to the host. */
    static final int HIDDEN_LEAF7_EBX = 1 << 12 | 1 << 15;

    /**
     * AMD's own: HWCR (0xC0010015), VIRT_SPEC_CTRL (0xC001011F), the legacy performance
     * event selects and counters (0xC0010000..7), the core performance counters of
     * family 15h and later (0xC0010200..0xC001020B), PerfMonV2 global status, control and
     * status clear (0xC0000300..2).
     */
    static final List<Integer> AMD_MSRS = Stream.of(List.of(0xC0010015, 0xC001011F),
            CommonMsrs.range(0xC0010000, 8), CommonMsrs.range(0xC0010200, 12), CommonMsrs.range(0xC0000300, 3))
            .flatMap(List::stream).toList();

    private static final List<Integer> ALL_MSRS = Stream.of(CommonMsrs.ARCHITECTURAL, CommonMsrs.SYSCALL,
            CommonMsrs.KVM_PARAVIRT, AMD_MSRS)
            .flatMap(List::stream).toList();

    /** The back end for this host, reading its facts from {@code /proc} and {@code /sys}. */
    public SvmVendor() {
        this(HostFacts.ofThisHost());
    }

    /** The back end reading host facts from {@code host} (tests give recorded ones). */
    public SvmVendor(HostFacts host) {
        super("amd-v", "kvm_amd", ALL_MSRS, host);
    }

    @Override
    public boolean supportsHost(String cpuVendorId) {
        // Hygon's Dhyana is a licensed Zen: the same SVM and the same CPUID topology leaves.
        return VENDOR_ID.equals(cpuVendorId) || "HygonGenuine".equals(cpuVendorId);
    }

    @Override
    protected void normalize(CpuidTable t, CpuTopology topology, int vcpuIndex) {
        int vcpuCount = topology.vcpuCount();
        GuestCpuid.features(t, topology, vcpuIndex, vcpuCount, HIDDEN_FEATURES_ECX, HIDDEN_FEATURES_EDX);
        GuestCpuid.powerManagement(t);
        GuestCpuid.hide(t, LEAF_EXTENDED_FEATURES, 0, 'b', HIDDEN_LEAF7_EBX);
        t.remove(0xF).remove(0x10); // host resource monitoring and allocation
        GuestCpuid.extendedTopology(t, LEAF_EXTENDED_TOPOLOGY, topology, vcpuIndex);
        int cmpLegacy = vcpuCount > 1 ? EXT_ECX_CMP_LEGACY : 0;
        t.update(LEAF_EXTENDED_PROCESSOR_INFO,
                e -> e.withEcx((e.ecx() & ~HIDDEN_EXT_ECX & ~EXT_ECX_CMP_LEGACY) | cmpLegacy));
        GuestCpuid.zero(t, LEAF_SVM_FEATURES);
        // ECX[7:0] NC: cores - 1; ECX[15:12] ApicIdSize: APIC ID bits that number the cores.
        t.update(LEAF_ADDRESS_SIZES, e -> e.withEcx(CpuidTable.withBits(
                CpuidTable.withBits(e.ecx(), 7, 0, vcpuCount - 1), 15, 12, topology.coreIdBits())));
        t.update(LEAF_CACHE_PROPERTIES, e -> cacheSharing(e, vcpuCount));
        int apic = topology.apicId(vcpuIndex);
        // EBX[15:8] threads per core - 1 = 0, EBX[7:0] core ID; ECX: node 0 of 1.
        t.update(LEAF_EXTENDED_APIC_ID, e -> new CpuidEntry(e.function(), e.index(), e.flags(), apic, apic & 0xFF, 0, 0));
        t.remove(LEAF_EXTENDED_TOPOLOGY_AMD); // Zen 4's 0x80000026 would describe the host's CCX layout
    }

    /** 0x8000001D EAX[25:14] NumSharingCache - 1: private L1 and L2, an L3 shared by every vCPU. */
    private static CpuidEntry cacheSharing(CpuidEntry e, int vcpuCount) {
        int type = CpuidTable.bits(e.eax(), 4, 0), level = CpuidTable.bits(e.eax(), 7, 5);
        if (type == 0) return e; // the subleaf that ends the list
        return e.withEax(CpuidTable.withBits(e.eax(), 25, 14, level >= 3 ? vcpuCount - 1 : 0));
    }

    /**
     * {@code svm}, {@code npt} (nested paging, RVI), {@code asid}, {@code asid-flush}
     * (flush by ASID), {@code avic}, {@code x2avic} and {@code nested}: each a CPU flag of
     * the host that {@code kvm_amd}'s parameter of the same name must also enable.
     */
    @Override
    protected void hardwareFeatures(Set<String> flags, Map<String, String> f) {
        boolean svm = flags.contains("svm");
        f.put("svm", yesNo(svm));
        f.put("npt", yesNo(flags.contains("npt") && enabled("npt")));
        // Every SVM CPU tags TLB entries with ASIDs; FlushByAsid lets KVM flush one guest's alone.
        f.put("asid", yesNo(svm));
        f.put("asid-flush", yesNo(flags.contains("flushbyasid")));
        boolean avic = flags.contains("avic") && enabled("avic");
        f.put("avic", yesNo(avic));
        f.put("x2avic", yesNo(avic && flags.contains("x2avic")));
        f.put("nested", yesNo(enabled("nested")));
    }

    @Override
    public String explainEntryFailure(long hardwareEntryFailureReason) {
        return SvmExitCodes.describe(hardwareEntryFailureReason);
    }
}
