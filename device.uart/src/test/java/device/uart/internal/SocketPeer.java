package device.uart.internal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/** The far end of a UART's socket back end in tests: threads that send a whole stream and that read one whole. */
final class SocketPeer {
    private SocketPeer() {}

    /** Starts a thread that writes all of {@code bytes} to {@code peer}. */
    static Thread send(SocketChannel peer, byte[] bytes) {
        return Thread.ofPlatform().start(() -> {
            try {
                ByteBuffer bb = ByteBuffer.wrap(bytes);
                while (bb.hasRemaining()) peer.write(bb);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /** Starts a thread that reads from {@code peer} until {@code into} is full or the stream ends. */
    static Thread receive(SocketChannel peer, byte[] into) {
        return Thread.ofPlatform().start(() -> {
            try {
                ByteBuffer bb = ByteBuffer.wrap(into);
                while (bb.hasRemaining()) if (peer.read(bb) < 0) break;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }
}
