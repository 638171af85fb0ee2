package vmm.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import vmm.core.platform.VmSnapshot;
import vmm.core.snapshot.SectionKind;
import vmm.core.snapshot.SnapshotReader;
import vmm.core.snapshot.SnapshotWriter;
import vmm.testing.HangGuard;
import vmm.core.device.DeviceState;

/**
 * Snapshot and restore as a user does them, with the exported {@code target/vmm.jar}: SeaBIOS boots a disk whose
 * boot sector counts in RAM and prints each count on COM1 (a log file); {@code vm:snapshot --stop} in the VM's
 * shell writes the VM and ends it (exit 0); {@code vmm run -r FILE -l com1,log=SECOND NAME} in another process goes
 * on with COM1 on another log: the first log's numbers followed by the second's run 1, 2, 3, ... with no gap and
 * no repeat. A corrupt, truncated, newer or
 * foreign file, or one naming a device type no bundle provides, is one line and exit code 2 with nothing run.
 */
class SnapshotIT {
    static final Path JAR = Path.of("target/vmm.jar");
    static final Path SEABIOS = Path.of("/usr/share/seabios/bios-256k.bin");

    @TempDir
    Path dir;

    record Result(int exit, String output) {}

    private Result vmm(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-jar", JAR.toString()));
        cmd.addAll(List.of(args));
        Path out = dir.resolve("out.txt");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError("vmm did not end within 120 s; output:\n" + Files.readString(out));
        }
        return new Result(p.exitValue(), Files.readString(out));
    }

    private Process start(Path output, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-jar", JAR.toString()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(output.toFile()).start();
    }

    /** The counts on COM1 so far, over the logs one after the other (see {@link vmm.launcher.boot.SnapshotRestoreTest#counts}). */
    private static List<String> counts(Path... logs) throws IOException {
        StringBuilder all = new StringBuilder();
        for (Path log : logs) if (Files.exists(log)) all.append(Files.readString(log));
        return vmm.launcher.boot.SnapshotRestoreTest.counts(all.toString());
    }

    private static void awaitCounts(int n, Path... logs) {
        HangGuard.await(() -> {
            try {
                return counts(logs).size() >= n;
            } catch (IOException e) {
                return false;
            }
        }, n + " counts on COM1");
    }

    @Test
    void aVmSnapshotInOneProcessGoesOnInAnotherWithNoGapAndNoRepeat() throws Exception {
        assumeTrue(Files.isReadable(SEABIOS), "no " + SEABIOS + ": apt-get install seabios");
        Path disk = dir.resolve("count.img"), log = dir.resolve("com1.log"), log2 = dir.resolve("com1-again.log"),
                snap = dir.resolve("vm.snap");
        CountDisk.write(disk);
        String name = "snap-it-" + ProcessHandle.current().pid(), again = name + "-again";
        Process first = start(dir.resolve("first.txt"), "run", "--accel", "emu", "-m", "32M", "-s",
                "4,virtio-blk," + disk, "-l", "com1,log=" + log, "-l", "bootrom," + SEABIOS,
                name);
        Process second = null;
        try {
            awaitCounts(20, log);
            Result taken = vmm("shell", name, "vm:snapshot", "--stop", snap.toString());
            assertThat(taken.output()).as(taken.output()).contains("snapshot " + snap).contains("the VM is stopped");
            assertThat(first.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(first.exitValue()).as(Files.readString(dir.resolve("first.txt"))).isZero();
            int before = counts(log).size();

            second = start(dir.resolve("second.txt"), "run", "-r", snap.toString(), "-l", "com1,log=" + log2, again);
            awaitCounts(before + 20, log, log2);
            assertThat(Files.readString(dir.resolve("second.txt"))).contains("vmm: restored from " + snap);
            assertThat(counts(log)).as("the first log ends at the snapshot").hasSize(before);
            List<String> counts = counts(log, log2);
            for (int i = 0; i < counts.size(); i++)
                assertThat(counts.get(i)).as("count %d of %d (%d before the snapshot)", i + 1, counts.size(), before)
                        .isEqualTo(Integer.toString(i + 1));
            assertThat(vmm("shell", again, "vm:snapshot", "--stop", dir.resolve("again.snap").toString()).output())
                    .contains("the VM is stopped");
            assertThat(second.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(second.exitValue()).isZero();

            badFilesAreOneLineAndExitCode2(snap);
        } finally {
            first.destroyForcibly();
            if (second != null) second.destroyForcibly();
        }
    }

    /** Each bad file made from a good one: one line naming what is wrong, exit code 2, no guest run. */
    private void badFilesAreOneLineAndExitCode2(Path good) throws Exception {
        byte[] b = Files.readAllBytes(good);
        Path corrupt = dir.resolve("corrupt.snap"), cut = dir.resolve("cut.snap"), newer = dir.resolve("newer.snap"),
                foreign = dir.resolve("foreign.snap"), unknown = dir.resolve("unknown.snap"),
                newerState = dir.resolve("newer-state.snap");
        byte[] c = b.clone();
        c[c.length / 2] ^= 0x40;
        Files.write(corrupt, c);
        Files.write(cut, Arrays.copyOf(b, b.length / 3));
        byte[] n = b.clone();
        n[11] = 9;
        Files.write(newer, n);
        Files.write(foreign, Files.readAllBytes(SEABIOS));
        try (FileChannel in = FileChannel.open(good, StandardOpenOption.READ);
             FileChannel out = FileChannel.open(unknown, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            SnapshotReader r = SnapshotReader.open(in);
            SnapshotWriter w = SnapshotWriter.create(out, "vmm test", Instant.now());
            w.platform(VmSnapshot.CONFIG, r.readState(r.find(SectionKind.PLATFORM, VmSnapshot.CONFIG).orElseThrow()));
            w.device("nic", "e1000", DeviceState.builder("e1000", 1).build());
            w.finish();
        }
        copyWithNewerUartState(good, newerState);
        for (Object[] bad : new Object[][] {{corrupt, "CRC-32C mismatch"}, {cut, "truncated"},
                {newerState, "state version 99 is not readable"},
                {newer, "format version 9 is newer"}, {foreign, "not a vmm snapshot"},
                {unknown, "device 'nic' is of type 'e1000', which no installed bundle provides"},
                {dir.resolve("none.snap"), "no such file"}}) {
            Result r = vmm("run", "-r", bad[0].toString());
            assertThat(r.exit()).as(r.output()).isEqualTo(2);
            assertThat(r.output()).contains((String) bad[1]).doesNotContain("SeaBIOS (version");
            assertThat(r.output().lines().filter(l -> l.startsWith("vmm:"))).as("one line: " + r.output()).hasSize(1);
        }
    }

    /** {@code good} section by section, COM1's state marked version 99, which no installed UART reads. */
    private static void copyWithNewerUartState(Path good, Path to) throws IOException {
        try (FileChannel in = FileChannel.open(good, StandardOpenOption.READ);
             FileChannel out = FileChannel.open(to, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            SnapshotReader r = SnapshotReader.open(in);
            SnapshotWriter w = SnapshotWriter.create(out, r.header().writtenBy(), r.header().created());
            for (vmm.core.snapshot.Section s : r.sections()) {
                switch (s.kind()) {
                    case MEMORY -> {
                        java.lang.foreign.MemorySegment m = arena.allocate(r.ramExtent(s).size(), 4096);
                        r.restoreMemory(s, m);
                        w.memory(s.name(), r.ramExtent(s).guestBase(), m);
                    }
                    case VCPU -> w.vcpu(Integer.parseInt(s.name()), r.readState(s));
                    case PLATFORM -> w.platform(s.name(), r.readState(s));
                    case DEVICE -> {
                        DeviceState d = r.readState(s);
                        if (s.type().equals("uart")) {
                            DeviceState.Builder b = DeviceState.builder(d.type(), 99);
                            for (String n : d.names()) copy(d, n, b);
                            d = b.build();
                        }
                        w.device(s.name(), s.type(), d);
                    }
                }
            }
            w.finish();
        }
    }

    /** Field {@code n} of {@code d} into {@code b}, whatever its kind. */
    private static void copy(DeviceState d, String n, DeviceState.Builder b) {
        try {
            b.put(n, d.getLong(n));
            return;
        } catch (vmm.core.device.IncompatibleStateException e) {
            // another kind
        }
        try {
            b.put(n, d.getBytes(n));
            return;
        } catch (vmm.core.device.IncompatibleStateException e) {
            // another kind
        }
        try {
            b.put(n, d.getString(n));
            return;
        } catch (vmm.core.device.IncompatibleStateException e) {
            // another kind
        }
        try {
            b.put(n, d.getState(n));
            return;
        } catch (vmm.core.device.IncompatibleStateException e) {
            // a list
        }
        b.putList(n, d.getList(n));
    }
}
