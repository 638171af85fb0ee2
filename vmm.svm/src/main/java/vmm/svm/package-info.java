/**
 * The AMD-V back end: {@link vmm.svm.SvmVendor}, the AMD part of the KVM
 * hypervisor (CPUID normalization, MSRs to save, NPT/ASID/AVIC capabilities,
 * SVM exit codes). Its DS component publishes the {@code Hypervisor} service
 * on AuthenticAMD hosts only.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package vmm.svm;
