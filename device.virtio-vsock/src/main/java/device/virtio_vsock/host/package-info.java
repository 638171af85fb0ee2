/**
 * The host side of the virtio socket device: Unix sockets in Firecracker's
 * convention, served by the device's I/O thread.
 */
package device.virtio_vsock.host;
