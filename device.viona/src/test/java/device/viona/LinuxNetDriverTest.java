package device.viona;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import device.virtio_net.VirtioNetProvider;
import device.virtio_net.fixtures.HostNet;
import vmm.core.device.DeviceProvider;
import vmm.core.pci.PciAddress;
import vmm.emu.internal.vm.EmuHypervisor;
import vmm.testing.linux.LinuxGuest;

/**
 * Linux's own {@code virtio_net} (Debian's kernel package's module, through {@code virtio_pci}) on the software CPU
 * against both implementations of the device at once, in one guest: virtio-net in slot 5 and viona in slot 6, each
 * over its own TAP moved into its own network namespace with its own subnet. The guest finds each slot's interface,
 * brings it up and pings that namespace's side with small and large (fragmented) echoes, both cards at the same
 * time. The host's address of one subnet lives only behind that card's TAP, so each answered ping went through its
 * own card; the TAPs' counters say so from the host's side too. Needs root, {@code /dev/net/tun} and {@code ip
 * netns} (skipped, saying which, without them). About 25 s of boot on an idle development machine.
 */
class LinuxNetDriverTest {
    /** A card under test: its implementation, PCI slot and the third octet of its subnet 10.199.N.0/24. */
    private record Nic(String implementation, int slot, int subnet, DeviceProvider provider) {
        String guestIp() {
            return "10.199." + subnet + ".2";
        }

        String hostIp() {
            return "10.199." + subnet + ".1";
        }

        /** The prefix of this card's lines on the console. */
        String tag() {
            return "NET-%02x".formatted(slot);
        }
    }

    @TempDir
    Path dir;

    @Test
    void linuxsDriverBringsEachImplementationsNicUpAndPingsTheHostThroughItsOwnTap() throws Exception {
        String missing = HostNet.missing();
        assumeTrue(missing == null, () -> "cannot run: " + missing);
        List<Nic> nics = List.of(new Nic("virtio-net", 5, 9, new VirtioNetProvider()),
                new Nic("viona", 6, 10, new VionaProvider()));
        String script = nicFunction() + nics.stream()
                .map(n -> "nic %02x %s %s & p%d=$!\n".formatted(n.slot(), n.guestIp(), n.hostIp(), n.slot()))
                .reduce("", String::concat)
                // Each card's status in its own decimal digit: the exit status says which card failed and where.
                + "wait $p5; a=$?; wait $p6; b=$?; exit $((a * 10 + b))\n";
        try (HostNet net5 = new HostNet(); HostNet net6 = new HostNet();
             LinuxGuest guest = LinuxGuest.builder(new EmuHypervisor()).modules("virtio_pci", "virtio_net")
                     .script(script).create(dir)) {
            Map<Nic, HostNet> nets = Map.of(nics.get(0), net5, nics.get(1), net6);
            Map<Nic, String> taps = Map.of(nics.get(0), tapName(), nics.get(1), tapName());
            for (Nic n : nics) {
                guest.machine().plug("net" + n.slot(), "virtio-net", PciAddress.slot(n.slot()),
                        Map.of("tap", taps.get(n), "mac", "52:54:00:12:34:%02x".formatted(n.slot())),
                        n.implementation(), n.provider());
                nets.get(n).adopt(taps.get(n), n.hostIp() + "/24");
            }
            String console = guest.boot().awaitPowerOff();
            assertThat(guest.scriptExitStatus()).as(console).isZero();
            assertThat(console).doesNotContain("LINUXGUEST-INSMOD-FAILED");
            for (Nic n : nics) {
                String t = n.tag();
                assertThat(console).as(n.implementation() + "\n" + console)
                        .contains(t + "-DRIVER=virtio_net").contains(t + "-PING-OK")
                        .contains(t + " 3 packets transmitted, 3 packets received")
                        .contains(t + " 2 packets transmitted, 2 packets received");
                // The TAP is still there (the VMM holds it until close): what it carried, as the host counts it.
                // 3 small echoes and 2 large ones of 3 fragments each, each way; ARP and IPv6 may add to both.
                String tap = taps.get(n), ns = nets.get(n).ns;
                assertThat(counter(ns, tap, "rx_packets")).as(n.implementation() + ": frames from the guest")
                        .isGreaterThanOrEqualTo(3 + 2 * 3);
                assertThat(counter(ns, tap, "tx_packets")).as(n.implementation() + ": frames to the guest")
                        .isGreaterThanOrEqualTo(3 + 2 * 3);
            }
        }
    }

    /**
     * {@code nic SLOT GUEST-IP HOST-IP}: the interface of PCI device 00:SLOT.0, its driver, its address, then the
     * pings, each line of their output tagged with the slot; returns 0, or 2..5 for the step that failed.
     */
    private static String nicFunction() {
        return """
                nic() {
                    for d in /sys/class/net/*; do
                        [ "$(basename $(readlink -f $d/device/..))" = 0000:00:$1.0 ] && i=$(basename $d)
                    done
                    [ -n "$i" ] || return 2
                    echo NET-$1-DRIVER=$(basename $(readlink /sys/class/net/$i/device/driver))
                    ip addr add $2/24 dev $i && ip link set $i up || return 3
                    ping -c 3 -W 10 $3 > /ping-$1; s=$?; sed "s/^/NET-$1 /" /ping-$1; [ $s = 0 ] || return 4
                    ping -c 2 -W 10 -s 4000 $3 > /ping-$1; s=$?; sed "s/^/NET-$1 /" /ping-$1; [ $s = 0 ] || return 5
                    echo NET-$1-PING-OK
                }
                """;
    }

    private static String tapName() {
        return "vln" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x10000, 0xfffff));
    }

    /** A counter of {@code link} in namespace {@code ns}, from {@code /sys/class/net/LINK/statistics}. */
    private static long counter(String ns, String link, String name) throws Exception {
        return Long.parseLong(HostNet.run("ip", "netns", "exec", ns, "cat",
                "/sys/class/net/" + link + "/statistics/" + name).trim());
    }
}
