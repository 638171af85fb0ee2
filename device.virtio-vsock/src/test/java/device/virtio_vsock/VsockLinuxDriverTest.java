package device.virtio_vsock;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

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

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
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
 * the host waits for those lines, never for a time.
 *
 * <p>One guest for the whole class (a boot on the software CPU is most of the time): its script runs the
 * steps in order, and each test method checks one step, in that order; a step whose predecessor failed is
 * skipped, since the guest did not get there. The sizes are chosen for what they prove, not for volume: both
 * ends give 256 KiB of credit per connection (Linux's default vsock buffer, and the device's
 * {@code Limits.DEFAULT} buf_alloc), so a 1 MiB stream runs through its window four times and needs the
 * credit updates of both sides; the streams at once are 8 of 128 KiB each way, so they interleave on the
 * queues; the swapped stream is 1 MiB and the host stops reading after its first 64 KiB, so at most that,
 * the host socket's buffer and the device's 256 KiB have left the guest when the swaps happen and its sender
 * is still held by its credit (checked: it has not ended). On the software CPU a guest process start (socat
 * is dynamic) costs more than a MiB moved, so the steps keep their processes and lose bytes. On the shared
 * two-core development machine, back to back: 193 s at load 16 to 19 (93 s of it the boot), against 312 s
 * at load 13 to 16 for a boot per step and 4 MiB streams (94 s in CI).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class VsockLinuxDriverTest {
    private static final String[] MODULES =
            {"virtio_pci", "vsock", "vmw_vsock_virtio_transport_common", "vmw_vsock_virtio_transport"};
    private static final String SOCAT = "/usr/bin/socat";
    /** Bytes of the one stream each way: four of the 256 KiB credit windows. */
    private static final int SIZE = Integer.getInteger("vsock.emu.bytes", 1 << 20);
    /** Connections each way at once, and the bytes of each. */
    private static final int PARALLEL = 8, PARALLEL_SIZE = 128 << 10;
    /** The stream across the swaps, and what the host reads of it before it stops until both swaps are done. */
    private static final int SWAP_SIZE = 1 << 20, SWAP_HELD_AFTER = 64 << 10;
    /** The guest's stream beside the killed peer, and the host's stream to the guest beside it. */
    private static final int SURVIVOR_SIZE = 1 << 20, TO_GUEST_BESIDE_SIZE = 1 << 20;
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
    /** Step 1: one stream each way, then {@link #PARALLEL} at once each way. */
    private static final String STREAMS = """
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
            """.formatted(SIZE, PARALLEL - 1, PARALLEL_SIZE);
    /** Step 2: a stream across two swaps, then three connections of which the host kills one's peer. */
    private static final String SWAPS_AND_KILL = """
            head -c %1$d /dev/urandom > /tmp/swap
            echo SWAP-SHA=$(sha256sum /tmp/swap | cut -c1-64)
            send /tmp/swap 6002; echo SWAP-CONNECT-EXIT=$?
            head -c %2$d /dev/urandom > /tmp/survivor
            echo SURVIVOR-SHA=$(sha256sum /tmp/survivor | cut -c1-64)
            socat -u VSOCK-LISTEN:5003 CREATE:/tmp/beside &
            l=$!
            echo VSOCK-LISTENING=5003
            socat -u OPEN:/dev/zero VSOCK-CONNECT:2:6200 2>/tmp/victim.err &
            v=$!
            send /tmp/survivor 6201; echo SURVIVOR-EXIT=$?
            wait $v; echo VICTIM-EXIT=$?
            echo VICTIM-ERROR=$(tr '\\n' ' ' < /tmp/victim.err)
            wait $l; echo BESIDE-LISTEN-EXIT=$?
            echo BESIDE-SHA=$(sha256sum /tmp/beside | cut -c1-64)
            """.formatted(SWAP_SIZE, SURVIVOR_SIZE);
    /** The guest's last step: it waits for the host's word that it has read everything, then powers off. */
    private static final String HOST_DONE = """
            echo RETRIES=$(cat /tmp/retries 2>/dev/null | wc -l)
            socat -u VSOCK-LISTEN:5999 CREATE:/tmp/done; echo DONE-EXIT=$?
            cat /tmp/done
            """;

    @TempDir
    static Path dir;

    private final List<ServerSocketChannel> listeners = new ArrayList<>();
    /** Host connections that ended empty: guest connects Linux timed out, tried again by the guest. */
    private final AtomicInteger empty = new AtomicInteger();
    private LinuxGuest guest;
    private DeviceInstance device;
    private Process victim;
    private double boot;
    /** The steps that passed, in order: a step runs only on a guest that got through the ones before. */
    private int passed;

    // Step 1's host ends.
    private final byte[] toGuest = random(SIZE, 1);
    private final List<byte[]> toGuestEach = new ArrayList<>();
    private CompletableFuture<Timed> fromGuest;
    private final List<CompletableFuture<Timed>> fromGuestEach = new ArrayList<>();
    // Step 2's: the host reads the swapped stream's first bytes, then stops until both swaps are done, so the
    // guest is held by its credit and the swaps fall inside the transfer however the threads are scheduled.
    private final CountDownLatch swapHeld = new CountDownLatch(1), swapped = new CountDownLatch(1);
    private CompletableFuture<byte[]> swapStream;
    // Each connection's first bytes arrived (the victim's, the survivor's, the host sender's half); then the
    // kill, then the survivors go on.
    private final CountDownLatch flowing = new CountDownLatch(3), killed = new CountDownLatch(1);
    private CompletableFuture<byte[]> survivor;
    private final byte[] toGuestBeside = random(TO_GUEST_BESIDE_SIZE, 2);

    /**
     * Everything the host offers the guest's script is there before it boots (it runs on without waiting for
     * the test methods): the listeners the guest connects to and the host socat to be killed.
     */
    @BeforeAll
    void bootOneGuestForEveryStep() throws Exception {
        for (int i = 0; i < PARALLEL; i++) toGuestEach.add(random(PARALLEL_SIZE, 100 + i));
        Path victimSocket = dir.resolve("v.sock_6200");
        victim = new ProcessBuilder(SOCAT, "-u", "UNIX-LISTEN:" + victimSocket, "STDOUT")
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        HangGuard.await(() -> Files.exists(victimSocket), "the host socat listens");
        fromGuest = acceptAndReadAll(listen(6000), empty);
        for (int i = 0; i < PARALLEL; i++) fromGuestEach.add(acceptAndReadAll(listen(6100 + i), empty));
        swapStream = acceptHeld(listen(6002), SWAP_HELD_AFTER, swapHeld, swapped, empty);
        survivor = acceptHeld(listen(6201), 1, flowing, killed, empty);
        guest = LinuxGuest.builder(new EmuHypervisor()).modules(MODULES).programs(SOCAT)
                .script(BOUND + STREAMS + SWAPS_AND_KILL + HOST_DONE).create(dir);
        device = guest.machine().plug("vsock", "virtio-vsock", PciAddress.slot(3),
                Map.of("cid", "3", "path", socket().toString()), "virtio-vsock", new VsockProvider());
        long t0 = System.nanoTime();
        guest.boot();
        guest.await("VSOCK-BOUND=");
        boot = (System.nanoTime() - t0) / 1e9;
    }

    @AfterAll
    void stopTheGuest() throws Exception {
        try {
            if (guest != null) guest.close();
        } finally {
            if (victim != null) {
                victim.destroyForcibly();
                victim.waitFor();
            }
            for (ServerSocketChannel l : listeners) l.close();
        }
    }

    private static Path socket() {
        return dir.resolve("v.sock");
    }

    /** Skips a step whose predecessors did not all pass: the guest's script never got to it. */
    private void afterStep(int step) {
        assumeTrue(passed == step, "an earlier step on this guest failed, so its script did not get here");
    }

    @Test
    @Order(1)
    void linuxsTransportCarriesAStreamEachWayAndManyAtOnceWithEveryByte() throws Exception {
        afterStep(0);
        assertThat(awaitValue(guest, "VSOCK-BOUND")).as("the transport bound our device").isEqualTo("1");

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
        System.out.printf("virtio-vsock, Linux on the software CPU: boot to a bound transport %.1f s;"
                + " %d KiB host->guest %.1f s (%.2f MiB/s), guest->host %.1f s (%.2f MiB/s);"
                + " %d connections each way of %d KiB%n", boot, SIZE >> 10, hostToGuest,
                SIZE / 1048576.0 / hostToGuest, got.seconds(), SIZE / 1048576.0 / got.seconds(), PARALLEL,
                PARALLEL_SIZE >> 10);
        passed = 1;
    }

    /**
     * A guest sender to the host, held by its credit while the host stops reading, across two swaps of the
     * device; then three connections in flight (guest to host, host to guest, and one to a host {@code socat}
     * that is killed with SIGKILL): the killed peer's guest sender sees the reset (Linux reports an RST to a
     * writer as EPIPE) and the other two finish with every byte.
     */
    @Test
    @Order(2)
    void aTransferSurvivesTwoSwapsAndAKilledHostPeerResetsOnlyItsConnection() throws Exception {
        afterStep(1);
        await(swapHeld, guest, "the first bytes of the stream to port 6002 arrived");
        assertThat(guest.console()).as("the guest's sender is held by its credit while the device swaps")
                .doesNotContain("SWAP-CONNECT-EXIT=");
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
            int size = toGuestBeside.length;
            try (SocketChannel s = connect(5003)) {
                ByteBuffer b = ByteBuffer.wrap(toGuestBeside);
                while (b.position() < size / 2) s.write(b.limit(size / 2));
                flowing.countDown();
                if (!killed.await(LinuxGuest.BOUND.toSeconds(), TimeUnit.SECONDS))
                    throw new AssertionError("no kill");
                b.limit(size);
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
        assertThat(awaitValue(guest, "BESIDE-LISTEN-EXIT")).isEqualTo("0");
        assertThat(awaitValue(guest, "BESIDE-SHA")).as("host to guest beside the killed peer")
                .isEqualTo(sha256(toGuestBeside));
        assertThat(sha256(survivor.get(LinuxGuest.BOUND.toSeconds(), TimeUnit.SECONDS)))
                .as("guest to host beside the killed peer").isEqualTo(awaitValue(guest, "SURVIVOR-SHA"));
        System.out.printf("virtio-vsock, Linux on the software CPU: %d KiB across two swaps; the killed peer's"
                + " guest sender exited %s (%s); the two others whole%n", SWAP_SIZE >> 10,
                awaitValue(guest, "VICTIM-EXIT"), awaitValue(guest, "VICTIM-ERROR").strip());
        passed = 2;
    }

    /**
     * The guest's script ends well and powers off once the host has read everything; every host connection
     * that ended empty, over both steps, was a guest connect that Linux timed out and the guest tried again.
     */
    @Test
    @Order(3)
    void everyEmptyHostConnectionWasARetriedGuestConnectAndTheGuestEndsWell() throws Exception {
        afterStep(2);
        int retries = Integer.parseInt(awaitValue(guest, "RETRIES"));
        assertThat(empty.get()).as("empty host connections: only guest connects that timed out and were tried again")
                .isLessThanOrEqualTo(retries);
        String console = finish(guest);
        assertThat(console).contains("HOST-DONE").doesNotContain("LINUXGUEST-INSMOD-FAILED");
        System.out.printf("virtio-vsock, Linux on the software CPU: %d guest connects timed out and were tried"
                + " again, %d reached the host empty%n", retries, empty.get());
        passed = 3;
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

    private ServerSocketChannel listen(int port) throws IOException {
        ServerSocketChannel l = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        listeners.add(l);
        l.bind(UnixDomainSocketAddress.of(dir.resolve("v.sock_" + port)));
        return l;
    }

    /** CONNECT to guest port {@code port}, again while the guest refuses; the socket after its OK line. */
    private static SocketChannel connect(int port) throws IOException, InterruptedException {
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
     * Accepts connections until one carries bytes and reads it whole, but once {@code first} bytes arrived counts
     * {@code arrived} down and reads no more until {@code go}; one that ends empty is counted in {@code empty}.
     */
    private static CompletableFuture<byte[]> acceptHeld(ServerSocketChannel l, int first, CountDownLatch arrived,
                                                        CountDownLatch go, AtomicInteger empty) {
        return async(() -> {
            while (true) {
                byte[] got = readHeld(l, first, arrived, go);
                if (got.length > 0) return got;
                empty.incrementAndGet(); // a guest connect that timed out and is tried again
            }
        });
    }

    private static byte[] readHeld(ServerSocketChannel l, int first, CountDownLatch arrived, CountDownLatch go)
            throws Exception {
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
