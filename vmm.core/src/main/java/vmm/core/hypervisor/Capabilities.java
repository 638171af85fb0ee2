package vmm.core.hypervisor;

import java.util.Map;

/**
 * What a hypervisor back end reports about itself and the host.
 *
 * @param backEnd   the back end's name, e.g. {@code "kvm/amd-v"}
 * @param cpuVendor the host CPU's vendor string as CPUID leaf 0 gives it, e.g. {@code "AuthenticAMD"}
 * @param features  named facts in a stable order, e.g. {@code "irqchip" -> "yes"},
 *                  {@code "max-vcpus" -> "288"}, {@code "npt" -> "no"}; vendor back ends add their own
 */
public record Capabilities(String backEnd, String cpuVendor, Map<String, String> features) {
    public Capabilities {
        features = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(features));
    }
}
