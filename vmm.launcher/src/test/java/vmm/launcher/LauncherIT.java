package vmm.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import vmm.launcher.internal.DemoDisk;

/**
 * The launcher as a user runs it: the exported {@code target/vmm.jar} in a
 * child JVM (what {@code ./vmm} execs), with a real Felix, the core, the
 * hypervisor back end and the devices. Runs in the integration-test phase,
 * after the jar is built.
 */
class LauncherIT {
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
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile())
                .redirectInput(ProcessBuilder.Redirect.PIPE).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError("vmm did not end within 120 s; output:\n" + Files.readString(out));
        }
        return new Result(p.exitValue(), Files.readString(out));
    }

    private static void requireGuests() {
        assumeTrue(Files.exists(Path.of("/dev/kvm")), "no /dev/kvm on this host: guests cannot run");
        assumeTrue(Files.isReadable(SEABIOS), "no " + SEABIOS + ": apt-get install seabios");
    }

    @Test
    void theDefaultVmBootsShowsItsConsoleAndPowersOffWithExitCode0() throws Exception {
        requireGuests();
        Result r = vmm("run");
        assertThat(r.output()).contains("SeaBIOS (version").contains(DemoDisk.MESSAGE).contains("the guest powered off");
        assertThat(r.exit()).as(r.output()).isZero();
    }

    @Test
    void aBhyveCommandLineWithADiskAndASerialLogBootsSeaBiosFromTheDisk() throws Exception {
        requireGuests();
        Path disk = dir.resolve("disk.img"), log = dir.resolve("com1.log");
        DemoDisk.write(disk);
        Result r = vmm("run", "-c", "1", "-m", "128M", "-s", "0,hostbridge", "-s", "31,lpc", "-s", "5,virtio-blk," + disk + ",ser=LOGDISK",
                "-l", "com1,log=" + log, "-l", "bootrom," + SEABIOS, "testvm");
        assertThat(r.exit()).as(r.output()).isZero();
        assertThat(r.output()).contains("testvm").contains("00:05.0").contains("virtio-blk").contains("device.virtio-block");
        assertThat(Files.readString(log)).contains("SeaBIOS (version").contains(DemoDisk.MESSAGE);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "an unknown emulation | run -l bootrom,/usr/share/seabios/bios-256k.bin -s 4,virtio-gpu | unknown emulation 'virtio-gpu'",
            "a slot used twice    | run -l bootrom,/usr/share/seabios/bios-256k.bin -s 4,virtio-rng -s 4,virtio-rng | slot 4 is used twice",
            "a malformed size     | run -m 12Q -l bootrom,/usr/share/seabios/bios-256k.bin | -m 12Q",
            "a missing disk file  | run -l bootrom,/usr/share/seabios/bios-256k.bin -s 4,virtio-blk,/no/such/disk.img | /no/such/disk.img: no such file",
            "a missing boot ROM   | run -l bootrom,/no/such/rom.bin | boot ROM /no/such/rom.bin: no such file",
            "an unknown backend   | run -l bootrom,/usr/share/seabios/bios-256k.bin -l com1,telepathy | telepathy",
    })
    void badInputIsOneClearLineAndExitCode2(String what, String line, String expected) throws Exception {
        assumeTrue(Files.isReadable(SEABIOS) || !line.contains(SEABIOS.toString()), "no SeaBIOS");
        Result r = vmm(line.trim().split(" +"));
        assertThat(r.exit()).as(r.output()).isEqualTo(2);
        assertThat(r.output()).contains(expected.trim());
        assertThat(r.output()).doesNotContain("SeaBIOS (version");
    }
}
