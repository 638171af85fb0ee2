package device.virtio_vsock.connection;

/**
 * Names one stream: the port on the host side (CID 2) and the port on the
 * guest side. Both are u32 values.
 */
public record ConnectionKey(long hostPort, long guestPort) {
    @Override
    public String toString() {
        return "host:" + hostPort + "<->guest:" + guestPort;
    }
}
