package device.uart.backend;

/**
 * What a UART's serial line is connected to on the host: a terminal, a
 * socket a user attaches to, a log file. Opened by {@link BackendSpec#open()},
 * attached to one UART at a time, closed by its owner. Thread-safe.
 *
 * <p>Output never blocks the caller: {@link #write} copies into a bounded
 * queue drained by the back end's own writer thread. When the queue is full
 * (the peer reads slower than the guest writes) the bytes that do not fit
 * are dropped and counted in {@link #droppedOutput()}, as on a serial line
 * without flow control; when no peer is attached (a socket back end with no
 * client) output is discarded and counted in {@link #discardedOutput()}.
 *
 * <p>Input is bounded: the back end reads from its source only as many bytes
 * as the attached {@link RxSink} has room for, so at most one FIFO's worth
 * is ever held in the VMM.
 */
public interface Backend extends AutoCloseable {
    /** Bytes queued for output, at most; a burst beyond this is dropped. */
    int OUTPUT_QUEUE_BYTES = 64 * 1024;

    /**
     * Delivers input to {@code sink} from now on, replacing any sink attached
     * before. Input read from the peer but not yet delivered goes to the new
     * sink, so moving a back end between two UART instances loses nothing.
     */
    void attach(RxSink sink);

    /** Stops delivering to {@code sink}; does nothing when another sink is attached. */
    void detach(RxSink sink);

    /**
     * Queues {@code len} bytes for the peer. Never blocks; what the bounded
     * queue cannot hold is dropped and counted. Bytes keep the order of the calls.
     */
    void write(byte[] b, int off, int len);

    /** Output bytes dropped because the queue was full. */
    long droppedOutput();

    /** Output bytes discarded because no peer was attached. */
    long discardedOutput();

    /** Input bytes read from the peer so far (all of them delivered or about to be). */
    long inputRead();

    /** What this back end is, for logs: {@code tcp=127.0.0.1:5555}. */
    String describe();

    /**
     * Flushes what is queued (waiting a bounded time for a slow peer), stops
     * the back end's threads and releases its terminal, socket or file. The
     * terminal's mode is restored. Idempotent.
     */
    @Override
    void close();
}
