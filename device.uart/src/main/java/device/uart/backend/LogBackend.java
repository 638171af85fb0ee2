package device.uart.backend;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Output appended to a file, byte for byte; no input. */
final class LogBackend extends AbstractBackend {
    private final Path file;
    private final FileChannel channel;

    LogBackend(Path file) {
        super("log=" + file);
        this.file = file;
        try {
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open " + file + " for appending: " + e.getMessage(), e);
        }
        startWriter();
    }

    @Override
    void writeOut(byte[] b, int len) throws IOException {
        ByteBuffer bb = ByteBuffer.wrap(b, 0, len);
        while (bb.hasRemaining()) channel.write(bb);
    }

    @Override
    void closeResources() {
        try {
            channel.close();
        } catch (IOException e) {
            // nothing left to save: the bytes were written or counted
        }
    }

    @Override
    public String describe() {
        return "log=" + file;
    }
}
