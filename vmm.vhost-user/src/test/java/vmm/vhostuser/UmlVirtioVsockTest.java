package vmm.vhostuser;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import device.virtio_vsock.VsockProvider;
import vmm.testing.HangGuard;

/**
 * A real Linux vsock stack (user-mode Linux's {@code vmw_vsock_virtio_transport},
 * a vhost-user front-end) on device.virtio-vsock served by this back-end, with
 * Debian's {@code socat} in the guest: a host process reaches a guest
 * {@code VSOCK-LISTEN} through the device's socket with {@code CONNECT}, and a
 * guest {@code VSOCK-CONNECT:2:P} reaches a host listener on {@code PATH_P};
 * the bytes arrive whole both ways (SHA-256 equal), also 64 connections each
 * way at once and across two swaps of the device in the middle of a transfer.
 */
class UmlVirtioVsockTest {
    private static final int VIRTIO_ID_VSOCK = 19;
    private static final String MODULE = "net/vmw_vsock/vsock.ko";
    private static final String TRANSPORT = """
            d=/usr/lib/uml/modules/$(uname -r)/kernel/net/vmw_vsock
            busybox insmod $d/vmw_vsock_virtio_transport_common.ko
            busybox insmod $d/vmw_vsock_virtio_transport.ko
            drv=/sys/bus/virtio/drivers/vmw_vsock_virtio_transport
            for i in $(seq 1 3000); do ls $drv | grep -q virtio && break; sleep 0.02; done
            echo "bound=$(ls $drv | grep -c virtio)"
            """;
    /** Bytes each way; the figures of larger runs are in the module's notes. */
    private static final int SIZE = Integer.getInteger("vsock.uml.bytes", 8 << 20);

    @TempDir
    Path dir;

    @BeforeEach
    void requireUmlAndSocat() {
        String missing = UserModeLinux.missing();
        assumeTrue(missing == null, () -> "user-mode Linux cannot run here: " + missing);
        assumeTrue(UserModeLinux.onPath("socat"), "the guest runs the host's socat: apt-get install socat");
    }

    private VhostUserServer serve() throws Exception {
        return VhostUserServer.start(dir.resolve("vu.sock"), "uml-vsock",
                Map.of("cid", "3", "path", dir.resolve("v.sock").toString(),
                        "event-idx", System.getProperty("vsock.uml.event-idx", "true")), "virtio-vsock",
                                new VsockProvider());
    }

    @Test
    void aHostClientReachesAGuestListenerAndAGuestReachesAHostListenerWithEveryByte() throws Exception {
        byte[] toGuest = random(SIZE, 1), toHost = random(SIZE, 2);
        Files.write(dir.resolve("to-host.bin"), toHost);
        Path listening = dir.resolve("listening");
        try (VhostUserServer server = serve();
             ServerSocketChannel hostListener = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            hostListener.bind(UnixDomainSocketAddress.of(dir.resolve("v.sock_6000")));
            // Host side, guest-initiated: take one connection and everything on it.
            // Threads of their own: the common pool may have one worker on a small machine, and both block.
            Executor threads = r -> Thread.ofPlatform().daemon().start(r);
            CompletableFuture<byte[]> fromGuest = CompletableFuture.supplyAsync(() -> {
                try (SocketChannel s = hostListener.accept()) {
                    return readAll(s);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            }, threads);
            // A guest socat exits once its bytes are in its socket, not once they arrived, and Linux does not
            // linger on close: the guest powers off only after the host read everything ("received").
            fromGuest.thenRun(this::received);
            // Host side, host-initiated: CONNECT until the guest's socat listens (until then the guest
            // refuses and the device closes the socket without OK), then send.
            CompletableFuture<String> sent = CompletableFuture.supplyAsync(() -> {
                try {
                    HangGuard.await(() -> Files.exists(listening), "the guest starts its listener on port 5000");
                    long deadline = System.nanoTime() + HangGuard.BOUND.toNanos();
                    while (true) {
                        SocketChannel s = SocketChannel.open(UnixDomainSocketAddress.of(dir.resolve("v.sock")));
                        s.write(ByteBuffer.wrap("CONNECT 5000\n".getBytes(StandardCharsets.US_ASCII)));
                        String ok = readLine(s);
                        if (ok.startsWith("OK ")) return send(s, ok);
                        s.close();
                        if (System.nanoTime() > deadline)
                            throw new AssertionError("the guest never accepted on port 5000");
                        Thread.sleep(50); // a retry's pace, not an assertion's deadline
                    }
                } catch (IOException | InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }, threads);
            long t0 = System.nanoTime();
            Map<String, String> r = UserModeLinux.run(dir, server.socket(), VIRTIO_ID_VSOCK, MODULE, TRANSPORT + """
                    socat -u VSOCK-LISTEN:5000 CREATE:%1$s/from-host.bin &
                    l=$!
                    touch %1$s/listening
                    wait $l; echo "listen=$?"
                    socat -u OPEN:%1$s/to-host.bin VSOCK-CONNECT:2:6000; echo "connect=$?"
                    for i in $(seq 1 3000); do [ -e %1$s/received ] && break; sleep 0.1; done
                    """.formatted(dir), 300);
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertThat(r).as("results; console:%n%s", r.get(UserModeLinux.CONSOLE))
                    .containsEntry("bound", "1").containsEntry("listen", "0").containsEntry("connect", "0");
            assertThat(sent.get(HangGuard.BOUND.toSeconds(), TimeUnit.SECONDS)).startsWith("OK ");
            assertThat(sha256(Files.readAllBytes(dir.resolve("from-host.bin")))).as("host to guest")
                    .isEqualTo(sha256(toGuest));
            assertThat(sha256(fromGuest.get(HangGuard.BOUND.toSeconds(), TimeUnit.SECONDS))).as("guest to host")
                    .isEqualTo(sha256(toHost));
            assertThat(server.lastFailure()).isNull();
            System.out.printf("virtio-vsock under user-mode Linux: %d MiB each way, both in %.1f s (boot included)%n",
                    SIZE >> 20, seconds);
        }
    }

    @Test
    void sixtyFourParallelConnectionsEachWayArriveWhole() throws Exception {
        // Two of the 256 KiB credit windows each: every connection needs its credit updates while the others
        // run (1 MiB each took twice as long and proved no more; the notes have larger runs).
        int n = 64, size = Integer.getInteger("vsock.uml.parallel-bytes", 512 << 10);
        Set<String> toHostSums = new HashSet<>(), toGuestSums = new HashSet<>();
        Path out = Files.createDirectories(dir.resolve("out")), in = Files.createDirectories(dir.resolve("in"));
        for (int i = 0; i < n; i++) {
            byte[] b = random(size, 100 + i);
            Files.write(out.resolve("f" + i), b);
            toHostSums.add(sha256(b));
            toGuestSums.add(sha256(random(size, 200 + i)));
        }
        Executor threads = r -> Thread.ofPlatform().daemon().start(r);
        try (VhostUserServer server = serve();
             ServerSocketChannel hostListener = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            hostListener.bind(UnixDomainSocketAddress.of(dir.resolve("v.sock_6001")), n);
            // A guest connect that Linux timed out (2 s, not settable through socat) may still reach the host
            // once the device gets to it, and then ends empty when the guest resets it; the guest tries again.
            // So the host takes connections until n of them carried a file, and counts the empty ones.
            List<String> received = new CopyOnWriteArrayList<>();
            AtomicInteger whole = new AtomicInteger(), empty = new AtomicInteger();
            CompletableFuture<Void> allReceived = new CompletableFuture<>();
            Thread accepting = Thread.ofPlatform().daemon().start(() -> {
                while (!allReceived.isDone()) {
                    SocketChannel s;
                    try {
                        s = hostListener.accept();
                    } catch (IOException e) {
                        return; // closed at the end of the test
                    }
                    threads.execute(() -> {
                        try (s) {
                            byte[] b = readAll(s);
                            if (b.length == 0) {
                                empty.incrementAndGet();
                                return;
                            }
                            received.add(sha256(b));
                            if (whole.incrementAndGet() == n) allReceived.complete(null);
                        } catch (IOException e) {
                            allReceived.completeExceptionally(e);
                        }
                    });
                }
            });
            allReceived.thenRun(this::received);
            // Host to guest: n clients at once, once the guest's forking listener runs; "sent" tells the guest.
            CompletableFuture<Void> sending = CompletableFuture.runAsync(() -> {
                HangGuard.await(() -> Files.exists(dir.resolve("listening")),
                        "the guest starts its listener on port 5001");
                List<CompletableFuture<String>> sent = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    byte[] b = random(size, 200 + i);
                    sent.add(CompletableFuture.supplyAsync(() -> connectAndSend(5001, b), threads));
                }
                sent.forEach(CompletableFuture::join);
                try {
                    Files.createFile(dir.resolve("sent"));
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            }, threads);
            long t0 = System.nanoTime();
            Map<String, String> r = UserModeLinux.run(dir, server.socket(), VIRTIO_ID_VSOCK, MODULE, TRANSPORT + """
                    socat -u VSOCK-LISTEN:5001,fork,backlog=64 SYSTEM:'cat > %1$s/in/g.$$' &
                    l=$!
                    touch %1$s/listening
                    pids=""
                    for i in $(seq 0 %2$d); do
                        (t=1; until socat -u OPEN:%1$s/out/f$i VSOCK-CONNECT:2:6001 2>%1$s/err$i; do
                            grep -q 'Connection timed out' %1$s/err$i && [ $t -lt 5 ] || exit 1
                            t=$((t+1)); echo retry >> %1$s/retries
                        done) & pids="$pids $!"
                    done
                    ok=0; for p in $pids; do wait $p && ok=$((ok+1)); done
                    echo "connected=$ok"
                    echo "retried=$(cat %1$s/retries 2>/dev/null | wc -l)"
                    for i in $(seq 1 3000); do [ -e %1$s/sent ] && break; sleep 0.1; done
                    for i in $(seq 1 3000); do [ -e %1$s/received ] && break; sleep 0.1; done
                    kill $l
                    """.formatted(dir, n - 1), 300);
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertThat(r).as("results; console:%n%s", r.get(UserModeLinux.CONSOLE)).containsEntry("bound", "1")
                    .containsEntry("connected", String.valueOf(n));
            allReceived.get(HangGuard.BOUND.toSeconds(), TimeUnit.SECONDS);
            assertThat(received).as("guest to host: every file once").hasSize(n);
            assertThat(new HashSet<>(received)).as("guest to host").isEqualTo(toHostSums);
            // A timed-out connect whose REQUEST Linux withdrew before sending never reaches the host.
            assertThat(empty.get()).as("empty host connections: only guest connects that timed out and were tried again")
                    .isLessThanOrEqualTo(Integer.parseInt(r.get("retried")));
            sending.get(HangGuard.BOUND.toSeconds(), TimeUnit.SECONDS);
            Set<String> inGuest = new HashSet<>();
            try (var files = Files.list(in)) {
                for (Path f : files.toList()) inGuest.add(sha256(Files.readAllBytes(f)));
            }
            assertThat(inGuest).as("host to guest").isEqualTo(toGuestSums);
            assertThat(server.lastFailure()).isNull();
            hostListener.close();
            accepting.join();
            System.out.printf("virtio-vsock under user-mode Linux: %d connections each way of %d KiB in %.1f s"
                    + " (boot included), %s guest connects timed out and were tried again%n",
                    n, size >> 10, seconds, r.get("retried"));
        }
    }

    /**
     * The host reads the first 64 KiB and stops until both swaps are done: past that, at most the host socket's
     * buffer and the device's 256 KiB of credit leave the guest, so a 4 MiB sender is held by its credit when
     * the device swaps (checked: it has not ended).
     */
    @Test
    void aSwapInTheMiddleOfATransferLosesNoByte() throws Exception {
        int size = 4 << 20, heldAfter = 64 << 10;
        byte[] toHost = random(size, 3);
        Files.write(dir.resolve("to-host.bin"), toHost);
        Executor threads = r -> Thread.ofPlatform().daemon().start(r);
        CountDownLatch held = new CountDownLatch(1), swapped = new CountDownLatch(1);
        try (VhostUserServer server = serve();
             ServerSocketChannel hostListener = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            hostListener.bind(UnixDomainSocketAddress.of(dir.resolve("v.sock_6002")));
            // The host reads 64 KiB, then stops until both swaps are done: the guest is held by its
            // credit, so the swaps fall inside the transfer however the machine schedules the threads.
            CompletableFuture<byte[]> fromGuest = CompletableFuture.supplyAsync(() -> {
                try (SocketChannel s = hostListener.accept()) {
                    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
                    ByteBuffer b = ByteBuffer.allocate(64 * 1024);
                    while (s.read(b.clear()) >= 0) {
                        out.write(b.array(), 0, b.position());
                        if (out.size() >= heldAfter && held.getCount() > 0) {
                            held.countDown();
                            if (!swapped.await(HangGuard.BOUND.toSeconds(),
                                    TimeUnit.SECONDS)) throw new AssertionError("no swap");
                        }
                    }
                    return out.toByteArray();
                } catch (IOException | InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }, threads);
            fromGuest.thenRun(this::received);
            CompletableFuture<Void> swapper = CompletableFuture.runAsync(() -> {
                try {
                    if (!held.await(HangGuard.BOUND.toSeconds(), TimeUnit.SECONDS)) return;
                    Path result = dir.resolve("result.txt");
                    if (Files.exists(result) && Files.readString(result).contains("connect="))
                        throw new AssertionError("the guest's sender ended before the swaps: it was not held");
                    server.swapTo("virtio-vsock-2", new VsockProvider());
                    server.swapTo("virtio-vsock", new VsockProvider());
                } catch (IOException | InterruptedException e) {
                    throw new IllegalStateException(e);
                } finally {
                    swapped.countDown();
                }
            }, threads);
            Map<String, String> r = UserModeLinux.run(dir, server.socket(), VIRTIO_ID_VSOCK, MODULE, TRANSPORT + """
                    socat -u OPEN:%1$s/to-host.bin VSOCK-CONNECT:2:6002; echo "connect=$?"
                    for i in $(seq 1 3000); do [ -e %1$s/received ] && break; sleep 0.1; done
                    """.formatted(dir), 300);
            assertThat(r).as("results; console:%n%s", r.get(UserModeLinux.CONSOLE)).containsEntry("connect", "0");
            swapper.get(HangGuard.BOUND.toSeconds(), TimeUnit.SECONDS);
            assertThat(server.swapCount()).isEqualTo(2);
            assertThat(sha256(fromGuest.get(HangGuard.BOUND.toSeconds(), TimeUnit.SECONDS))).isEqualTo(sha256(toHost));
            assertThat(server.lastFailure()).isNull();
        }
    }

    /**
     * Several connections in flight, each held by its host peer; one peer, a host {@code socat}, is killed with
     * SIGKILL. Its guest sender sees the reset (Linux's vsock reports an RST to a writer as EPIPE), the others,
     * both directions, finish with every byte.
     */
    @Test
    void aKilledHostPeerResetsItsConnectionAndTheOthersGoOn() throws Exception {
        int n = 3, size = 1 << 20; // four of the 256 KiB credit windows
        Path out = Files.createDirectories(dir.resolve("out"));
        List<String> toHostSums = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            byte[] b = random(size, 300 + i);
            Files.write(out.resolve("f" + i), b);
            toHostSums.add(sha256(b));
        }
        byte[] toGuest = random(size, 398);
        Executor threads = r -> Thread.ofPlatform().daemon().start(r);
        // Each connection's first bytes arrived (n guest senders, the host sender, the victim); then the kill.
        CountDownLatch flowing = new CountDownLatch(n + 2), killed = new CountDownLatch(1);
        Path victimSocket = dir.resolve("v.sock_6200");
        Process victim = new ProcessBuilder("socat", "-u", "UNIX-LISTEN:" + victimSocket, "STDOUT")
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        List<ServerSocketChannel> listeners = new ArrayList<>();
        try (VhostUserServer server = serve()) {
            HangGuard.await(() -> Files.exists(victimSocket), "the host socat listens");
            List<CompletableFuture<String>> received = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                ServerSocketChannel l = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
                listeners.add(l);
                l.bind(UnixDomainSocketAddress.of(dir.resolve("v.sock_" + (6100 + i))));
                received.add(CompletableFuture.supplyAsync(() -> {
                    try (SocketChannel s = l.accept()) {
                        return sha256(readHeldUntil(s, flowing, killed));
                    } catch (IOException | InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                }, threads));
            }
            CompletableFuture.allOf(received.toArray(CompletableFuture[]::new)).thenRun(this::received);
            // The victim's peer: the test takes its first bytes, then leaves its stdout pipe full, so it stops
            // reading and holds the guest's sender on its credit.
            CompletableFuture<Integer> victimEnd = CompletableFuture.supplyAsync(() -> {
                try {
                    if (victim.getInputStream().read() < 0) throw new AssertionError("the host socat got nothing");
                    flowing.countDown();
                    if (!flowing.await(HangGuard.BOUND.toSeconds(), TimeUnit.SECONDS))
                        throw new AssertionError("not every connection started");
                    victim.destroyForcibly(); // SIGKILL
                    int status = victim.waitFor();
                    killed.countDown();
                    return status;
                } catch (IOException | InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }, threads);
            CompletableFuture<String> sent = CompletableFuture.supplyAsync(() -> {
                try {
                    HangGuard.await(() -> Files.exists(dir.resolve("listening")), "the guest listens on 5003");
                    SocketChannel s = connect(5003);
                    try (s) {
                        ByteBuffer b = ByteBuffer.wrap(toGuest);
                        while (b.position() < size / 2) s.write(b.limit(size / 2));
                        flowing.countDown();
                        if (!killed.await(HangGuard.BOUND.toSeconds(), TimeUnit.SECONDS))
                            throw new AssertionError("no kill");
                        b.limit(size);
                        while (b.hasRemaining()) s.write(b);
                        s.shutdownOutput();
                        readAll(s);
                        return "sent";
                    }
                } catch (IOException | InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }, threads);
            Map<String, String> r = UserModeLinux.run(dir, server.socket(), VIRTIO_ID_VSOCK, MODULE, TRANSPORT + """
                    socat -u VSOCK-LISTEN:5003 CREATE:%1$s/from-host.bin &
                    l=$!
                    touch %1$s/listening
                    socat -u OPEN:/dev/zero VSOCK-CONNECT:2:6200 2>%1$s/victim.err &
                    v=$!
                    pids=""
                    for i in $(seq 0 %2$d); do
                        socat -u OPEN:%1$s/out/f$i VSOCK-CONNECT:2:$((6100 + i)) & pids="$pids $!"
                    done
                    wait $v; echo "victim=$?"
                    ok=0; for p in $pids; do wait $p && ok=$((ok+1)); done
                    echo "survivors=$ok"
                    for i in $(seq 1 3000); do [ -e %1$s/received ] && break; sleep 0.1; done
                    wait $l; echo "listen=$?"
                    echo "victim-error=$(tr '\\n' ' ' < %1$s/victim.err)"
                    """.formatted(dir, n - 1), 300);
            assertThat(r).as("results; console:%n%s", r.get(UserModeLinux.CONSOLE)).containsEntry("bound", "1")
                    .containsEntry("survivors", String.valueOf(n)).containsEntry("listen", "0");
            assertThat(victimEnd.get(HangGuard.BOUND.toSeconds(), TimeUnit.SECONDS)).as("killed by SIGKILL")
                    .isEqualTo(128 + 9);
            assertThat(r.get("victim")).as("the guest's sender to the killed peer fails").isNotEqualTo("0");
            assertThat(r.get("victim-error")).as("and says why").contains("Broken pipe");
            for (int i = 0; i < n; i++)
                assertThat(received.get(i).get(HangGuard.BOUND.toSeconds(), TimeUnit.SECONDS)).as("guest to host " + i)
                        .isEqualTo(toHostSums.get(i));
            assertThat(sent.get(HangGuard.BOUND.toSeconds(), TimeUnit.SECONDS)).isEqualTo("sent");
            assertThat(sha256(Files.readAllBytes(dir.resolve("from-host.bin")))).as("host to guest")
                    .isEqualTo(sha256(toGuest));
            assertThat(server.lastFailure()).isNull();
            System.out.printf("virtio-vsock under user-mode Linux: the killed peer's guest sender exited %s (%s);"
                    + " %d others whole%n", r.get("victim"), r.get("victim-error").strip(), n + 1);
        } finally {
            victim.destroyForcibly();
            victim.waitFor();
            for (ServerSocketChannel l : listeners) l.close();
        }
    }

    /** Tells the guest that the host has read everything it sent: it may power off. */
    private void received() {
        try {
            Files.createFile(dir.resolve("received"));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads a stream whole, but after its first bytes counts {@code flowing} down and waits for {@code go}. */
    private static byte[] readHeldUntil(SocketChannel s, CountDownLatch flowing, CountDownLatch go)
            throws IOException, InterruptedException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        ByteBuffer b = ByteBuffer.allocate(64 * 1024);
        boolean held = false;
        while (s.read(b.clear()) >= 0) {
            out.write(b.array(), 0, b.position());
            if (!held && out.size() > 0) {
                held = true;
                flowing.countDown();
                if (!go.await(HangGuard.BOUND.toSeconds(), TimeUnit.SECONDS)) throw new AssertionError("no kill");
            }
        }
        return out.toByteArray();
    }

    /** CONNECT to guest port {@code port}, again while the guest refuses; the socket after its OK line. */
    private SocketChannel connect(int port) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + HangGuard.BOUND.toNanos();
        while (true) {
            SocketChannel s = SocketChannel.open(UnixDomainSocketAddress.of(dir.resolve("v.sock")));
            s.write(ByteBuffer.wrap(("CONNECT " + port + "\n").getBytes(StandardCharsets.US_ASCII)));
            if (readLine(s).startsWith("OK ")) return s;
            s.close();
            if (System.nanoTime() > deadline) throw new AssertionError("the guest never accepted on port " + port);
            Thread.sleep(50); // a retry's pace, not an assertion's deadline
        }
    }

    /**
     * CONNECT to guest port {@code port} (again while the guest refuses), send {@code data}, half-close,
     * await the close.
     */
    private String connectAndSend(int port, byte[] data) {
        try {
            long deadline = System.nanoTime() + HangGuard.BOUND.toNanos();
            while (true) {
                try (SocketChannel s = SocketChannel.open(UnixDomainSocketAddress.of(dir.resolve("v.sock")))) {
                    s.write(ByteBuffer.wrap(("CONNECT " + port + "\n").getBytes(StandardCharsets.US_ASCII)));
                    String ok = readLine(s);
                    if (ok.startsWith("OK ")) {
                        ByteBuffer b = ByteBuffer.wrap(data);
                        while (b.hasRemaining()) s.write(b);
                        s.shutdownOutput();
                        readAll(s);
                        return ok;
                    }
                }
                if (System.nanoTime() > deadline) throw new AssertionError("the guest never accepted on port " + port);
                Thread.sleep(50); // a retry's pace, not an assertion's deadline
            }
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Sends {@code toGuest} on an accepted host connection, half-closes, and waits for the guest to close. */
    private String send(SocketChannel s, String ok) throws IOException {
        try (s) {
            ByteBuffer b = ByteBuffer.wrap(random(SIZE, 1));
            while (b.hasRemaining()) s.write(b);
            s.shutdownOutput();
            readAll(s);
            return ok;
        }
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static byte[] readAll(SocketChannel s) throws IOException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        ByteBuffer b = ByteBuffer.allocate(64 * 1024);
        while (s.read(b.clear()) >= 0) out.write(b.array(), 0, b.position());
        return out.toByteArray();
    }

    static String readLine(SocketChannel s) throws IOException {
        StringBuilder l = new StringBuilder();
        ByteBuffer b = ByteBuffer.allocate(1);
        while (s.read(b.clear()) > 0 && b.get(0) != '\n') l.append((char) b.get(0));
        return l.toString();
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
