/** I/O-port and MMIO buses: range registration without overlap, and access dispatch. */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package vmm.core.bus;
