/**
 * The hypervisor SPI: what a CPU back end (KVM, and the VT-x and AMD-V back
 * ends built on it) offers the core — a VM over a {@link vmm.core.memory.GuestMemory},
 * vCPUs that run until an exit the core must see, an in-kernel interrupt
 * controller, eventfd bindings — and {@link vmm.core.hypervisor.VmRunner}, the
 * back-end-independent run loop that gives each vCPU a thread and sends its
 * I/O to the machine's buses.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.4.0")
package vmm.core.hypervisor;
