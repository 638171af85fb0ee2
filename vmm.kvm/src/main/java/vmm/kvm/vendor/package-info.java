/**
 * Building blocks the vendor back ends ({@code vmm.svm}, {@code vmm.vmx}) share:
 * a working CPUID table, the guest CPU topology and its x2APIC topology leaves,
 * the host facts seam ({@code /proc/cpuinfo}, KVM module parameters) and the
 * rule that picks the back end for the host's CPU vendor. Everything here is pure
 * apart from {@link vmm.kvm.vendor.HostFacts#ofThisHost()}.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package vmm.kvm.vendor;
