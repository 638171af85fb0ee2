/**
 * The virtio library: split virtqueues (indirect descriptors, event index),
 * checked descriptor-chain walking, and the virtio-pci transport (modern,
 * with the transitional legacy I/O BAR as an option). A device implements
 * {@link vmm.core.virtio.VirtioDevice}; the transport does the rest.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.8.0")
package vmm.core.virtio;
