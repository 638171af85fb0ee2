package vmm.kvm;

import java.util.List;

/** What a {@link KvmVendor} may ask of the host's KVM when it reports capabilities. */
public interface KvmProbe {
    /** {@code KVM_CHECK_EXTENSION}: 0 when the capability is absent, else its value (often 1). */
    int checkExtension(int capability);

    /** {@code KVM_GET_SUPPORTED_CPUID}: the leaves KVM can give a guest. */
    List<CpuidEntry> supportedCpuid();

    /**
     * {@code KVM_GET_MSR_INDEX_LIST}: the MSRs KVM can save and restore for a guest on this
     * host, in KVM's order. Empty where the probe cannot tell.
     */
    default List<Integer> msrIndexList() {
        return List.of();
    }

    /** The host CPU's vendor string from CPUID leaf 0, e.g. {@code "AuthenticAMD"}. */
    String cpuVendorId();
}
