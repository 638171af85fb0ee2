package device.uart.internal;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

import device.uart.backend.Backend;
import device.uart.backend.RxSink;

/**
 * A back end without threads for wiring tests: it records what the UART
 * sends and lets the test play the peer, delivering input the way a real
 * back end's pump does (only what the sink takes). Thread-safe.
 */
final class RecordingBackend implements Backend {
    private final ByteArrayOutputStream sent = new ByteArrayOutputStream();
    private RxSink sink;
    private boolean closed;

    @Override
    public synchronized void attach(RxSink s) {
        sink = s;
    }

    @Override
    public synchronized void detach(RxSink s) {
        if (sink == s) sink = null;
    }

    synchronized RxSink sink() {
        return sink;
    }

    /** The peer sends {@code s}; returns how many characters the attached UART took. */
    int peerSends(String s) {
        RxSink k = sink();
        if (k == null) return 0;
        byte[] b = s.getBytes(StandardCharsets.ISO_8859_1);
        return k.deliver(b, 0, b.length);
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) {
        sent.write(b, off, len);
    }

    /** Everything the UART transmitted, as ISO-8859-1 text. */
    synchronized String sent() {
        return sent.toString(StandardCharsets.ISO_8859_1);
    }

    @Override public long droppedOutput() { return 0; }
    @Override public long discardedOutput() { return 0; }
    @Override public long inputRead() { return 0; }
    @Override public String describe() { return "recording"; }

    @Override
    public synchronized void close() {
        closed = true;
    }

    synchronized boolean closed() {
        return closed;
    }
}
