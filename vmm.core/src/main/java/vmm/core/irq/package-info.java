/**
 * Interrupts: the handles a device receives ({@link vmm.core.irq.InterruptLine}),
 * MSI messages, and the {@link vmm.core.irq.IrqChip} SPI that a hypervisor
 * back end (or the test kit) implements.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package vmm.core.irq;
