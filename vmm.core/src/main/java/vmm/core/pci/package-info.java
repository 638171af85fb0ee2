/**
 * PCI: the bus with its slots and functions, and the configuration-space
 * mechanics done once for every device (header, capability list, BAR sizing
 * and relocation, expansion ROM, INTx routing, MSI and MSI-X).
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.2.0")
package vmm.core.pci;
