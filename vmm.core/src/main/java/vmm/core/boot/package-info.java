/**
 * Linux direct boot: {@link vmm.core.boot.LinuxBoot} loads a kernel the VMM
 * starts without firmware, either an ELF {@code vmlinux} through its PVH
 * entry (Xen's {@code XEN_ELFNOTE_PHYS32_ENTRY}, {@code hvm_start_info}) or
 * a bzImage through the x86 64-bit boot protocol (setup header, zero page),
 * with an initrd and a command line, and says in which state the boot vCPU
 * must enter it ({@link vmm.core.boot.KernelEntry}).
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package vmm.core.boot;
