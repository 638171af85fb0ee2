package device.uart.backend;

/**
 * Where a back end delivers what the peer sends: the receiver of one UART.
 * Implemented by the wiring; called from the back end's input thread.
 * Thread-safe.
 */
public interface RxSink {
    /**
     * Waits until the receiver can take at least one character and returns
     * how many it can take now. A back end reads no more than that from its
     * source, which is what bounds input buffering in the VMM: while the
     * guest does not read, the peer's bytes stay in the peer's socket or
     * terminal. Returns 0 when this sink stopped taking input for good
     * (its UART was stopped or detached); the back end then waits for the
     * next sink.
     *
     * @throws InterruptedException when the back end is closing
     */
    int awaitRoom() throws InterruptedException;

    /**
     * Hands over up to {@code len} characters without blocking and returns
     * how many were taken, possibly 0 (the UART is paused or stopped, or
     * loopback took the room). When all {@code len} were taken the burst is
     * over and the line is considered quiet (the UART's character timeout).
     */
    int deliver(byte[] b, int off, int len);
}
