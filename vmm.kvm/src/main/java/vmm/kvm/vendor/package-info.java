/**
 * Building blocks the vendor back ends ({@code vmm.svm}, {@code vmm.vmx}) share:
 * a working CPUID table, the guest CPU topology and its x2APIC topology leaves,
 * the host facts seam ({@code /proc/cpuinfo}, KVM module parameters) and the
 * rule that picks the back end for the host's CPU vendor. Everything here is pure
 * apart from {@link vmm.kvm.vendor.HostFacts#ofThisHost()}, and
 * {@link vmm.kvm.vendor.HypervisorPublisher}, which registers a vendor bundle's
 * {@code Hypervisor} service. {@link vmm.kvm.vendor.AbstractKvmVendor} is what a
 * vendor back end has in common with the other, so it supplies only its facts.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.1.0")
package vmm.kvm.vendor;
