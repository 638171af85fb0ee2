/**
 * The virtio socket device as the specification defines it (virtio 1.2
 * section 5.10): numbers and the packet header. Pure data, no I/O.
 */
package device.virtio_vsock.protocol;
