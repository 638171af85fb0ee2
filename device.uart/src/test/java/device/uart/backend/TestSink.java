package device.uart.backend;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

import device.uart.model.UartRegisters;

/**
 * A receiver with a 16-byte FIFO, as the back ends see a UART: room is what
 * the FIFO has free, and only a {@link #guestReads} makes more. Counts the
 * most it ever held, which is what bounded input means. Thread-safe.
 */
final class TestSink implements RxSink {
    private final ByteArrayOutputStream read = new ByteArrayOutputStream();
    private int held, maxHeld;
    private final StringBuilder fifo = new StringBuilder();
    private boolean open = true;

    @Override
    public synchronized int awaitRoom() throws InterruptedException {
        while (open && held == UartRegisters.FIFO_SIZE) wait();
        return open ? UartRegisters.FIFO_SIZE - held : 0;
    }

    @Override
    public synchronized int deliver(byte[] b, int off, int len) {
        if (!open) return 0;
        int n = Math.min(len, UartRegisters.FIFO_SIZE - held);
        for (int i = 0; i < n; i++) fifo.append((char) (b[off + i] & 0xff));
        held += n;
        maxHeld = Math.max(maxHeld, held);
        notifyAll();
        return n;
    }

    /** The guest reads everything in the FIFO. */
    synchronized void guestReads() {
        read.writeBytes(fifo.toString().getBytes(StandardCharsets.ISO_8859_1));
        fifo.setLength(0);
        held = 0;
        notifyAll();
    }

    synchronized int held() {
        return held;
    }

    synchronized int maxHeld() {
        return maxHeld;
    }

    /** How many bytes the guest has read. */
    synchronized int readCount() {
        return read.size();
    }

    /** Everything the guest read plus what is still in the FIFO. */
    synchronized String all() {
        return read.toString(StandardCharsets.ISO_8859_1) + fifo;
    }

    synchronized void close() {
        open = false;
        notifyAll();
    }
}
