package vmm.launcher.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import com.sun.net.httpserver.HttpServer;

import device.uart.internal.UartComponent;
import device.virtio_net.VirtioNetProvider;
import vmm.core.device.DeviceProvider;
import vmm.core.device.DeviceState;
import vmm.core.machine.DeviceInstance;
import vmm.core.pci.PciAddress;
import vmm.core.platform.PcMachine;
import vmm.core.virtio.VirtioContext;
import vmm.core.virtio.VirtioDevice;
import vmm.core.virtio.VirtioFeatures;

/**
 * iPXE as the firmware-level client of our virtio-net device: Debian's
 * {@code pxe-virtio.rom} (built for 1af4:1041, our modern device) is the
 * device's option ROM ({@code rom=FILE}, the expansion ROM BAR), SeaBIOS
 * finds and runs it, iPXE prints its banner on COM1, initialises its devices
 * and probes ours (it reads the MAC from the device config and leaves the
 * status at ACKNOWLEDGE | DRIVER until it opens the device).
 *
 * <p>Where it stops on a host whose KVM emulates (these development
 * machines, no {@code vmx}/{@code svm} in {@code /proc/cpuinfo}): during
 * iPXE's "Press Ctrl-B for the iPXE command line" countdown the guest is
 * reset (a triple fault here; QEMU 7.2 with KVM on the same machine resets
 * the guest at the same point, and under {@code -accel tcg} the same ROM gets
 * a DHCP lease), so that first test asserts up to the probe. On a host with
 * hardware virtualization the second test goes on: a TAP, {@code dnsmasq}
 * handing out a lease whose boot file is an HTTP URL, and an iPXE script
 * fetched from an HTTP server in this test, whose {@code echo} reaches COM1. dnsmasq is told to offer at once
 * ({@code --no-ping}) and that no ProxyDHCP will follow (iPXE's option 175.176, {@code no-pxedhcp}), so iPXE's
 * lease takes one DISCOVER-OFFER-REQUEST-ACK round instead of a second DISCOVER after its 2 s ProxyDHCP wait.
 */
class IpxeBootTest {
    static final Path SEABIOS = Path.of("/usr/share/seabios/bios-256k.bin");
    static final Path IPXE = Path.of("/usr/lib/ipxe/qemu/pxe-virtio.rom");
    static final PciAddress NIC_SLOT = PciAddress.slot(4);
    static final String MAC = "52:54:00:12:34:56";
    static final String BANNER = "iPXE (http://ipxe.org) 00:04.0", INITIALISED = "iPXE initialising devices...ok";
    static final String NET0 = "net0: " + MAC;
    /** The whole line iPXE prints when it opens the device: waited for in full, the console comes a byte at a time. */
    static final String NET0_OPEN = NET0 + " using virtio-net on 0000:00:04.0";
    static final String TAP = "vmmipxe0", HOST_IP = "10.213.0.1";
    static final String SCRIPT_MARK = "VMM-IPXE-HTTP-OK";

    @TempDir
    Path dir;

    /** Records what the firmware's driver did to the device model, delegating everything. */
    static final class Probe implements VirtioDevice {
        final VirtioDevice d;
        final Set<Integer> configRead = ConcurrentHashMap.newKeySet();

        Probe(VirtioDevice d) {
            this.d = d;
        }

        @Override public int deviceId() { return d.deviceId(); }
        @Override public long deviceFeatures() { return d.deviceFeatures(); }
        @Override public int queueCount() { return d.queueCount(); }
        @Override public int maxQueueSize(int queue) { return d.maxQueueSize(queue); }
        @Override public int configSize() { return d.configSize(); }

        @Override
        public long readConfig(int offset, int size) {
            for (int i = 0; i < size; i++) configRead.add(offset + i);
            return d.readConfig(offset, size);
        }

        @Override public void writeConfig(int offset, int size, long value) { d.writeConfig(offset, size, value); }
        @Override public void activate(VirtioContext context) { d.activate(context); }
        @Override public void queueNotify(int queue) { d.queueNotify(queue); }
        @Override public void start() { d.start(); }
        @Override public void pause() { d.pause(); }
        @Override public void resume() { d.resume(); }
        @Override public void reset() { d.reset(); }
        @Override public void stop() { d.stop(); }
        @Override public DeviceState saveState() { return d.saveState(); }
        @Override public void restoreState(DeviceState state) { d.restoreState(state); }

        boolean macRead() {
            for (int i = 0; i < 6; i++) if (!configRead.contains(i)) return false;
            return true;
        }
    }

    /** The machine with iPXE's ROM on our virtio-net; the console so far and how the run ended. */
    record Run(String console, String firmwareLog, Optional<PcMachine.Exit> exit, Probe probe, int status) {}

    private Run boot(String accel, Map<String, Object> backend, String until, Duration timeout) throws Exception {
        assumeTrue(Files.isReadable(SEABIOS), "no " + SEABIOS + ": apt-get install seabios");
        assumeTrue(Files.isReadable(IPXE), "no " + IPXE + ": apt-get install ipxe-qemu");
        BackEnd.require(accel);
        Path com1 = dir.resolve("com1.log");
        List<String> firmwareLog = Collections.synchronizedList(new ArrayList<>());
        Map<String, Object> config = new HashMap<>(backend);
        config.put("mac", MAC);
        config.put(DeviceInstance.ROM, IPXE.toString());
        Probe[] probe = new Probe[1];
        DeviceProvider recording = context -> probe[0] = new Probe((VirtioDevice) new VirtioNetProvider().create(context));
        try (BackEnd backEnd = BackEnd.open(accel);
             PcMachine vm = PcMachine.create(backEnd.hypervisor(),
                     new PcMachine.Config(64L << 20, 1, Files.readAllBytes(SEABIOS), false), firmwareLog::add)) {
            DeviceInstance nic = vm.machine().plug("net0", "virtio-net", NIC_SLOT, config, "virtio-net", recording);
            UartComponent uart = new UartComponent(vm.machine(), Map.of("port", "com1", "backend", "log=" + com1));
            vm.platform().serialConsole(0x3f8);
            try {
                vm.start();
                long deadline = System.nanoTime() + timeout.toNanos();
                Optional<PcMachine.Exit> exit = Optional.empty();
                String console = "";
                while (System.nanoTime() < deadline) {
                    exit = vm.awaitExit(Duration.ofMillis(500));
                    console = Files.exists(com1) ? Files.readString(com1, StandardCharsets.ISO_8859_1) : "";
                    if (exit.isPresent() || console.contains(until)) break;
                }
                return new Run(console, String.join("\n", firmwareLog), exit, probe[0], nic.transport().status());
            } finally {
                uart.deactivate();
            }
        }
    }

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {BackEnd.KVM, BackEnd.EMU})
    void seaBiosRunsIpxeFromOurVirtioNetsOptionRomAndIpxeProbesTheDevice(String accel) throws Exception {
        // Until the whole line: the console is read while iPXE writes it, so NET0 alone may come without the rest.
        Run r = boot(accel, Map.of("dgram", dir.resolve("vm.sock").toString(), "peer", dir.resolve("host.sock").toString()),
                NET0_OPEN, Duration.ofSeconds(150));
        String context = String.format("firmware log:%n%s%nCOM1:%n%s%nexit: %s", r.firmwareLog(), r.console(), r.exit());
        assertThat(r.firmwareLog()).as(context).contains("bar 6, addr").contains("Running option rom at");
        assertThat(r.console()).as(context).contains(BANNER).contains(INITIALISED);
        assertThat(r.probe().macRead()).as("iPXE read the MAC from the device config; " + context).isTrue();
        int probed = VirtioFeatures.STATUS_ACKNOWLEDGE | VirtioFeatures.STATUS_DRIVER;
        if (accel.equals(BackEnd.EMU))
            assertThat(r.console()).as("the software CPU runs iPXE past its countdown; " + context).contains(NET0_OPEN);
        if (r.console().contains(NET0_OPEN)) {
            // iPXE got past its countdown and opened the device (the software CPU, or a KVM that runs guests in
            // hardware).
            return;
        }
        // This far on a host whose KVM emulates: the guest is reset during iPXE's countdown. The machine is
        // made with reboot=false, so a reset ends the run (RESET) instead of starting iPXE again; here the
        // reset comes as a triple fault, which ends it as a guest failure.
        assertThat(r.exit()).as("the run ended; " + context).isPresent();
        PcMachine.Exit e = r.exit().get();
        assertThat(e.outcome() == PcMachine.Outcome.RESET
                || e.outcome() == PcMachine.Outcome.FAILED && e.detail().contains("triple fault"))
                .as("a reset (or the triple fault that is one) ends it, not anything else: " + e.detail()).isTrue();
        assertThat(r.status() & probed).as("iPXE's probe left ACKNOWLEDGE | DRIVER").isEqualTo(probed);
        assertThat(r.console()).contains("Press Ctrl-B for the iPXE command line");
        System.out.println("IpxeBootTest: iPXE ran from our ROM BAR and probed the device; the run stops at iPXE's countdown"
                + " (" + (hardwareVirtualization() ? "reset on this host" : "this host's KVM emulates: no vmx/svm in /proc/cpuinfo")
                + "); the DHCP and HTTP part is the next test");
    }

    /**
     * iPXE's whole network boot on our virtio-net over a TAP: a lease from dnsmasq, then its script over HTTP. On
     * the software CPU this needs the one-instruction interrupt window after STI: iPXE reads the BIOS tick count
     * with {@code sti; nop; nop; cli}, and waits for it to move before it requests the offered lease.
     */
    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {BackEnd.KVM, BackEnd.EMU})
    void ipxeGetsADhcpLeaseFromDnsmasqAndFetchesItsScriptOverHttp(String accel) throws Exception {
        BackEnd.require(accel);
        assumeTrue(accel.equals(BackEnd.EMU) || hardwareVirtualization(), "DHCP and HTTP through iPXE on KVM need a"
                + " host whose KVM runs guests in hardware (vmx or svm in /proc/cpuinfo); this host's KVM emulates and"
                + " the guest is reset during iPXE's countdown");
        Path dnsmasq = Path.of("/usr/sbin/dnsmasq");
        assumeTrue(Files.isExecutable(dnsmasq), "no " + dnsmasq + ": apt-get install dnsmasq-base");
        assumeTrue(Files.exists(Path.of("/dev/net/tun")), "no /dev/net/tun for the TAP");
        List<String> requests = Collections.synchronizedList(new ArrayList<>());
        try {
            sh("ip", "tuntap", "add", "dev", TAP, "mode", "tap");
        } catch (IOException e) {
            assumeTrue(false, "cannot make a TAP here (needs CAP_NET_ADMIN): " + e.getMessage());
        }
        Process dhcp = null;
        HttpServer http = null;
        try {
            sh("ip", "addr", "add", HOST_IP + "/24", "dev", TAP);
            sh("ip", "link", "set", TAP, "up");
            http = HttpServer.create(new InetSocketAddress(HOST_IP, 0), 0);
            byte[] script = ("#!ipxe\necho " + SCRIPT_MARK + "\n").getBytes(StandardCharsets.US_ASCII);
            http.createContext("/boot.ipxe", x -> {
                requests.add(x.getRequestMethod() + " " + x.getRequestURI());
                x.sendResponseHeaders(200, script.length);
                x.getResponseBody().write(script);
                x.close();
            });
            http.start();
            Path dhcpLog = dir.resolve("dnsmasq.log");
            // --no-ping: dnsmasq would hold each offer for a ping check of the address (up to 3 s); option 175.176
            // (iPXE's no-pxedhcp) = 1: iPXE takes the offer at once instead of waiting 2 s for ProxyDHCP offers.
            dhcp = new ProcessBuilder(dnsmasq.toString(), "--no-daemon", "--conf-file=/dev/null", "--port=0",
                    "--interface=" + TAP, "--bind-interfaces", "--dhcp-range=10.213.0.50,10.213.0.60,2m",
                    "--no-ping", "--dhcp-option-force=175,b0:01:01",
                    "--dhcp-leasefile=" + dir.resolve("leases"), "--log-dhcp",
                    "--dhcp-boot=http://" + HOST_IP + ":" + http.getAddress().getPort() + "/boot.ipxe")
                    .redirectErrorStream(true).redirectOutput(dhcpLog.toFile()).start();

            Run r = boot(accel, Map.of("tap", TAP), SCRIPT_MARK, Duration.ofSeconds(120));
            String context = String.format("COM1:%n%s%ndnsmasq:%n%s", r.console(), Files.readString(dhcpLog));
            assertThat(r.console()).as(context).contains(BANNER).contains(NET0).contains("ok");
            assertThat(Files.readString(dhcpLog)).as(context).contains("DHCPACK(" + TAP + ")").contains(MAC);
            assertThat(requests).as(context).contains("GET /boot.ipxe");
            assertThat(r.console()).as(context).contains(SCRIPT_MARK);
        } finally {
            if (dhcp != null) {
                dhcp.destroy();
                dhcp.waitFor(5, TimeUnit.SECONDS);
            }
            if (http != null) http.stop(0);
            sh("ip", "link", "del", TAP);
        }
    }

    static boolean hardwareVirtualization() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo")))
                if (line.startsWith("flags") && (line.contains(" vmx") || line.contains(" svm"))) return true;
        } catch (IOException e) {
            return false;
        }
        return false;
    }

    private static void sh(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) throw new IOException(String.join(" ", command) + ": " + out.strip());
    }
}
