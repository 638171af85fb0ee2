/**
 * The guest-visible virtio-net device with its data path behind the
 * {@link device.virtio_net.model.DataPath} seam, so device.viona presents
 * the same device with its own engine.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.2.0")
package device.virtio_net.model;
