package device.virtio_vsock;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vmm.core.machine.DeviceInstance;
import vmm.core.pci.PciAddress;
import vmm.emu.internal.vm.EmuHypervisor;
import vmm.testing.HangGuard;
import vmm.testing.linux.LinuxGuest;

/**
 * Linux's own vsock stack ({@code vsock}, {@code vmw_vsock_virtio_transport_common} and
 * {@code vmw_vsock_virtio_transport} of Debian's kernel package, through {@code virtio_pci}) against this device
 * on vmm.emu's software CPU, with the host's {@code socat} in the guest: a host process reaches a guest
 * {@code VSOCK-LISTEN} through the device's socket with {@code CONNECT}, a guest {@code VSOCK-CONNECT:2:P}
 * reaches a host listener on {@code PATH_P}, and the bytes arrive whole (SHA-256 equal on both sides), one
 * stream each way and several at once; a transfer survives two swaps of the device; a host peer killed with
 * SIGKILL resets only its own connection. The guest prints its side (checksums, exit statuses) on the console;
 * the host waits for those lines, never for a time. One boot per test: 26 s to a bound transport, 67 s and 35 s
 * for the two tests on the shared two-core development machine (load 4 to 5).
 */
class VsockLinuxDriverTest {
    private static final String[] MODULES =
            {"virtio_pci", "vsock", "vmw_vsock_virtio_transport_common", "vmw_vsock_virtio_transport"};
    private static final String SOCAT = "/usr/bin/socat";
    /** Bytes of the one stream each way (the software CPU moves a few MiB/s; the figures are in the notes). */
    private static final int SIZE = Integer.getInteger("vsock.emu.bytes", 4 << 20);
    /** Connections each way at once, and the bytes of each. */
    private static final int PARALLEL = 8, PARALLEL_SIZE = 256 << 10;
    /**
     * The transport's check, and {@code send FILE PORT}: a guest connect to the host's port, tried again when Linux
     * timed it out. Linux gives a vsock connect 2 s, which socat cannot change, and a loaded host may answer later;
     * such a connect may still reach the host, which then sees it end empty (see {@link #acceptAndReadAll}).
     */
    private static final String BOUND = """
            mkdir -p /tmp
            drv=/sys/bus/virtio/drivers/vmw_vsock_virtio_transport
            echo VSOCK-BOUND=$(ls $drv | grep -c virtio)
            send() {
                t=1
                until socat -u OPEN:$1 VSOCK-CONNECT:2:$2 2>/tmp/err$2; do
                    grep -q 'Connection timed out' /tmp/err$2 && [ $t -lt 5 ] || { cat /tmp/err$2; return 1; }
                    t=$((t+1)); echo retry >> /tmp/retries
                done
            }
            """;
    /** The guest's last step: it waits for the host's word that it has read everything, then powers off. */
    private static final String HOST_DONE = """
            echo RETRIES=$(cat /tmp/retries 2>/dev/null | wc -l)
            socat -u VSOCK-LISTEN:5999 CREATE:/tmp/done; echo DONE-EXIT=$?
            cat /tmp/done
            """;

    @TempDir
    Path dir;

    private Path socket() {
        return dir.resolve("v.sock");
    }

    private LinuxGuest guest(String script) throws Exception {
        return LinuxGuest.builder(new EmuHypervisor()).modules(MODULES).programs(SOCAT).script(script).create(dir);
    }

    private DeviceInstance plug(LinuxGuest guest) {
        return guest.machine().plug("vsock", "virtio-vsock", PciAddress.slot(3),
                Map.of("cid", "3", "path", socket().toString()), "virtio-vsock", new VsockProvider());
    }

    @Test
    void linuxsTransportCarriesAStreamEachWayAndManyAtOnceWithEveryByte() throws Exception {
        byte[] toGuest = random(SIZE, 1);
        List<byte[]> toGuestEach = new ArrayList<>();
        for (int i = 0; i < PARALLEL; i++) toGuestEach.add(random(PARALLEL_SIZE, 100 + i));
        String script = BOUND + """
                head -c %1$d /dev/urandom > /tmp/to-host
                echo TO-HOST-SHA=$(sha256sum /tmp/to-host | cut -c1-64)
                socat -u VSOCK-LISTEN:5000 CREATE:/tmp/from-host &
                l=$!
                echo VSOCK-LISTENING=5000
                wait $l; echo LISTEN-EXIT=$?
                echo FROM-HOST-SHA=$(sha256sum /tmp/from-host | cut -c1-64)
                send /tmp/to-host 6000; echo CONNECT-EXIT=$?
                pids=""
                for i in $(seq 0 %2$d); do
                    head -c %3$d /dev/urandom > /tmp/out$i
                    echo OUT-SHA-$i=$(sha256sum /tmp/out$i | cut -c1-64)
                    socat -u VSOCK-LISTEN:$((5100 + i)) CREATE:/tmp/in$i & pids="$pids $!"
                done
                echo VSOCK-LISTENING=5100
                for i in $(seq 0 %2$d); do
                    send /tmp/out$i $((6100 + i)) & pids="$pids $!"
                done
                ok=0; for p in $pids; do wait $p && ok=$((ok + 1)); done
                for i in $(seq 0 %2$d); do echo IN-SHA-$i=$(sha256sum /tmp/in$i | cut -c1-64); done
                echo PARALLEL-OK=$ok
                """.formatted(SIZE, PARALLEL - 1, PARALLEL_SIZE) + HOST_DONE;
        List<ServerSocketChannel> listeners = new ArrayList<>();
        try (LinuxGuest guest = guest(script)) {
            plug(guest);
            AtomicInteger empty = new AtomicInteger();
            CompletableFuture<Timed> fromGuest = acceptAndReadAll(listen(6000, listeners), empty);
            List<CompletableFuture<Timed>> fromGuestEach = new ArrayList<>();
            for (int i = 0; i < PARALLEL; i++) fromGuestEach.add(acceptAndReadAll(listen(6100 + i, listeners), empty));
            long t0 = System.nanoTime();
            guest.boot();
            assertThat(awaitValue(guest, "VSOCK-BOUND")).as("the transport bound our device").isEqualTo("1");
            double boot = (System.nanoTime() - t0) / 1e9;

            guest.await("VSOCK-LISTENING=5000");
            long sending = System.nanoTime();
            send(connect(5000), toGuest);
            double hostToGuest = (System.nanoTime() - sending) / 1e9;
            assertThat(awaitValue(guest, "LISTEN-EXIT")).isEqualTo("0");
            assertThat(awaitValue(guest, "FROM-HOST-SHA")).as("host to guest").isEqualTo(sha256(toGuest));
            Timed got = fromGuest.get(LinuxGuest.BOUND.toSeconds(), TimeUnit.SECONDS);
            assertThat(awaitValue(guest, "CONNECT-EXIT")).isEqualTo("0");
            assertThat(sha256(got.bytes())).as("guest to host").isEqualTo(awaitValue(guest, "TO-HOST-SHA"));

            guest.await("VSOCK-LISTENING=5100");
            List<CompletableFuture<Void>> sent = new ArrayList<>();
            for (int i = 0; i < PARALLEL; i++) {
                int port = 5100 + i;
                byte[] b = toGuestEach.get(i);
                sent.add(async(() -> {
                    send(connect(port), b);
                    return null;
                }));
            }
            for (CompletableFuture<Void> f : sent) f.get(LinuxGuest.BOUND.toSeconds(), TimeUnit.SECONDS);
            assertThat(awaitValue(guest, "PARALLEL-OK")).as("guest listeners and senders that ended well; console:%n%s",
                    guest.console()).isEqualTo(String.valueOf(2 * PARALLEL));
            for (int i = 0; i < PARALLEL; i++) {
                assertThat(awaitValue(guest, "IN-SHA-" + i)).as("host to guest on port " + (5100 + i))
                        .isEqualTo(sha256(toGuestEach.get(i)));
                byte[] b = fromGuestEach.get(i).get(LinuxGuest.BOUND.toSeconds(), TimeUnit.SECONDS).bytes();
                assertThat(sha256(b)).as("guest to host on port " + (6100 + i))
                        .isEqualTo(awaitValue(guest, "OUT-SHA-" + i));
            }

            int retries = Integer.parseInt(awaitValue(guest, "RETRIES"));
            assertThat(empty.get()).as("empty host connections: only guest connects that timed out and were tried again")
                    .isLessThanOrEqualTo(retries);
            String console = finish(guest);
            assertThat(console).contains("HOST-DONE").doesNotContain("LINUXGUEST-INSMOD-FAILED");
            System.out.printf("virtio-vsock, Linux on the software CPU: boot to a bound transport %.1f s;"
                    + " %d MiB host->guest %.1f s (%.2f MiB/s), guest->host %.1f s (%.2f MiB/s);"
                    + " %d connections each way of %d KiB%n", boot, SIZE >> 20, hostToGuest,
                    (SIZE >> 20) / hostToGuest, got.seconds(), (SIZE >> 20) / got.seconds(), PARALLEL,
                    PARALLEL_SIZE >> 10);
        } finally {
            for (ServerSocketChannel l : listeners) l.close();
        }
    }

    /**
     * A guest sender to the host, held by its credit while the host stops reading, across two swaps of the
     * device; then three connections in flight (guest to host, host to guest, and one to a host {@code socat}
     * that is killed with SIGKILL): the killed peer's guest sender sees the reset (Linux reports an RST to a
     * writer as EPIPE) and the other two finish with every byte.
     */
    @Test
    void aTransferSurvivesTwoSwapsAndAKilledHostPeerResetsOnlyItsConnection() throws Exception {
        int swapSize = 4 << 20, survivorSize = 1 << 20, toGuestSize = 1 << 20;
        byte[] toGuest = random(toGuestSize, 2);
        String script = BOUND + """
                head -c %1$d /dev/urandom > /tmp/swap
                echo SWAP-SHA=$(sha256sum /tmp/swap | cut -c1-64)
                send /tmp/swap 6002; echo SWAP-CONNECT-EXIT=$?
                head -c %2$d /dev/urandom > /tmp/survivor
                echo SURVIVOR-SHA=$(sha256sum /tmp/survivor | cut -c1-64)
                socat -u VSOCK-LISTEN:5003 CREATE:/tmp/from-host &
                l=$!
                echo VSOCK-LISTENING=5003
                socat -u OPEN:/dev/zero VSOCK-CONNECT:2:6200 2>/tmp/victim.err &
                v=$!
                send /tmp/survivor 6201; echo SURVIVOR-EXIT=$?
                wait $v; echo VICTIM-EXIT=$?
                echo VICTIM-ERROR=$(tr '\\n' ' ' < /tmp/victim.err)
                wait $l; echo LISTEN-EXIT=$?
                echo FROM-HOST-SHA=$(sha256sum /tmp/from-host | cut -c1-64)
                """.formatted(swapSize, survivorSize) + HOST_DONE;
        Path victimSocket = dir.resolve("v.sock_6200");
        Process victim = new ProcessBuilder(SOCAT, "-u", "UNIX-LISTEN:" + victimSocket, "STDOUT")
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        List<ServerSocketChannel> listeners = new ArrayList<>();
        try (LinuxGuest guest = guest(script)) {
            DeviceInstance device = plug(guest);
            HangGuard.await(() -> Files.exists(victimSocket), "the host socat listens");
            // The host reads a quarter, then stops until both swaps are done: the guest is held by its credit,
            // so the swaps fall inside the transfer however the threads are scheduled.
            CountDownLatch quarter = new CountDownLatch(1), swapped = new CountDownLatch(1);
            CompletableFuture<byte[]> swapStream = acceptHeld(listen(6002, listeners), swapSize / 4, quarter,
                    swapped);
            // Each connection's first bytes arrived (the victim's, the survivor's, the host sender's half);
            // then the kill, then the survivors go on.
            CountDownLatch flowing = new CountDownLatch(3), killed = new CountDownLatch(1);
            CompletableFuture<byte[]> survivor = acceptHeld(listen(6201, listeners), 1, flowing, killed);
            guest.boot();
            assertThat(awaitValue(guest, "VSOCK-BOUND")).as("the transport bound our device").isEqualTo("1");

            await(quarter, guest, "a quarter of the stream to port 6002 arrived");
            device.swapTo("virtio-vsock-2", new VsockProvider());
            device.swapTo("virtio-vsock", new VsockProvider());
            swapped.countDown();
            assertThat(device.swapCount()).isEqualTo(2);
            assertThat(awaitValue(guest, "SWAP-CONNECT-EXIT")).isEqualTo("0");
            assertThat(sha256(swapStream.get(LinuxGuest.BOUND.toSeconds(), TimeUnit.SECONDS)))
                    .as("guest to host across two swaps").isEqualTo(awaitValue(guest, "SWAP-SHA"));

            guest.await("VSOCK-LISTENING=5003");
            CompletableFuture<Void> victimRead = async(() -> {
                // The test takes the victim's first byte, then leaves its stdout pipe full: it stops reading and
                // holds the guest's sender on its credit.
                if (victim.getInputStream().read() < 0) throw new AssertionError("the host socat got nothing");
                flowing.countDown();
                return null;
            });
            CompletableFuture<Void> sent = async(() -> {
                try (SocketChannel s = connect(5003)) {
                    ByteBuffer b = ByteBuffer.wrap(toGuest);
                    while (b.position() < toGuestSize / 2) s.write(b.limit(toGuestSize / 2));
                    flowing.countDown();
                    if (!killed.await(LinuxGuest.BOUND.toSeconds(), TimeUnit.SECONDS))
                        throw new AssertionError("no kill");
                    b.limit(toGuestSize);
                    while (b.hasRemaining()) s.write(b);
                    s.shutdownOutput();
                    readAll(s);
                }
                return null;
            });
            await(flowing, guest, "every connection started");
            victimRead.get(LinuxGuest.BOUND.toSeconds(), TimeUnit.SECONDS);
            victim.destroyForcibly(); // SIGKILL
            assertThat(victim.waitFor()).as("killed by SIGKILL").isEqualTo(128 + 9);
            killed.countDown();

            assertThat(awaitValue(guest, "SURVIVOR-EXIT")).isEqualTo("0");
            assertThat(awaitValue(guest, "VICTIM-EXIT")).as("the guest's sender to the killed peer fails")
                    .isNotEqualTo("0");
            assertThat(awaitValue(guest, "VICTIM-ERROR")).as("and says why").contains("Broken pipe");
            sent.get(LinuxGuest.BOUND.toSeconds(), TimeUnit.SECONDS);
            assertThat(awaitValue(guest, "LISTEN-EXIT")).isEqualTo("0");
            assertThat(awaitValue(guest, "FROM-HOST-SHA")).as("host to guest").isEqualTo(sha256(toGuest));
            assertThat(sha256(survivor.get(LinuxGuest.BOUND.toSeconds(), TimeUnit.SECONDS)))
                    .as("guest to host beside the killed peer").isEqualTo(awaitValue(guest, "SURVIVOR-SHA"));

            String console = finish(guest);
            assertThat(console).contains("HOST-DONE").doesNotContain("LINUXGUEST-INSMOD-FAILED");
            System.out.printf("virtio-vsock, Linux on the software CPU: %d MiB across two swaps; the killed peer's"
                    + " guest sender exited %s (%s); the two others whole%n", swapSize >> 20,
                    awaitValue(guest, "VICTIM-EXIT"), awaitValue(guest, "VICTIM-ERROR").strip());
        } finally {
            victim.destroyForcibly();
            victim.waitFor();
            for (ServerSocketChannel l : listeners) l.close();
        }
    }

    /** Tells the guest that the host has everything, waits for its power-off and checks its script's status. */
    private String finish(LinuxGuest guest) throws Exception {
        String console;
        try (SocketChannel s = connect(5999)) {
            s.write(ByteBuffer.wrap("HOST-DONE\n".getBytes(US_ASCII)));
            s.shutdownOutput();
            // Not waiting for the guest's close: it may power off before its close reaches the device.
            console = guest.awaitPowerOff();
        }
        assertThat(guest.scriptExitStatus()).as(console).isZero();
        assertThat(console).contains("DONE-EXIT=0");
        return console;
    }

    /**
     * Waits for {@code latch}; an {@link AssertionError} with the console when the guest's script ends first or
     * the hang guard passes.
     */
    private static void await(CountDownLatch latch, LinuxGuest guest, String what) throws InterruptedException {
        long deadline = System.nanoTime() + LinuxGuest.BOUND.toNanos();
        while (!latch.await(100, TimeUnit.MILLISECONDS)) {
            if (guest.console().contains(LinuxGuest.EXIT_MARKER) || System.nanoTime() > deadline)
                throw new AssertionError("not the case: " + what + "; console:\n" + guest.console());
        }
    }

    /**
     * Waits until the console holds a whole line {@code KEY=value} and returns the value (of the last such line);
     * an {@link AssertionError} with the console when the machine ends first or the hang guard passes.
     */
    private static String awaitValue(LinuxGuest guest, String key) throws InterruptedException {
        guest.await(key + "=");
        Pattern line = Pattern.compile("(?m)" + Pattern.quote(key) + "=([^\r\n]*)\r?\n");
        // The rest of the line follows within microseconds of its start on the serial port.
        HangGuard.await(() -> line.matcher(guest.console()).find(), "the whole line " + key + "=");
        Matcher m = line.matcher(guest.console());
        String value = null;
        while (m.find()) value = m.group(1);
        return value;
    }

    private ServerSocketChannel listen(int port, List<ServerSocketChannel> listeners) throws IOException {
        ServerSocketChannel l = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        listeners.add(l);
        l.bind(UnixDomainSocketAddress.of(dir.resolve("v.sock_" + port)));
        return l;
    }

    /** CONNECT to guest port {@code port}, again while the guest refuses; the socket after its OK line. */
    private SocketChannel connect(int port) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + LinuxGuest.BOUND.toNanos();
        while (true) {
            SocketChannel s = SocketChannel.open(UnixDomainSocketAddress.of(socket()));
            s.write(ByteBuffer.wrap(("CONNECT " + port + "\n").getBytes(US_ASCII)));
            if (readLine(s).startsWith("OK ")) return s;
            s.close();
            if (System.nanoTime() > deadline) throw new AssertionError("the guest never accepted on port " + port);
            // The guest printed that it starts its listener; until socat listens, the guest refuses.
            Thread.sleep(50); // a retry's pace, not an assertion's deadline
        }
    }

    /** Sends {@code data} on a CONNECTed socket, half-closes, and waits for the guest to close. */
    private static void send(SocketChannel s, byte[] data) throws IOException {
        try (s) {
            ByteBuffer b = ByteBuffer.wrap(data);
            while (b.hasRemaining()) s.write(b);
            s.shutdownOutput();
            readAll(s);
        }
    }

    private record Timed(byte[] bytes, double seconds) {}

    /**
     * Accepts connections until one carries bytes and reads it whole; the seconds from its accept to the end. A
     * connection that ends empty is a guest connect Linux timed out and the guest tries again: counted in
     * {@code empty}.
     */
    private static CompletableFuture<Timed> acceptAndReadAll(ServerSocketChannel l, AtomicInteger empty) {
        return async(() -> {
            while (true) {
                try (SocketChannel s = l.accept()) {
                    long t0 = System.nanoTime();
                    byte[] b = readAll(s);
                    if (b.length > 0) return new Timed(b, (System.nanoTime() - t0) / 1e9);
                    empty.incrementAndGet();
                }
            }
        });
    }

    /**
     * Accepts one connection and reads it whole, but once {@code first} bytes arrived counts {@code arrived} down
     * and reads no more until {@code go}.
     */
    private static CompletableFuture<byte[]> acceptHeld(ServerSocketChannel l, int first, CountDownLatch arrived,
                                                        CountDownLatch go) {
        return async(() -> {
            while (true) {
                byte[] got = readHeld(l, first, arrived, go);
                if (got.length > 0) return got; // an empty one was a guest connect that timed out and is tried again
            }
        });
    }

    private static byte[] readHeld(ServerSocketChannel l, int first, CountDownLatch arrived, CountDownLatch go)
            throws Exception {
        {
            try (SocketChannel s = l.accept()) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                ByteBuffer b = ByteBuffer.allocate(64 * 1024);
                boolean held = false;
                while (s.read(b.clear()) >= 0) {
                    out.write(b.array(), 0, b.position());
                    if (!held && out.size() >= first) {
                        held = true;
                        arrived.countDown();
                        if (!go.await(LinuxGuest.BOUND.toSeconds(), TimeUnit.SECONDS))
                            throw new AssertionError("never let go on");
                    }
                }
                return out.toByteArray();
            }
        }
    }

    /** On a platform thread of its own: the common pool may have one worker on a small machine, and these block. */
    private static <T> CompletableFuture<T> async(Callable<T> work) {
        CompletableFuture<T> f = new CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            try {
                f.complete(work.call());
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        });
        return f;
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] readAll(SocketChannel s) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer b = ByteBuffer.allocate(64 * 1024);
        while (s.read(b.clear()) >= 0) out.write(b.array(), 0, b.position());
        return out.toByteArray();
    }

    private static String readLine(SocketChannel s) throws IOException {
        StringBuilder l = new StringBuilder();
        ByteBuffer b = ByteBuffer.allocate(1);
        while (s.read(b.clear()) > 0 && b.get(0) != '\n') l.append((char) b.get(0));
        return l.toString();
    }

    private static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
