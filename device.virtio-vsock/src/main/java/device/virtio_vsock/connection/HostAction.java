package device.virtio_vsock.connection;

/**
 * What {@link Connections} asks of the host side, in order, through
 * {@link Connections#takeActions()}.
 */
public record HostAction(Kind kind, ConnectionKey key) {
    public enum Kind {
        /** The guest asked for host port {@code key.hostPort()}: connect to that host socket, then report back. */
        CONNECT,
        /** The guest will send no more and everything it sent was written: shut the host socket's output. */
        SHUTDOWN_OUTPUT,
        /** The connection is gone (everything owed to the host was written, or it was reset): close the socket. */
        CLOSE
    }
}
