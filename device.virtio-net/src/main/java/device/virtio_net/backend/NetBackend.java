package device.virtio_net.backend;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * Where a network device's frames go and come from: a TAP device, a Unix
 * datagram socket pair, or a test's fake. Every frame crosses this seam
 * with its 12-byte {@code virtio_net_hdr} in front, as a TAP with
 * {@code IFF_VNET_HDR} carries it; a back end without offloads sends only
 * plain headers and ignores them on transmit.
 *
 * <p>Threading: each queue pair is used by one thread at a time (the data
 * path's thread for that pair); different pairs may be used concurrently.
 * {@link #setReceiveOffloads} and {@link #close} are called by the device's
 * lifecycle, never concurrently with the data path. Buffers handed to
 * {@link #send} and {@link #receive} are native segments (guest memory or
 * a native host buffer).
 */
public interface NetBackend extends AutoCloseable {
    /** Bytes of header in front of every frame crossing this seam. */
    int HEADER_SIZE = 12;

    /** Independent frame queues the back end has (a multi-queue TAP has several), at least 1. */
    int queuePairs();

    /**
     * The offload feature bits of virtio-net (CSUM, GUEST_CSUM, HOST_TSO4, ...)
     * that this back end can carry; 0 when it can carry none.
     */
    long offloadFeatures();

    /**
     * Tells the back end which offloads the guest accepted for received
     * frames ({@code negotiated} holds the driver's features), so it only
     * hands the guest frames the guest can take.
     *
     * @throws IOException when the host refuses
     */
    void setReceiveOffloads(long negotiated) throws IOException;

    /**
     * Sends one frame: {@code header} (12 bytes) and then {@code frame}'s
     * parts in order. Never blocks.
     *
     * @return false when the back end could not take the frame (it is full, or the peer is gone): the frame is dropped
     * @throws IOException when the back end failed for good
     */
    boolean send(int pair, MemorySegment header, MemorySegment... frame) throws IOException;

    /**
     * Reads one waiting frame with its header into {@code buffer} (which
     * should hold {@link #HEADER_SIZE} + 65535 + 18 bytes). Never blocks.
     *
     * @return the bytes read (header included), or 0 when no frame is waiting
     * @throws IOException when the back end failed for good
     */
    int receive(int pair, MemorySegment buffer) throws IOException;

    /**
     * Waits until {@code waker} is woken or, when {@code readable}, a frame
     * is waiting on {@code pair}; returns after {@code timeoutMillis} at the
     * latest. A data path that has nowhere to put frames waits with
     * {@code readable} false: the back end is then not read, and frames stay
     * queued in the host.
     *
     * @return whether a frame may be waiting
     */
    boolean await(int pair, boolean readable, Waker waker, long timeoutMillis) throws IOException;

    /**
     * The host descriptor behind queue pair {@code pair} when there is one a
     * kernel data path can use (a TAP queue for vhost-net); empty otherwise.
     */
    default java.util.OptionalInt hostDescriptor(int pair) {
        return java.util.OptionalInt.empty();
    }

    /** What this is, for logs: "tap vmnet0 (2 queues, vnet header)". */
    String describe();

    /** Releases this user's hold; the host resource goes when its last user closes. */
    @Override
    void close();
}
