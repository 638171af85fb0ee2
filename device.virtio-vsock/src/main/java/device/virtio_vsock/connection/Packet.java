package device.virtio_vsock.connection;

import device.virtio_vsock.protocol.VsockHeader;
import device.virtio_vsock.protocol.VsockSpec;

/** A packet for the guest's receive queue: its header and {@code header.len()} bytes of payload. */
public record Packet(VsockHeader header, byte[] payload) {
    /** Header and payload as the guest's buffer receives them. */
    public byte[] toBytes() {
        byte[] b = new byte[VsockSpec.HEADER_SIZE + payload.length];
        System.arraycopy(header.encode(), 0, b, 0, VsockSpec.HEADER_SIZE);
        System.arraycopy(payload, 0, b, VsockSpec.HEADER_SIZE, payload.length);
        return b;
    }
}
