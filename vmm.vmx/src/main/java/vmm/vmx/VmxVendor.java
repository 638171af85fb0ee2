package vmm.vmx;

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
 * The Intel VT-x part of the KVM back end. CPUID follows the Intel SDM vol. 2A:
 * the guest sees one package of {@code vcpuCount} single-threaded cores sharing
 * the last-level cache, described through leaf 1, leaf 4 (deterministic cache
 * parameters), leaf 0xB and, where the host has it, leaf 0x1F; VMX itself and
 * host-only features (SGX, processor trace, resource director) are hidden.
 * Thread-safe.
 */
public final class VmxVendor extends AbstractKvmVendor {
    public static final String VENDOR_ID = "GenuineIntel";

    static final int LEAF_CACHE_PARAMETERS = 0x4, LEAF_RDT_MONITORING = 0xF, LEAF_RDT_ALLOCATION = 0x10,
            LEAF_SGX = 0x12, LEAF_PROCESSOR_TRACE = 0x14, LEAF_HYBRID = 0x1A, LEAF_V2_EXTENDED_TOPOLOGY = 0x1F;
    /** AMD-defined leaves KVM may list on any host; they mean nothing on an Intel CPU model. */
    static final int LEAF_AMD_CACHE_PROPERTIES = 0x8000001D, LEAF_AMD_EXTENDED_APIC_ID = 0x8000001E;

    /** Leaf 7.0 EBX: SGX (2), RDT monitoring (12) and allocation (15), processor trace (25). */
    static final int HIDDEN_LEAF7_EBX = 1 << 2 | 1 << 12 | 1 << 15 | 1 << 25;
    /** Leaf 7.0 ECX: SGX launch configuration (30). */
    static final int HIDDEN_LEAF7_ECX = 1 << 30;
    /** Leaf 7.0 EDX: hybrid part (15; the guest's cores are all alike), PCONFIG (18). */
    static final int HIDDEN_LEAF7_EDX = 1 << 15 | 1 << 18;

    /**
     * Intel's own: IA32_FEATURE_CONTROL, IA32_MISC_FEATURES_ENABLES, IA32_BNDCFGS,
     * IA32_UMWAIT_CONTROL, IA32_XFD and IA32_XFD_ERR; then the architectural performance
     * monitoring counters (IA32_PMC0..7, IA32_PERFEVTSEL0..7, IA32_FIXED_CTR0..2,
     * IA32_FIXED_CTR_CTRL, IA32_PERF_GLOBAL_STATUS) and IA32_PERF_GLOBAL_CTRL last, so
     * counting resumes only once every counter holds its value.
     */
    static final List<Integer> INTEL_MSRS = Stream.of(List.of(0x3A, 0x140, 0xD90, 0xE1, 0x1C4, 0x1C5),
            CommonMsrs.range(0xC1, 8), CommonMsrs.range(0x186, 8), CommonMsrs.range(0x309, 3),
            List.of(0x38D, 0x38E, 0x38F)).flatMap(List::stream).toList();

    private static final List<Integer> ALL_MSRS = Stream.of(CommonMsrs.ARCHITECTURAL, CommonMsrs.SYSCALL,
            CommonMsrs.KVM_PARAVIRT, INTEL_MSRS).flatMap(List::stream).toList();

    /** The back end for this host, reading its facts from {@code /proc} and {@code /sys}. */
    public VmxVendor() {
        this(HostFacts.ofThisHost());
    }

    /** The back end reading host facts from {@code host} (tests give recorded ones). */
    public VmxVendor(HostFacts host) {
        super("vt-x", "kvm_intel", ALL_MSRS, host);
    }

    @Override
    public boolean supportsHost(String cpuVendorId) {
        return VENDOR_ID.equals(cpuVendorId);
    }

    @Override
    protected void normalize(CpuidTable t, CpuTopology topology, int vcpuIndex) {
        int addressableIds = 1 << topology.coreIdBits();
        // Leaf 1 EBX[23:16] is the number of addressable IDs, a power of two on Intel.
        GuestCpuid.features(t, topology, vcpuIndex, addressableIds, HIDDEN_FEATURES_ECX | FEATURES_ECX_VMX, HIDDEN_FEATURES_EDX);
        GuestCpuid.powerManagement(t);
        GuestCpuid.hide(t, LEAF_EXTENDED_FEATURES, 0, 'b', HIDDEN_LEAF7_EBX);
        GuestCpuid.hide(t, LEAF_EXTENDED_FEATURES, 0, 'c', HIDDEN_LEAF7_ECX);
        GuestCpuid.hide(t, LEAF_EXTENDED_FEATURES, 0, 'd', HIDDEN_LEAF7_EDX);
        t.remove(LEAF_RDT_MONITORING).remove(LEAF_RDT_ALLOCATION).remove(LEAF_SGX).remove(LEAF_PROCESSOR_TRACE)
                .remove(LEAF_HYBRID).remove(LEAF_AMD_CACHE_PROPERTIES).remove(LEAF_AMD_EXTENDED_APIC_ID);
        t.update(LEAF_CACHE_PARAMETERS, e -> cacheParameters(e, addressableIds));
        GuestCpuid.extendedTopology(t, LEAF_EXTENDED_TOPOLOGY, topology, vcpuIndex);
        if (t.has(LEAF_V2_EXTENDED_TOPOLOGY)) GuestCpuid.extendedTopology(t, LEAF_V2_EXTENDED_TOPOLOGY, topology, vcpuIndex);
    }

    /**
     * Leaf 4 EAX[31:26]: addressable core IDs in the package - 1; EAX[25:14]: addressable
     * IDs of logical processors sharing this cache - 1: one thread for L1 and L2, the
     * whole package for L3.
     */
    private static CpuidEntry cacheParameters(CpuidEntry e, int addressableIds) {
        int type = CpuidTable.bits(e.eax(), 4, 0), level = CpuidTable.bits(e.eax(), 7, 5);
        if (type == 0) return e.withEax(0); // no more caches: the whole subleaf reads 0
        int eax = CpuidTable.withBits(e.eax(), 31, 26, addressableIds - 1);
        return e.withEax(CpuidTable.withBits(eax, 25, 14, level >= 3 ? addressableIds - 1 : 0));
    }

    /**
     * {@code vmx}, {@code ept}, {@code vpid}, {@code unrestricted-guest}, {@code apicv}
     * and {@code nested}. A feature is "yes" when the
     * host CPU has it ({@code /proc/cpuinfo}'s {@code vmx flags}, Linux 5.8 and later) and
     * {@code kvm_intel} enables it; APICv needs APIC-register virtualization
     * ({@code vapic_reg}), virtual-interrupt delivery ({@code vid}) and posted interrupts.
     */
    @Override
    protected void hardwareFeatures(Set<String> flags, Map<String, String> f) {
        f.put("vmx", yesNo(flags.contains("vmx")));
        boolean ept = flags.contains("ept") && enabled("ept");
        f.put("ept", yesNo(ept));
        f.put("vpid", yesNo(flags.contains("vpid") && enabled("vpid")));
        f.put("unrestricted-guest", yesNo(ept && flags.contains("unrestricted_guest") && enabled("unrestricted_guest")));
        f.put("apicv", yesNo(enabled("enable_apicv") && flags.contains("vapic_reg") && flags.contains("vid")
                && flags.contains("posted_intr")));
        f.put("nested", yesNo(enabled("nested")));
    }

    @Override
    public String explainEntryFailure(long hardwareEntryFailureReason) {
        return VmxExitReasons.explainEntryFailure(hardwareEntryFailureReason);
    }
}
