package vmm.launcher.boot;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import device.uart.internal.UartProvider;
import device.virtio_block.VirtioBlockProvider;
import vmm.core.pci.PciAddress;
import vmm.core.platform.PcMachine;
import vmm.core.platform.VmSnapshot;
import vmm.emu.internal.vm.EmuHypervisor;
import vmm.testing.linux.LinuxGuest;

/**
 * Debian's kernel on the software CPU, its console on this project's UART (COM1, a log file) and an ext4 file
 * system on virtio-blk driven by Linux's own {@code virtio_pci} and {@code virtio_blk}, snapshot in the middle of
 * a loop that appends a count to a file, writes a file of its own per count and {@code sync}s (so virtio requests
 * are in flight at any moment), with {@code --stop}'s semantics, and restored into a fresh machine in this JVM.
 * The restored guest finishes the loop: the counts on the two consoles together are 1..{@value #COUNTS} with no gap
 * and no repeat, every file reads back right after the page cache is dropped, no virtio, block or ext4 error, time
 * out or reset is logged, and on the host {@code e2fsck -fn} of the image is clean and the count file holds every
 * count once. Two boots' worth of the software CPU's time (about a minute on an idle machine).
 */
class LinuxSnapshotRestoreTest {
    private static final int COUNTS = 24, SNAPSHOT_AT = 8;
    private static final PciAddress DISK_SLOT = PciAddress.slot(4);
    private static final Pattern COUNT = Pattern.compile("COUNT=(\\d+)\\b");
    /** A line of the kernel saying a request failed or timed out, a device was reset, or time jumped. */
    private static final Pattern BAD = Pattern.compile("(?i)((virtio|vda|blk).*(timeout|timed out|reset|error))"
            + "|I/O error|EXT4-fs (error|warning)|blocked for more than|self-detected stall|Call Trace"
            + "|Marking clocksource .* unstable|watchdog: BUG");

    @TempDir
    Path dir;

    @Test
    void linuxWritingToExt4OnVirtioBlkGoesOnAfterARestoreWithNoGapAndACleanFileSystem() throws Exception {
        Path mkfs = Path.of("/usr/sbin/mkfs.ext4"), e2fsck = Path.of("/usr/sbin/e2fsck"),
                debugfs = Path.of("/usr/sbin/debugfs");
        assumeTrue(Files.isExecutable(mkfs) && Files.isExecutable(e2fsck) && Files.isExecutable(debugfs),
                "no mkfs.ext4, e2fsck or debugfs: apt-get install e2fsprogs");
        Path disk = dir.resolve("disk.img");
        try (var f = java.nio.channels.FileChannel.open(disk, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            f.truncate(0).position(32L << 20).write(java.nio.ByteBuffer.wrap(new byte[1]));
        }
        assertThat(run(mkfs.toString(), "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0",
                disk.toString())).as("mkfs.ext4").isZero();
        Path snap = dir.resolve("linux.snap"), before = dir.resolve("before.log"), after = dir.resolve("after.log");

        VmSnapshot.Written written;
        try (LinuxGuest a = guest(before, disk)) {
            a.boot().await("COUNT=" + SNAPSHOT_AT + "\r");
            written = a.snapshot(snap, true);
            Optional<PcMachine.Exit> exit = a.awaitExit(LinuxGuest.BOUND);
            assertThat(exit).as("the snapshot ended the VM").isPresent();
            assertThat(exit.get().outcome()).isEqualTo(PcMachine.Outcome.STOPPED);
        }
        assertThat(written.stopped()).isTrue();
        String first = Files.readString(before, ISO_8859_1);
        assertThat(first).as("the guest was mid-loop").doesNotContain("COUNT=" + COUNTS + "\r");

        String second;
        try (LinuxGuest b = guest(after, disk)) {
            second = b.restore(snap).awaitPowerOff();
            assertThat(b.scriptExitStatus()).as("the script's status:%n%s", second).isZero();
        }
        String console = first + second;
        List<Integer> counts = new ArrayList<>();
        Matcher m = COUNT.matcher(console);
        while (m.find()) counts.add(Integer.parseInt(m.group(1)));
        List<Integer> expected = new ArrayList<>();
        for (int i = 1; i <= COUNTS; i++) expected.add(i);
        assertThat(counts).as("the counts on COM1 across the restore:%n%s%n---- restored ----%n%s", first, second)
                .isEqualTo(expected);
        assertThat(COUNT.matcher(second).find()).as("the restored guest counted").isTrue();
        assertThat(second).contains("FILES-OK=" + COUNTS).contains("UMOUNT-OK");
        assertThat(console.lines().filter(l -> BAD.matcher(l).find()).toList())
                .as("errors, time-outs and resets on the console:%n%s", console).isEmpty();

        assertThat(run(e2fsck.toString(), "-fn", disk.toString())).as("e2fsck -fn of the image").isZero();
        Path out = dir.resolve("count.txt");
        assertThat(run(debugfs.toString(), "-R", "dump /count " + out, disk.toString())).isZero();
        StringBuilder all = new StringBuilder();
        for (int i = 1; i <= COUNTS; i++) all.append(i).append('\n');
        assertThat(Files.readString(out, ISO_8859_1)).as("/count on the image").isEqualTo(all.toString());
    }

    /** A guest whose script runs the loop, its UART logging to {@code log}, its disk the image. */
    private LinuxGuest guest(Path log, Path disk) throws Exception {
        // nosoftlockup: the guest's time is the host's, and a starved host (a loaded build machine gives the software
        // CPU a fraction of a core) holds one kernel path for more than the detector's 20 s, restored or not.
        LinuxGuest g = LinuxGuest.builder(new EmuHypervisor()).memory(256L << 20)
                .cmdline(LinuxGuest.CMDLINE + " nosoftlockup")
                .consoleFrom(() -> read(log)).modules("virtio_pci", "virtio_blk").script("""
                        mount -t ext4 /dev/vda /mnt || exit 3
                        i=1
                        while [ $i -le %1$d ]; do
                            echo $i >> /mnt/count
                            seq $i $((i * 50)) > /mnt/seq.$i
                            sync
                            echo COUNT=$i
                            i=$((i + 1))
                        done
                        echo 3 > /proc/sys/vm/drop_caches
                        ok=0
                        i=1
                        while [ $i -le %1$d ]; do
                            seq $i $((i * 50)) | cmp -s - /mnt/seq.$i && ok=$((ok + 1))
                            i=$((i + 1))
                        done
                        echo FILES-OK=$ok
                        umount /mnt && echo UMOUNT-OK
                        """.formatted(COUNTS)).create(dir);
        g.machine().plug("com1", UartProvider.TYPE, null, Map.of("port", "com1", "backend", "log=" + log),
                UartProvider.TYPE, new UartProvider());
        g.machine().plug("disk", "virtio-blk", DISK_SLOT, Map.of("path", disk.toString()), "virtio-blk",
                new VirtioBlockProvider());
        return g;
    }

    private static String read(Path log) {
        try {
            return Files.exists(log) ? Files.readString(log, ISO_8859_1) : "";
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static int run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        // A hang guard: each of these host tools ends in well under a second on a 32 MiB image.
        assertThat(p.waitFor(2, TimeUnit.MINUTES)).as(String.join(" ", command)).isTrue();
        return p.exitValue();
    }
}
