/**
 * The connection state machine of the virtio socket device: pure logic,
 * driven by the device's I/O thread and by tests alike.
 */
package device.virtio_vsock.connection;
