package device.virtio_vsock.connection;

import vmm.core.device.EnumCounters;

/**
 * Per-device counters: traffic, and what the device refused and why (a
 * hostile guest shows up here, not as a VMM failure). Thread-safe; kept in
 * the saved state across a swap.
 */
public final class VsockCounters extends EnumCounters<VsockCounters.Counter> {
    public enum Counter {
        /** Packets taken from the transmit queue, and sent into the receive queue. */
        TX_PACKETS, RX_PACKETS,
        /** Payload bytes the guest sent to host sockets, and host sockets sent to the guest. */
        TO_HOST_BYTES, TO_GUEST_BYTES,
        /** Connections established, in either direction. */
        CONNECTIONS,
        /** RSTs the device sent. */
        RESETS_SENT,
        /** Guest packets refused: bad fields, unknown ops, credit overrun, a chain too short for its header. */
        BAD_PACKETS,
        /** Guest packets dropped for a source CID other than the guest's own. */
        SPOOFED,
        /** Connections refused for want of room (the connection limit) or a host socket. */
        REFUSED,
        /** RSTs not sent because the queue of them was full (the guest was not taking packets). */
        RESETS_DROPPED
    }

    public VsockCounters() {
        super(Counter.class);
    }
}
