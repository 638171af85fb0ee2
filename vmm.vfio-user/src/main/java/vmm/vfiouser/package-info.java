/**
 * vfio-user (QEMU's docs/interop/vfio-user.rst, protocol 0.1): a
 * {@link vmm.vfiouser.VfioUserClient} that drives a PCI function another
 * process serves, with the operations of a VFIO device fd (device, region
 * and IRQ info, region read/write, SET_IRQS with eventfds, DMA map/unmap
 * with memory fds, reset), and a {@link vmm.vfiouser.VfioUserServer} that
 * serves one of our PCI device bundles on a Unix socket. Constants are named
 * after the specification and {@code <linux/vfio.h>} ({@link vmm.vfiouser.VfioUser}).
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.1.0")
package vmm.vfiouser;
