/**
 * The VFIO transport seam: {@link device.pci_passthru.vfio.VfioDevice} mirrors
 * the operations of a VFIO device file descriptor (include/uapi/linux/vfio.h):
 * device, region and IRQ info, region reads and writes, mmap of mappable
 * region ranges, eventfd-driven interrupts, reset, and DMA mapping of guest
 * RAM. The passthrough PCI function works only against it, so the same code
 * drives a host device bound to the kernel's vfio-pci and a device served by
 * a vfio-user peer. A transport other than the built-in kernel one is offered
 * as a {@link device.pci_passthru.vfio.VfioConnector} service.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package device.pci_passthru.vfio;
