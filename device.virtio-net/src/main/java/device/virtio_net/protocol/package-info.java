/**
 * The virtio network device as the specification defines it (virtio 1.2
 * section 5.1): feature and command numbers, the config layout, the
 * {@code virtio_net_hdr}, the receive filter and the control plane. Pure
 * logic, shared by every implementation of the device.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.1.0")
package device.virtio_net.protocol;
