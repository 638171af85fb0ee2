package device.uart.backend;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;

import device.uart.model.UartRegisters;

/**
 * The parts every back end shares: the attached sink, the bounded output
 * queue with its writer thread, and the input pump that reads only what the
 * receiver has room for.
 */
abstract class AbstractBackend implements Backend {
    /** How long {@link #close()} waits for the writer to flush to a slow peer. */
    static final long FLUSH_WAIT_MILLIS = 2000;

    /** A blocking byte source: a socket, a terminal. Returns -1 at end of input. */
    @FunctionalInterface
    interface Source {
        int read(byte[] b, int off, int len) throws IOException;
    }

    private final OutputQueue out = new OutputQueue(OUTPUT_QUEUE_BYTES);
    private final AtomicLong discarded = new AtomicLong(), inputRead = new AtomicLong();
    private final Thread writer;
    private RxSink sink; // guarded by this
    private boolean closed; // guarded by this

    AbstractBackend(String name) {
        writer = Thread.ofPlatform().daemon().name("uart-out " + name).unstarted(this::writeLoop);
    }

    /** Starts the writer thread; subclasses call it once they can take {@link #writeOut}. */
    final void startWriter() {
        writer.start();
    }

    /**
     * Sends bytes to the peer; may block (on the writer thread only). A back
     * end without a peer counts them with {@link #discard(int)}.
     */
    abstract void writeOut(byte[] b, int len) throws IOException;

    /** Releases the subclass's resources, after the writer has stopped. */
    abstract void closeResources();

    final void discard(int n) {
        discarded.addAndGet(n);
    }

    private void writeLoop() {
        byte[] buf = new byte[4096];
        try {
            int n;
            while ((n = out.take(buf)) >= 0) {
                try {
                    writeOut(buf, n);
                } catch (IOException e) {
                    discard(n);
                }
            }
        } catch (InterruptedException e) {
            // closing without waiting for a peer that does not read
        }
    }

    @Override
    public final synchronized void attach(RxSink s) {
        sink = s;
        notifyAll();
    }

    @Override
    public final synchronized void detach(RxSink s) {
        if (sink == s) sink = null;
    }

    private synchronized RxSink awaitSink() throws InterruptedException {
        while (sink == null && !closed) wait();
        return closed ? null : sink;
    }

    final synchronized boolean isClosed() {
        return closed;
    }

    /**
     * Moves input from {@code src} to whichever sink is attached until the
     * source ends or the back end closes; returns normally in both cases.
     * Reads never more than the sink has room for, so the peer is held
     * back by its own socket or terminal buffer while the guest is not reading.
     */
    final void pump(Source src) throws IOException {
        byte[] buf = new byte[UartRegisters.FIFO_SIZE];
        try {
            while (true) {
                RxSink s = awaitSink();
                if (s == null) return;
                int room = s.awaitRoom();
                if (room <= 0) continue;
                int n = src.read(buf, 0, Math.min(room, buf.length));
                if (n < 0) return;
                if (n == 0) continue;
                inputRead.addAndGet(n);
                int off = 0;
                while (off < n) {
                    s = awaitSink();
                    if (s == null) return;
                    int k = s.deliver(buf, off, n - off);
                    off += k;
                    // bytes already read stay here (never more than one FIFO) until a sink has room
                    if (off < n && k == 0) s.awaitRoom();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public final void write(byte[] b, int off, int len) {
        out.offer(b, off, len);
    }

    @Override
    public final long droppedOutput() {
        return out.dropped();
    }

    @Override
    public final long discardedOutput() {
        return discarded.get();
    }

    @Override
    public final long inputRead() {
        return inputRead.get();
    }

    /** Bytes waiting for the writer, for tests and diagnostics. */
    final int queuedOutput() {
        return out.queued();
    }

    @Override
    public final void close() {
        synchronized (this) {
            if (closed) return;
            closed = true;
            notifyAll();
        }
        out.close();
        if (writer.isAlive()) {
            try {
                writer.join(FLUSH_WAIT_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            writer.interrupt();
        }
        closeResources();
    }

    @Override
    public String toString() {
        return describe();
    }
}
