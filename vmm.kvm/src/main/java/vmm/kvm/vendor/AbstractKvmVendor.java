package vmm.kvm.vendor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import vmm.kvm.CpuidEntry;
import vmm.kvm.KvmProbe;
import vmm.kvm.KvmVendor;

/**
 * What the AMD-V and VT-x {@link KvmVendor}s share, so that each keeps only its vendor's facts:
 * the working CPUID table and guest topology around its normalization, its MSR list and the
 * filter by what KVM saves, and the frame of the capability report (the KVM module first,
 * the MSRs this KVM can save last) around its hardware features. Thread-safe when the
 * subclass's hooks are (the vendor back ends' are pure).
 */
public abstract class AbstractKvmVendor implements KvmVendor {
    private final String name;
    private final String kvmModule;
    private final List<Integer> msrs;
    private final HostFacts host;

    /**
     * @param name      the back end's short name, e.g. {@code "amd-v"}
     * @param kvmModule the vendor's KVM module, whose parameters {@link #enabled} reads, e.g. {@code "kvm_amd"}
     * @param msrs      {@link #msrsToSave()}, in restore order
     * @param host      where the capability report reads the host's CPU flags and module parameters
     */
    protected AbstractKvmVendor(String name, String kvmModule, List<Integer> msrs, HostFacts host) {
        this.name = name;
        this.kvmModule = kvmModule;
        this.msrs = List.copyOf(msrs);
        this.host = host;
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final List<CpuidEntry> guestCpuid(List<CpuidEntry> supported, int vcpuIndex, int vcpuCount) {
        CpuTopology topology = new CpuTopology(vcpuCount);
        CpuidTable t = CpuidTable.of(supported);
        normalize(t, topology, vcpuIndex);
        return t.entries();
    }

    /**
     * Turns {@code t}, KVM's supported CPUID, into what vCPU {@code vcpuIndex} of
     * {@code topology} sees: the vendor's topology leaves and hidden features.
     */
    protected abstract void normalize(CpuidTable t, CpuTopology topology, int vcpuIndex);

    @Override
    public final List<Integer> msrsToSave() {
        return msrs;
    }

    /**
     * The MSRs to save on a host whose {@code KVM_GET_MSR_INDEX_LIST} is {@code kvmIndexList}:
     * {@link #msrsToSave()} in its order, less those this KVM cannot save.
     */
    public final List<Integer> msrsToSave(List<Integer> kvmIndexList) {
        return CommonMsrs.savable(msrs, kvmIndexList);
    }

    /**
     * {@code kvm-module}, then the vendor's {@link #hardwareFeatures}, then {@code msrs-to-save}
     * ("N of M") where the probe lists the MSRs KVM can save.
     */
    @Override
    public final Map<String, String> capabilities(KvmProbe probe) {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("kvm-module", host.kvmModule());
        hardwareFeatures(host.cpuFlags(), f);
        List<Integer> index = probe.msrIndexList();
        if (!index.isEmpty()) f.put("msrs-to-save", msrsToSave(index).size() + " of " + msrs.size());
        return f;
    }

    /** Adds the vendor's virtualization features to {@code features}, each "yes" or "no", from the host's CPU flags. */
    protected abstract void hardwareFeatures(Set<String> cpuFlags, Map<String, String> features);

    /** Whether the vendor's KVM module is loaded and its parameter {@code parameter} is on. */
    protected final boolean enabled(String parameter) {
        return host.moduleLoaded(kvmModule) && HostFacts.isOn(host.moduleParameter(kvmModule, parameter));
    }

    /** "yes" or "no", as the capability report writes a feature. */
    protected static String yesNo(boolean b) {
        return b ? "yes" : "no";
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + name + "]";
    }
}
