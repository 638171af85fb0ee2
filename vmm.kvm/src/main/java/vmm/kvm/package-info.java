/**
 * Linux KVM as a {@link vmm.core.hypervisor.Hypervisor}, bound through
 * {@code java.lang.foreign}. {@link vmm.kvm.KvmHypervisor} does the
 * vendor-neutral work; a {@link vmm.kvm.KvmVendor} (the AMD-V and VT-x back
 * ends, or {@link vmm.kvm.GenericVendor}) supplies CPUID normalization, the
 * MSR list, capability facts and the reading of entry failures.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.1.0")
package vmm.kvm;
