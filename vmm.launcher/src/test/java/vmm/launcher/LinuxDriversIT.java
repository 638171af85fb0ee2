package vmm.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vmm.launcher.boot.DebianKernel;
import vmm.testing.linux.Initramfs;

/**
 * Debian's kernel package, unmodified, drives our devices with its own drivers, through our PCI, MSI-X,
 * ACPI and boot path together, as {@code ./vmm run --accel emu} runs it (vmm.jar in a child JVM, the software
 * CPU, two vCPUs): its init loads {@code virtio_pci}, {@code virtio_blk}, {@code virtio-rng} and {@code
 * virtio_net} from the package's {@code /lib/modules}, makes an ext4 file system on our virtio-blk with
 * Debian's {@code mke2fs}, writes a file, checks the file system with {@code e2fsck} and reads the file back
 * (and the host reads it from the image with {@code debugfs}), reads {@code /dev/hwrng} from our virtio-rng,
 * brings up both implementations of virtio-net at once (virtio-net in slot 6, viona in slot 7, each on its own
 * TAP and subnet in a network namespace) and pings the host side through each, then powers off through ACPI S5
 * and {@code vmm run} exits 0. Every step prints a marker the test asserts. The namespace answers a subnet only
 * on that subnet's TAP ({@code rp_filter} strict, {@code arp_ignore=1}) and the TAPs' counters are read from
 * the host, so each card's ping provably went through its own TAP. The network part needs root, {@code
 * /dev/net/tun} and {@code ip netns}; without them the guest boots without a NIC and the test ends skipped after
 * checking the rest.
 */
class LinuxDriversIT {
    static final Path JAR = Path.of("target/vmm.jar");
    /** The NICs: slot, implementation, subnet 10.215.N.0/24 (the host .1, the guest .2). */
    static final List<Nic> NICS = List.of(new Nic(6, "virtio-net", 0), new Nic(7, "viona", 1));

    record Nic(int slot, String implementation, int subnet) {
        String hostIp() {
            return "10.215." + subnet + ".1";
        }

        String guestIp() {
            return "10.215." + subnet + ".2";
        }

        /** The slot as the guest's script and markers name it. */
        String hex() {
            return "%02x".formatted(slot);
        }
    }
    /** As in LinuxDirectBootTest: the crypto self-tests test the kernel, not the VMM, and take 30 s here. */
    static final String CMDLINE = "console=ttyS0 rdinit=/init cryptomgr.notests";
    /** A hang guard: a boot with these steps takes about 40 s on an idle development machine. */
    static final long BOUND_S = 600;

    @TempDir
    Path dir;

    @Test
    void debiansOwnDriversUseOurDiskRngAndBothNicsAndTheGuestPowersOffWithExitCode0() throws Exception {
        Path bzImage = DebianKernel.require();
        String noNet = netMissing();
        Initramfs initramfs = new Initramfs("").modules(bzImage, "virtio_pci", "virtio_blk", "virtio_rng", "virtio_net")
                .programs("/sbin/mke2fs", "/sbin/e2fsck");
        Path initrd = initramfs.init(script(initramfs.moduleLoadOrder())).write(dir.resolve("initrd.cpio"));
        Path disk = dir.resolve("disk.img");
        try (var f = new java.io.RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(64L << 20);
        }
        String ns = "vmmlx-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x10000, 0xfffff));
        Map<Nic, String> taps = new LinkedHashMap<>();
        for (Nic n : NICS)
            taps.put(n, "vlx" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x10000, 0xfffff)));
        List<String> cmd = new ArrayList<>();
        if (noNet == null) cmd.addAll(List.of("ip", "netns", "exec", ns));
        cmd.addAll(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-jar",
                JAR.toAbsolutePath().toString(), "run", "--accel", "emu", "-c", "2", "-m", "512M",
                "-s", "0,hostbridge", "-s", "31,lpc", "-s", "4,virtio-blk," + disk, "-s", "5,virtio-rng"));
        if (noNet == null)
            for (Nic n : NICS)
                cmd.addAll(List.of("-s",
                        n.slot() + ",virtio-net," + taps.get(n) + ",implementation=" + n.implementation()));
        cmd.addAll(List.of("--kernel", bzImage.toString(), "--initrd", initrd.toString(), "--cmdline", CMDLINE,
                "-l", "com1,stdio", "linuxdrivers-" + ProcessHandle.current().pid()));
        if (noNet == null) {
            sh("ip", "netns", "add", ns);
        }
        String out;
        int exit;
        Map<String, Long> counters = new LinkedHashMap<>();
        long start = System.nanoTime();
        try {
            if (noNet == null) {
                // Each subnet answered only on its own TAP: ARP only for the receiving link's address, and a
                // packet whose source is routed through another link dropped.
                sh("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=1",
                        "net.ipv4.conf.default.rp_filter=1", "net.ipv4.conf.all.arp_ignore=1",
                        "net.ipv4.conf.default.arp_ignore=1");
                for (Nic n : NICS) {
                    sh("ip", "-n", ns, "tuntap", "add", "dev", taps.get(n), "mode", "tap");
                    sh("ip", "-n", ns, "addr", "add", n.hostIp() + "/24", "dev", taps.get(n));
                    sh("ip", "-n", ns, "link", "set", taps.get(n), "up");
                }
            }
            Path log = dir.resolve("vm.txt");
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
                    .redirectInput(ProcessBuilder.Redirect.PIPE).start();
            // The guest powers itself off when its script is done; the bound is a hang guard only.
            if (!p.waitFor(BOUND_S, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
                throw new AssertionError("vmm did not end within " + BOUND_S + " s:\n" + Files.readString(log));
            }
            exit = p.exitValue();
            out = Files.readString(log, StandardCharsets.ISO_8859_1);
            if (noNet == null)
                for (Nic n : NICS)
                    for (String c : List.of("rx_packets", "tx_packets"))
                        counters.put(n.implementation() + " " + c, Long.parseLong(sh("ip", "netns", "exec", ns, "cat",
                                "/sys/class/net/" + taps.get(n) + "/statistics/" + c).trim()));
        } finally {
            if (noNet == null) sh("ip", "netns", "del", ns);
        }
        System.out.printf("Linux with its drivers, process start to the guest's power-off: %.1f s; TAP counters: %s%n",
                (System.nanoTime() - start) / 1e9, counters);
        assertThat(out).as(out).contains("VMM-NPROC=2").doesNotContain("VMM-INSMOD-FAILED")
                .contains("virtio_blk virtio").contains("VMM-MKFS-OK").contains("VMM-WRITTEN").contains("VMM-FSCK-OK")
                .contains("VMM-READ=vmm-file-42").contains("VMM-RNG=virtio_rng.0").contains("VMM-RNG-BYTES=64")
                .contains("VMM-DONE").contains("ACPI: PM: Preparing to enter system sleep state S5")
                .contains("the guest powered off");
        assertThat(exit).as(out).isZero();
        String debugfs = debugfsCat(disk, "/f");
        if (debugfs != null) assertThat(debugfs).as("the file, read by the host from the image")
                .contains("vmm-file-42");
        assumeTrue(noNet == null, "no network namespace with a TAP here (" + noNet + "): the NICs were not tested");
        for (Nic n : NICS) {
            assertThat(out).as(n.implementation() + "\n" + out).contains("VMM-NET-" + n.hex() + "=" + n.guestIp())
                    .contains("VMM-NET-" + n.hex() + "-DRIVER=virtio_net").contains("VMM-PING-" + n.hex() + "-OK");
            // The 3 echoes each way on this card's TAP, as the host counts them (ARP and IPv6 may add).
            assertThat(counters.get(n.implementation() + " rx_packets"))
                    .as(n.implementation() + ": frames from the guest").isGreaterThanOrEqualTo(3);
            assertThat(counters.get(n.implementation() + " tx_packets"))
                    .as(n.implementation() + ": frames to the guest").isGreaterThanOrEqualTo(3);
        }
    }

    /**
     * The guest's /init: every step's marker printed only when it succeeded. Each NIC's interface is found by its
     * PCI slot; both cards ping at the same time.
     */
    private static String script(List<String> modules) {
        StringBuilder nics = new StringBuilder();
        for (Nic n : NICS) nics.append("nic %s %s %s &\n".formatted(n.hex(), n.guestIp(), n.hostIp()));
        return """
                /bin/busybox --install -s /bin
                export PATH=/bin
                mount -t proc proc /proc
                mount -t sysfs sys /sys
                mount -t devtmpfs dev /dev
                echo VMM-NPROC=$(nproc)
                for m in %s; do insmod $m || echo VMM-INSMOD-FAILED $m; done
                /sbin/mke2fs -q -t ext4 -F /dev/vda && echo VMM-MKFS-OK
                mount -t ext4 /dev/vda /mnt && echo vmm-file-$((6*7)) > /mnt/f && umount /mnt && echo VMM-WRITTEN
                /sbin/e2fsck -f -n /dev/vda && echo VMM-FSCK-OK
                mount -t ext4 -o ro /dev/vda /mnt && echo VMM-READ=$(cat /mnt/f) && umount /mnt
                echo VMM-RNG=$(cat /sys/class/misc/hw_random/rng_current)
                dd if=/dev/hwrng of=/rng bs=64 count=1 && echo VMM-RNG-BYTES=$(wc -c < /rng)
                nic() {
                    i=
                    for d in /sys/class/net/*; do
                        [ "$(basename $(readlink -f $d/device/..))" = 0000:00:$1.0 ] && i=$(basename $d)
                    done
                    [ -n "$i" ] || return
                    echo VMM-NET-$1-DRIVER=$(basename $(readlink /sys/class/net/$i/device/driver))
                    ip addr add $2/24 dev $i && ip link set $i up && echo VMM-NET-$1=$2
                    ping -c 3 -W 10 $3 && echo VMM-PING-$1-OK
                }
                %swait
                echo VMM-DONE
                poweroff -f
                """.formatted(String.join(" ", modules), nics);
    }

    /** Why this host cannot give the guest a TAP in a network namespace, or null. */
    private static String netMissing() {
        if (!"root".equals(System.getProperty("user.name"))) return "needs root for network namespaces and TAPs";
        if (!Files.exists(Path.of("/dev/net/tun"))) return "no /dev/net/tun";
        String probe = "vmmprobe-" + ProcessHandle.current().pid();
        try {
            sh("ip", "netns", "add", probe);
            sh("ip", "netns", "del", probe);
        } catch (IOException e) {
            return "cannot make a network namespace: " + e.getMessage();
        }
        return null;
    }

    /** {@code debugfs -R "cat PATH"} on the image, or null without debugfs. */
    private static String debugfsCat(Path image, String path) throws Exception {
        if (!Files.isExecutable(Path.of("/sbin/debugfs"))) return null;
        return sh("/sbin/debugfs", "-R", "cat " + path, image.toString());
    }

    private static String sh(String... cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            // A hang guard: these commands answer at once.
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", cmd) + ": no answer in 60 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        if (p.exitValue() != 0) throw new IOException(String.join(" ", cmd) + ": exit " + p.exitValue() + ": " + out);
        return out;
    }
}
