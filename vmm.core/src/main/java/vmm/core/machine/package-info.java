/**
 * A machine assembled from the core's parts (guest memory, buses, PCI, an
 * interrupt controller) and the device instances plugged into it, with the
 * hot-swap mechanism that moves an instance between implementations.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.5.0")
package vmm.core.machine;
