/**
 * Where a network device's frames go: the {@link device.virtio_net.backend.NetBackend}
 * seam, a TAP device and a Unix datagram link behind it, shared per host
 * resource so two implementations can hold it during a swap.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package device.virtio_net.backend;
