package device.virtio_rng;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vmm.core.device.DeviceProvider;
import vmm.core.pci.PciAddress;
import vmm.emu.internal.vm.EmuHypervisor;
import vmm.testing.linux.LinuxGuest;

/**
 * Linux's own driver (the {@code virtio-rng} module of Debian's kernel package, through {@code virtio_pci})
 * against this device on vmm.emu's software CPU: {@code /dev/hwrng} is backed by our device and reads give
 * the bytes the device served. About 25 s of boot on an idle development machine.
 */
class VirtioRngLinuxDriverTest {
    @TempDir
    Path dir;

    @Test
    void linuxsDriverReadsEntropyFromTheDeviceThroughDevHwrng() throws Exception {
        AtomicReference<VirtioRng> device = new AtomicReference<>();
        DeviceProvider capturing = context -> {
            VirtioRng rng = (VirtioRng) new VirtioRngProvider().create(context);
            device.set(rng);
            return rng;
        };
        try (LinuxGuest guest = LinuxGuest.builder(new EmuHypervisor()).modules("virtio_pci", "virtio_rng")
                .script("""
                        echo RNG-CURRENT=$(cat /sys/class/misc/hw_random/rng_current)
                        dd if=/dev/hwrng of=/a bs=256 count=1 && dd if=/dev/hwrng of=/b bs=256 count=1 || exit 3
                        echo RNG-SIZES=$(wc -c < /a),$(wc -c < /b)
                        cmp -s /a /b && exit 4
                        echo RNG-ZERO-BYTES=$(od -An -v -tx1 /a /b | tr ' ' '\\n' | grep -c '^00$')
                        """).create(dir)) {
            guest.machine().plug("rng", "virtio-rng", PciAddress.slot(3), Map.of(), "virtio-rng", capturing);
            String console = guest.boot().awaitPowerOff();
            assertThat(guest.scriptExitStatus()).as(console).isZero();
            assertThat(console).contains("RNG-CURRENT=virtio_rng.0").contains("RNG-SIZES=256,256")
                    .doesNotContain("LINUXGUEST-INSMOD-FAILED");
            // 512 random bytes hold a few zero bytes (about 2 on average), never most of them
            int zeros = Integer.parseInt(console.replaceAll("(?s).*RNG-ZERO-BYTES=(\\d+).*", "$1"));
            assertThat(zeros).isLessThan(64);
            assertThat(device.get().bytesServed()).as("bytes our device served").isGreaterThanOrEqualTo(512);
        }
    }
}
