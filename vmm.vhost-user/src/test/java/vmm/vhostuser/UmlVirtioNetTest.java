package vmm.vhostuser;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import device.viona.VionaProvider;
import device.virtio_net.VirtioNetProvider;
import vmm.core.device.DeviceProvider;
import vmm.testing.HangGuard;

/**
 * A real Linux {@code virtio_net} driver (user-mode Linux over vhost-user)
 * on our virtio-net and viona: the link comes up, the guest pings an
 * address on the TAP's far side in a network namespace and runs iperf3
 * against a server there; and the device moves from virtio-net to viona and
 * back while iperf3 runs, with the link up and the transfer intact.
 */
class UmlVirtioNetTest {
    private static final int VIRTIO_ID_NET = 1;
    /** virtio_net needs these two loaded first; the harness loads the first. */
    private static final String MODULE = "net/core/failover.ko";
    private static final String HOST_IP = "10.199.9.1", GUEST_IP = "10.199.9.2";

    @TempDir
    Path dir;
    private final String ns = "vmmuml-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x10000, 0xfffff));
    private final String tap = "vut" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x10000, 0xfffff));
    private Process iperfServer;
    private boolean nsMade;

    @BeforeEach
    void requireUmlRootAndTools() throws Exception {
        String missing = UserModeLinux.missing();
        assumeTrue(missing == null, () -> "user-mode Linux cannot run here: " + missing);
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root for a TAP in a network namespace");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/iperf3")), "needs iperf3 (apt-get install iperf3)");
        try {
            sh("ip", "netns", "add", ns);
            nsMade = true;
        } catch (IOException e) {
            assumeTrue(false, "cannot make a network namespace here: " + e.getMessage());
        }
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (iperfServer != null) iperfServer.destroyForcibly().waitFor(HangGuard.BOUND.toSeconds(), TimeUnit.SECONDS);
        // After a skip there is no namespace to remove. Deleting it takes the TAP with it if it is still there.
        if (nsMade) sh("ip", "netns", "del", ns);
    }

    private VhostUserServer serve(String implementation, DeviceProvider provider, String offload) throws Exception {
        VhostUserServer s = VhostUserServer.start(dir.resolve("net.sock"), "uml-net",
                Map.of("tap", tap, "mac", "52:54:00:12:34:56", "offload", offload), implementation, provider);
        // The device made the TAP in our namespace; the far end lives in the test's namespace.
        sh("ip", "link", "set", tap, "netns", ns);
        sh("ip", "-n", ns, "addr", "add", HOST_IP + "/24", "dev", tap);
        sh("ip", "-n", ns, "link", "set", tap, "up");
        iperfServer = new ProcessBuilder("ip", "netns", "exec", ns, "iperf3", "-s", "-B", HOST_IP)
                .redirectErrorStream(true).redirectOutput(dir.resolve("iperf-server.txt").toFile()).start();
        return s;
    }

    /**
     * The guest side: driver, address, link state, ping, iperf3 (JSON to iperf.json); with
     * {@code untilSwapped}, iperf3 runs of {@code seconds} one after another until the host has
     * created the file {@code swapped} (so the swaps fall inside the transfer however slow the host is).
     * The guest's waits for its link are bounded generously, as hang guards.
     */
    private String guest(int seconds, boolean untilSwapped) {
        return """
                busybox insmod /usr/lib/uml/modules/$(uname -r)/kernel/drivers/net/net_failover.ko
                busybox insmod /usr/lib/uml/modules/$(uname -r)/kernel/drivers/net/virtio_net.ko
                for i in $(seq 1 600); do [ -e /sys/class/net/eth0 ] && break; sleep 0.1; done
                ip link set eth0 up
                ip addr add %2$s/24 dev eth0
                for i in $(seq 1 600); do [ "$(cat /sys/class/net/eth0/operstate)" = up ] && break; sleep 0.1; done
                echo "operstate=$(cat /sys/class/net/eth0/operstate)"
                echo "features=$(cat /sys/class/net/eth0/device/features 2>/dev/null)"
                busybox ping -c 3 -W 2 %3$s > %1$s/ping.txt 2>&1; echo "ping=$?"
                touch %1$s/iperf-started
                while :; do
                    iperf3 -c %3$s -t %4$d -J > %1$s/iperf.json 2>&1; rc=$?
                    [ $rc -ne 0 ] || [ %5$s = false ] || [ -e %1$s/swapped ] && break
                done
                echo "iperf=$rc"
                touch %1$s/iperf-finished
                echo "operstate-after=$(cat /sys/class/net/eth0/operstate)"
                busybox ping -c 2 -W 2 %3$s > %1$s/ping-after.txt 2>&1; echo "ping-after=$?"
                """.formatted(dir, GUEST_IP, HOST_IP, seconds, untilSwapped);
    }

    private double receivedMbps() throws IOException {
        String json = Files.readString(dir.resolve("iperf.json"));
        int at = json.indexOf("\"sum_received\"");
        Matcher m = Pattern.compile("\"bits_per_second\":\\s*([0-9.e+]+)").matcher(json);
        assertThat(at).as("iperf3 result:%n%s", json).isPositive();
        assertThat(m.find(at)).isTrue();
        return Double.parseDouble(m.group(1)) / 1e6;
    }

    @Test
    void linuxOnVionaWithOffloadsGetsALinkPingsAndRunsIperf() throws Exception {
        try (VhostUserServer server = serve("viona", new VionaProvider(), "true")) {
            Map<String, String> r = UserModeLinux.run(dir, server.socket(), VIRTIO_ID_NET, MODULE, guest(2, false), 120);
            assertThat(r).as("results; console:%n%s", r.get(UserModeLinux.CONSOLE))
                    .containsEntry("operstate", "up").containsEntry("ping", "0").containsEntry("iperf", "0").containsEntry("ping-after", "0");
            assertThat(r.get("features").charAt(0)).as("CSUM negotiated (features bit 0)").isEqualTo('1');
            System.out.printf("viona under user-mode Linux: iperf3 %.0f Mbit/s%n", receivedMbps());
            assertThat(receivedMbps()).isPositive();
            assertThat(server.lastFailure()).isNull();
        }
    }

    @Test
    void linuxKeepsItsLinkAndItsTransferWhileVirtioNetIsSwappedToVionaAndBack() throws Exception {
        Path started = dir.resolve("iperf-started"), finished = dir.resolve("iperf-finished");
        try (VhostUserServer server = serve("virtio-net", new VirtioNetProvider(), "false")) {
            boolean[] duringIperf = new boolean[1];
            AtomicBoolean guestDone = new AtomicBoolean();
            Thread swapper = Thread.ofPlatform().start(() -> {
                try {
                    // The guest keeps transferring until it finds "swapped": both swaps fall inside its transfers.
                    while (!Files.exists(started) && !guestDone.get()) Thread.sleep(10);
                    if (guestDone.get()) return;
                    server.swapTo("viona", new VionaProvider());
                    server.swapTo("virtio-net", new VirtioNetProvider());
                    duringIperf[0] = Files.exists(started) && !Files.exists(finished);
                    Files.createFile(dir.resolve("swapped"));
                } catch (InterruptedException | IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            Map<String, String> r;
            try {
                r = UserModeLinux.run(dir, server.socket(), VIRTIO_ID_NET, MODULE, guest(2, true),
                        240);
            } finally {
                guestDone.set(true);
            }
            swapper.join(HangGuard.BOUND);
            assertThat(r).as("results; console:%n%s", r.get(UserModeLinux.CONSOLE))
                    .containsEntry("operstate", "up").containsEntry("ping", "0").containsEntry("iperf", "0")
                    .containsEntry("operstate-after", "up").containsEntry("ping-after", "0");
            assertThat(server.swapCount()).isEqualTo(2);
            assertThat(duringIperf[0]).as("both swaps happened while iperf3 ran").isTrue();
            System.out.printf("virtio-net -> viona -> virtio-net under user-mode Linux: iperf3 %.0f Mbit/s%n", receivedMbps());
            assertThat(receivedMbps()).isPositive();
        }
    }

    private static void sh(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(cmd)).redirectErrorStream(true).start();
        if (!p.waitFor(HangGuard.BOUND.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + ": no answer in " + HangGuard.BOUND.toSeconds() + " s");
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.exitValue() != 0) throw new IOException(String.join(" ", cmd) + ": exit " + p.exitValue() + ": " + out);
    }
}
