package vmm.emu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import device.virtio_block.VirtioBlockProvider;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vmm.core.machine.DeviceInstance;
import vmm.core.pci.PciAddress;
import vmm.emu.internal.vm.EmuHypervisor;
import vmm.testing.linux.LinuxGuest;

/**
 * ACPI PCI hotplug with Linux's own acpiphp (built into Debian's cloud kernel) on vmm.emu's software CPU: a
 * virtio-blk disk plugged into the running guest through {@code Machine.plug} (what a {@code vmm.device}
 * configuration created by {@code device:add} ends in) appears as {@code /dev/vda} with the bytes the test wrote;
 * {@code Machine.unplug} (what deleting it ends in) asks the guest, which lets go of the disk and ejects the slot
 * itself, and only then is the device released. Every wait is for a console marker or the removal's future.
 */
class HotplugLinuxTest {
    private static final PciAddress SLOT = PciAddress.slot(6);

    @TempDir
    Path dir;

    @Test
    void linuxSeesAHotAddedDiskReadsItAndEjectsItWhenAskedToRemoveIt() throws Exception {
        byte[] image = new byte[1 << 20];
        new Random(19).nextBytes(image);
        byte[] label = "HOTPLUG-DISK-CONTENT".getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(label, 0, image, 0, label.length);
        Path disk = Files.write(dir.resolve("hotplug.img"), image);
        String md5 = HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(image));

        try (LinuxGuest guest = LinuxGuest.builder(new EmuHypervisor()).modules("virtio_pci", "virtio_blk")
                .script("""
                        ls /sys/bus/pci/slots/ | tr '\\n' ' ' | sed 's/^/SLOTS=/'; echo
                        echo HOTPLUG-READY
                        while [ ! -b /dev/vda ]; do usleep 100000; done
                        echo VDA-HEAD=$(head -c 20 /dev/vda)
                        echo VDA-MD5=$(md5sum < /dev/vda | cut -d' ' -f1)
                        echo VDA-READ
                        while [ -b /dev/vda ]; do usleep 100000; done
                        echo VDA-GONE
                        """).create(dir)) {
            guest.boot();
            String ready = guest.await("HOTPLUG-READY");
            // acpiphp registered a slot per DSDT slot device, named by its _SUN: 2..31
            String slots = ready.replaceAll("(?s).*SLOTS=([0-9 ]*).*", "$1").trim();
            assertThat(slots.split(" +")).as(ready).containsExactlyInAnyOrder(
                    java.util.stream.IntStream.range(2, 32).mapToObj(String::valueOf).toArray(String[]::new));
            assertThat(guest.machine().instances()).isEmpty();

            DeviceInstance d = guest.machine().plug("hotplug-disk", "virtio-blk", SLOT,
                    Map.of("path", disk.toString()), "virtio-blk", new VirtioBlockProvider());
            String console = guest.await("VDA-READ");
            assertThat(console).contains("VDA-HEAD=HOTPLUG-DISK-CONTENT").contains("VDA-MD5=" + md5);

            CompletableFuture<Void> removed = guest.machine().unplug(d);
            console = guest.await("VDA-GONE");
            // The guest's eject is released on a platform thread; the bound only limits a failing run.
            assertThat(removed).as(console).succeedsWithin(Duration.ofMinutes(2));
            assertThat(d.status()).isEqualTo(DeviceInstance.Status.REMOVED);
            assertThat(guest.machine().instances()).isEmpty();
            console = guest.awaitPowerOff();
            assertThat(guest.scriptExitStatus()).as(console).isZero();
            assertThat(console).doesNotContain("LINUXGUEST-INSMOD-FAILED");
        }
    }
}
