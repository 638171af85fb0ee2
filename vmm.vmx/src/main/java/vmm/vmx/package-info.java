/**
 * The Intel VT-x back end: {@link vmm.vmx.VmxVendor}, the Intel part of the
 * KVM hypervisor (CPUID normalization, MSRs to save, EPT/VPID/unrestricted
 * guest/APICv capabilities, VMX exit reasons). Its DS component publishes the
 * {@code Hypervisor} service on GenuineIntel hosts only.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package vmm.vmx;
