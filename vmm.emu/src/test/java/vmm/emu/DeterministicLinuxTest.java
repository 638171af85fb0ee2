package vmm.emu;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import device.virtio_block.VirtioBlockProvider;
import vmm.core.pci.PciAddress;
import vmm.emu.internal.vm.EmuHypervisor;
import vmm.testing.linux.LinuxGuest;

/**
 * Debian's kernel on the software CPU in a deterministic run ({@code vmm.vm deterministic=true}): two vCPUs, Linux's
 * own {@code virtio_blk} reading a disk the test wrote and writing a pattern with {@code dd conv=fsync}, read back
 * after dropping the page cache. Every run checks the data on both sides (SHA-256 in the guest, the image's bytes on
 * the host), and the whole console, the kernel's timestamped log included, is the same byte for byte on every run.
 * {@value #RUNS_PROPERTY} sets the number of runs (2 by default, each a boot of some 25 s on an idle machine).
 */
class DeterministicLinuxTest {
    static final String RUNS_PROPERTY = "vmm.determinism.runs";
    private static final int DISK_BYTES = 8 << 20, READ_BYTES = 1 << 20, WRITE_AT = 2 << 20, SEQ = 50_000;

    @TempDir
    Path dir;

    @Test
    void twoVcpusWithLinuxsVirtioBlkPrintTheSameConsoleOnEveryRunAndTheDiskHoldsWhatTheyWrote() throws Exception {
        int runs = Integer.getInteger(RUNS_PROPERTY, 2);
        Path pristine = dir.resolve("pristine.img");
        byte[] start = new byte[DISK_BYTES];
        for (int i = 0; i < start.length; i++) start[i] = (byte) (i * 31 ^ i >>> 9);
        Files.write(pristine, start);
        byte[] pattern = pattern();
        String first = null;
        for (int run = 1; run <= runs; run++) {
            Path disk = Files.copy(pristine, dir.resolve("disk.img"), StandardCopyOption.REPLACE_EXISTING);
            String console;
            try (LinuxGuest guest = LinuxGuest.builder(new EmuHypervisor()).vcpus(2).memory(256L << 20)
                    .deterministic(true).modules("virtio_pci", "virtio_blk").script("""
                            echo CPUS=$(nproc) SECTORS=$(cat /sys/block/vda/size)
                            echo READ-SHA=$(dd if=/dev/vda bs=65536 count=%d 2>/dev/null | sha256sum | cut -d' ' -f1)
                            seq 1 %d > /pattern
                            dd if=/pattern of=/dev/vda bs=65536 seek=%d conv=fsync 2>/dev/null || exit 3
                            echo 3 > /proc/sys/vm/drop_caches
                            echo WRITE-SHA=$(sha256sum < /pattern | cut -d' ' -f1) BYTES=$(wc -c < /pattern)
                            echo BACK-SHA=$(dd if=/dev/vda bs=65536 skip=%d 2>/dev/null | head -c $(wc -c < /pattern) | sha256sum | cut -d' ' -f1)
                            """.formatted(READ_BYTES / 65536, SEQ, WRITE_AT / 65536, WRITE_AT / 65536))
                    .create(dir)) {
                guest.machine().plug("disk", "virtio-blk", PciAddress.slot(4), Map.of("path", disk.toString()),
                        "virtio-blk", new VirtioBlockProvider());
                console = guest.boot().awaitPowerOff();
                assertThat(guest.scriptExitStatus()).as("run %d:%n%s", run, console).isZero();
            }
            assertThat(console).as("run %d", run).contains("CPUS=2 SECTORS=" + DISK_BYTES / 512)
                    .contains("READ-SHA=" + sha256(start, 0, READ_BYTES))
                    .contains("WRITE-SHA=" + sha256(pattern, 0, pattern.length) + " BYTES=" + pattern.length)
                    .contains("BACK-SHA=" + sha256(pattern, 0, pattern.length))
                    .doesNotContain("LINUXGUEST-INSMOD-FAILED");
            byte[] written = new byte[pattern.length];
            try (FileChannel ch = FileChannel.open(disk)) {
                ch.read(ByteBuffer.wrap(written), WRITE_AT);
            }
            assertThat(written).as("run %d: the pattern on the host's image", run).isEqualTo(pattern);
            assertThat(console).as("run %d: the kernel's log with its timestamps", run).contains("] Linux version");
            if (first == null) first = console;
            else assertThat(firstDifference(first, console)).as("run %d against run 1", run).isEmpty();
        }
    }

    /** What {@code seq 1 SEQ} prints. */
    private static byte[] pattern() {
        StringBuilder b = new StringBuilder();
        for (int i = 1; i <= SEQ; i++) b.append(i).append('\n');
        return b.toString().getBytes(US_ASCII);
    }

    /** "" when equal, else the first line that differs in each, with its number. */
    private static String firstDifference(String a, String b) {
        if (a.equals(b)) return "";
        String[] x = a.split("\n", -1), y = b.split("\n", -1);
        for (int i = 0; i < Math.max(x.length, y.length); i++) {
            String l = i < x.length ? x[i] : "<end>", r = i < y.length ? y[i] : "<end>";
            if (!l.equals(r)) return "line " + (i + 1) + ": run 1 printed\n  " + l + "\nthis run printed\n  " + r;
        }
        return "the same lines, different line ends";
    }

    private static String sha256(byte[] b, int off, int len) throws Exception {
        MessageDigest d = MessageDigest.getInstance("SHA-256");
        d.update(b, off, len);
        return HexFormat.of().formatHex(d.digest());
    }
}
