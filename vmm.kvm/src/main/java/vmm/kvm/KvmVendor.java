package vmm.kvm;

import java.util.List;
import java.util.Map;

/**
 * The vendor-specific part of a KVM back end: what differs between AMD-V and
 * VT-x hosts. {@link KvmHypervisor} calls it; the {@code vmm.svm} and
 * {@code vmm.vmx} bundles implement it and publish
 * {@code new KvmHypervisor(theirVendor)} as their {@code Hypervisor} service.
 * Implementations are stateless or thread-safe.
 */
public interface KvmVendor {
    /** A short name for logs and {@code Capabilities.backEnd()}, e.g. {@code "amd-v"}. */
    String name();

    /**
     * Whether this back end serves a host whose CPUID leaf 0 vendor string is
     * {@code cpuVendorId}. {@link KvmHypervisor} refuses to start otherwise.
     */
    boolean supportsHost(String cpuVendorId);

    /**
     * The CPUID that vCPU {@code vcpuIndex} of {@code vcpuCount} will see, from the
     * leaves KVM supports: topology and APIC IDs, and the vendor's filtering of
     * features. Called once per vCPU as it is created; must not return more than
     * 256 entries.
     */
    List<CpuidEntry> guestCpuid(List<CpuidEntry> supported, int vcpuIndex, int vcpuCount);

    /** The MSRs that make up a vCPU's state for save, restore and migration, in restore order. */
    List<Integer> msrsToSave();

    /**
     * Vendor facts for {@code Capabilities.features()}, e.g. {@code "npt" -> "yes"}.
     * Called once, when the hypervisor opens.
     */
    Map<String, String> capabilities(KvmProbe probe);

    /** A reading of {@code KVM_EXIT_FAIL_ENTRY}'s hardware failure reason, for the stop report. */
    String explainEntryFailure(long hardwareEntryFailureReason);
}
