package device.uart.backend;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import device.uart.model.UartRegisters;

class SocketBackendTest {
    @TempDir
    Path dir;
    private SocketBackend backend;

    @AfterEach
    void close() {
        if (backend != null) backend.close();
    }

    private SocketBackend tcp() {
        return backend = SocketBackend.tcp(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    }

    private SocketBackend unix() {
        return backend = SocketBackend.unix(dir.resolve("com1.sock"));
    }

    private SocketChannel connect(SocketBackend b) throws IOException {
        return b.localAddress() instanceof UnixDomainSocketAddress u
                ? SocketChannel.open(u) : SocketChannel.open(b.localAddress());
    }

    private static String readExactly(SocketChannel c, int n) throws IOException {
        ByteBuffer bb = ByteBuffer.allocate(n);
        while (bb.hasRemaining()) if (c.read(bb) < 0) break;
        return new String(bb.array(), 0, bb.position(), StandardCharsets.ISO_8859_1);
    }

    private static void send(SocketChannel c, String s) throws IOException {
        ByteBuffer bb = ByteBuffer.wrap(s.getBytes(StandardCharsets.ISO_8859_1));
        while (bb.hasRemaining()) c.write(bb);
    }

    private void roundTrip(SocketBackend b) throws IOException {
        TestSink sink = new TestSink();
        b.attach(sink);
        try (SocketChannel client = connect(b)) {
            Await.until("client attached", b::hasClient);
            b.write("login: ".getBytes(StandardCharsets.ISO_8859_1), 0, 7);
            assertThat(readExactly(client, 7)).isEqualTo("login: ");
            send(client, "root\r");
            Await.until("input delivered", () -> sink.all().equals("root\r"));
        }
    }

    @Test
    void tcpCarriesBytesBothWays() throws IOException {
        roundTrip(tcp());
        assertThat(backend.describe()).startsWith("tcp=127.0.0.1:");
    }

    @Test
    void unixSocketCarriesBytesBothWays() throws IOException {
        roundTrip(unix());
        assertThat(backend.describe()).isEqualTo("unix=" + dir.resolve("com1.sock"));
    }

    @Test
    void unixSocketFileIsRemovedOnCloseAndAStaleOneReplaced() throws IOException {
        Path p = dir.resolve("com1.sock");
        SocketBackend first = SocketBackend.unix(p);
        assertThat(Files.exists(p)).isTrue();
        first.close();
        assertThat(Files.exists(p)).isFalse();
        try (var stale = java.nio.channels.ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            stale.bind(UnixDomainSocketAddress.of(p));
        }
        roundTrip(unix());
    }

    @Test
    void aPathThatIsNotASocketIsRefused() throws IOException {
        Path p = Files.writeString(dir.resolve("notes.txt"), "keep me");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> SocketBackend.unix(p))
                .hasMessageContaining("not a socket");
        assertThat(Files.readString(p)).isEqualTo("keep me");
    }

    @Test
    void oneClientAtATimeOthersAreClosedAtOnce() throws IOException {
        SocketBackend b = tcp();
        b.attach(new TestSink());
        try (SocketChannel first = connect(b)) {
            Await.until("first attached", b::hasClient);
            try (SocketChannel second = connect(b)) {
                assertThat(second.read(ByteBuffer.allocate(1))).as("refused: closed by the VMM").isEqualTo(-1);
            }
            assertThat(b.clientsRefused()).isEqualTo(1);
            b.write(new byte[] {'o', 'k'}, 0, 2);
            assertThat(readExactly(first, 2)).isEqualTo("ok");
        }
        Await.until("first detached", () -> !b.hasClient());
        try (SocketChannel third = connect(b)) {
            Await.until("third attached", b::hasClient);
            b.write(new byte[] {'3'}, 0, 1);
            assertThat(readExactly(third, 1)).isEqualTo("3");
        }
    }

    @Test
    void outputWithNobodyAttachedIsDiscardedAndCounted() {
        SocketBackend b = tcp();
        b.write(new byte[10], 0, 10);
        Await.until("discarded", () -> b.discardedOutput() == 10);
        assertThat(b.droppedOutput()).isZero();
    }

    @Test
    void aFastSenderFillsTheFifoAndThenWaitsInItsOwnSocket() throws Exception {
        SocketBackend b = unix();
        TestSink sink = new TestSink();
        b.attach(sink);
        int total = 1 << 20; // far more than a Unix socket buffers
        byte[] data = new byte[total];
        for (int i = 0; i < total; i++) data[i] = (byte) (i * 31 + (i >> 8));
        AtomicLong sent = new AtomicLong();
        try (SocketChannel client = connect(b)) {
            Thread sender = Thread.ofPlatform().start(() -> {
                try {
                    for (int off = 0; off < total; off += 4096)
                        sent.addAndGet(client.write(ByteBuffer.wrap(data, off, Math.min(4096, total - off))));
                } catch (IOException e) {
                    // the test ended early
                }
            });
            Await.until("FIFO full", () -> sink.held() == UartRegisters.FIFO_SIZE);

            assertThat(b.inputRead()).as("the VMM read exactly what the FIFO holds").isEqualTo(UartRegisters.FIFO_SIZE);
            // nothing reads the socket while the FIFO is full, and a Unix socket buffers far less than 1 MiB
            assertThat(sent.get()).as("the rest waits in the peer's socket").isLessThan(total);

            // the guest now reads everything: the stream arrives whole and in order, never more than a FIFO ahead
            long maxAhead = 0;
            while (sink.readCount() < total) {
                sink.guestReads();
                maxAhead = Math.max(maxAhead, b.inputRead() - sink.readCount());
            }
            assertThat(maxAhead).isLessThanOrEqualTo(UartRegisters.FIFO_SIZE);
            sender.join();
            assertThat(sink.all().getBytes(StandardCharsets.ISO_8859_1)).isEqualTo(data);
        }
    }

    @Test
    void tcpInputIsReadNoFurtherThanTheFifoWhileTheGuestIsNotReading() throws Exception {
        SocketBackend b = tcp();
        TestSink sink = new TestSink();
        b.attach(sink);
        try (SocketChannel client = connect(b)) {
            send(client, "x".repeat(64 * 1024));
            Await.until("FIFO full", () -> sink.held() == UartRegisters.FIFO_SIZE);
            assertThat(b.inputRead()).isEqualTo(UartRegisters.FIFO_SIZE);
        }
    }

    @Test
    void aSlowPeerMakesOutputDropNotBlockAndEveryByteIsAccountedFor() throws IOException {
        SocketBackend b = unix();
        b.attach(new TestSink());
        try (SocketChannel client = connect(b)) {
            Await.until("client attached", b::hasClient);
            byte[] chunk = new byte[16];
            long total = 0;
            for (int i = 0; i < (8 << 20) / 16; i++) { // 8 MiB from the guest while the peer reads nothing
                b.write(chunk, 0, 16);
                total += 16;
            }
            assertThat(b.droppedOutput()).as("the bounded queue overflowed").isPositive();
            assertThat(b.queuedOutput()).isLessThanOrEqualTo(Backend.OUTPUT_QUEUE_BYTES);
            long expected = total - b.droppedOutput();
            ByteBuffer sink = ByteBuffer.allocate(64 * 1024);
            long got = 0;
            while (got < expected) {
                sink.clear();
                got += client.read(sink);
            }
            assertThat(got).isEqualTo(expected);
        }
    }

    @Test
    void movingTheBackEndToAnotherUartLosesNoInput() throws IOException {
        SocketBackend b = unix();
        TestSink first = new TestSink(), second = new TestSink();
        b.attach(first);
        try (SocketChannel client = connect(b)) {
            String text = "0123456789abcdefghijklmnopqrstuvwxyz";
            send(client, text);
            Await.until("first FIFO full", () -> first.held() == UartRegisters.FIFO_SIZE);
            b.detach(first);
            first.close(); // the old UART stops: the pump stops waiting on it
            b.attach(second);
            Await.until("rest delivered to the second", () -> {
                second.guestReads();
                return (first.all() + second.all()).length() == text.length();
            });
            assertThat(first.all() + second.all()).isEqualTo(text);
        }
    }
}
