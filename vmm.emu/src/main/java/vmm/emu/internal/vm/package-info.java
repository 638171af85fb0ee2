/**
 * The {@link vmm.core.hypervisor.Hypervisor} SPI over the software CPU: the VM,
 * its vCPUs and their run loop, the interrupt controllers wired in the place
 * KVM's in-kernel irqchip has, and the DS component that publishes it.
 */
package vmm.emu.internal.vm;
