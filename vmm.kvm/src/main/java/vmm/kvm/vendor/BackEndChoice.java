package vmm.kvm.vendor;

import vmm.kvm.KvmVendor;

/**
 * Whether a vendor back end should serve this host. Exactly one back end
 * answers yes on a given host, because each serves one CPUID vendor string;
 * the others stay inactive and say why.
 *
 * @param serve  whether {@code vendor} serves the host
 * @param reason one line for the log, naming the host's vendor and the back end
 */
public record BackEndChoice(boolean serve, String reason) {
    /** Decides for {@code vendor} on a host whose CPU says {@code hostVendorId}. */
    public static BackEndChoice decide(KvmVendor vendor, String hostVendorId) {
        if (vendor.supportsHost(hostVendorId))
            return new BackEndChoice(true, "the " + vendor.name() + " back end serves this host (CPU vendor "
                    + hostVendorId + ")");
        return new BackEndChoice(false, "the " + vendor.name() + " back end stays inactive: this host's CPU vendor is "
                + hostVendorId + ", which it does not serve; the back end for " + hostVendorId + " publishes the Hypervisor");
    }
}
