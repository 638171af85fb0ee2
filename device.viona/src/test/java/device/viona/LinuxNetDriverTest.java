package device.viona;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import device.virtio_net.VirtioNetProvider;
import device.virtio_net.fixtures.HostNet;
import vmm.core.device.DeviceProvider;
import vmm.core.pci.PciAddress;
import vmm.emu.internal.vm.EmuHypervisor;
import vmm.testing.linux.LinuxGuest;

/**
 * Linux's own {@code virtio_net} (Debian's kernel package's module, through {@code virtio_pci}) on the software CPU
 * against each implementation of the device, virtio-net and viona, over a real TAP moved into a network namespace:
 * the guest brings {@code eth0} up and pings the namespace's side, with small and large (fragmented) echoes.
 * Needs root, {@code /dev/net/tun} and {@code ip netns} (skipped, saying which, without them). About 30 s of boot a
 * run on an idle development machine.
 */
class LinuxNetDriverTest {
    private static final String GUEST_IP = "10.199.9.2", HOST_IP = "10.199.9.1";

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"virtio-net", "viona"})
    void linuxsDriverBringsEth0UpAndPingsTheHostThroughTheTap(String implementation) throws Exception {
        String missing = HostNet.missing();
        assumeTrue(missing == null, () -> "cannot run: " + missing);
        DeviceProvider provider = implementation.equals("viona") ? new VionaProvider() : new VirtioNetProvider();
        String tap = "vln" + Integer.toHexString((int) (System.nanoTime() & 0xfffff));
        try (HostNet net = new HostNet();
             LinuxGuest guest = LinuxGuest.builder(new EmuHypervisor()).modules("virtio_pci", "virtio_net").script("""
                     ip addr add %s/24 dev eth0 && ip link set eth0 up || exit 3
                     echo NET-DRIVER=$(basename $(readlink /sys/class/net/eth0/device/driver))
                     ping -c 3 -W 10 %s || exit 4
                     ping -c 2 -W 10 -s 4000 %s || exit 5
                     echo NET-PING-OK
                     """.formatted(GUEST_IP, HOST_IP, HOST_IP)).create(dir)) {
            guest.machine().plug("net", "virtio-net", PciAddress.slot(5),
                    Map.of("tap", tap, "mac", "52:54:00:12:34:56"), implementation, provider);
            net.adopt(tap, HOST_IP + "/24");
            String console = guest.boot().awaitPowerOff();
            assertThat(guest.scriptExitStatus()).as(console).isZero();
            assertThat(console).contains("NET-DRIVER=virtio_net").contains("NET-PING-OK")
                    .contains("3 packets transmitted, 3 packets received").contains("2 packets transmitted, 2 packets received")
                    .doesNotContain("LINUXGUEST-INSMOD-FAILED");
        }
    }
}
