package vmm.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import aQute.bnd.osgi.Builder;
import aQute.bnd.osgi.Jar;

/**
 * A device bundle written outside this repository, against vmm.core's API only, loaded into {@code vmm.jar}
 * with {@code --bundle} and used by its type name with no launcher change. The bundle is
 * {@code device.virtio-rng}'s two source files moved to a package of their own and renamed to type
 * {@code my-rng}, compiled with javac against vmm.core's jar and packaged with bnd (what its
 * {@code bnd-maven-plugin} does), all in a temporary directory.
 */
class UserBundleIT {
    static final Path JAR = LauncherIT.JAR, SEABIOS = LauncherIT.SEABIOS;

    @TempDir
    Path dir;

    /** Builds the {@code my-rng} bundle into {@code dir}, plus {@code extraImport} in its Import-Package. */
    private Path buildMyRng(String name, String extraImport) throws Exception {
        return buildMyRng(name, extraImport, "1.0.0");
    }

    private Path buildMyRng(String name, String extraImport, String version) throws Exception {
        Path src = Files.createDirectories(dir.resolve(name + "/src/example/myrng"));
        List<String> files = new ArrayList<>();
        try (Stream<Path> s = Files.list(Path.of("../device.virtio-rng/src/main/java/device/virtio_rng"))) {
            for (Path f : s.filter(f -> f.toString().endsWith(".java")).toList()) {
                String text = Files.readString(f).replace("package device.virtio_rng;", "package example.myrng;")
                        .replace("virtio-rng", "my-rng");
                files.add(Files.writeString(src.resolve(f.getFileName()), text).toString());
            }
        }
        assertThat(files).as("device.virtio-rng's sources").hasSize(2);
        Path classes = Files.createDirectories(dir.resolve(name + "/classes"));
        String cp = String.join(java.io.File.pathSeparator, location(vmm.core.device.DeviceProvider.class),
                location(org.osgi.service.component.annotations.Component.class));
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        StringWriter diagnostics = new StringWriter();
        List<String> options = List.of("-d", classes.toString(), "-classpath", cp);
        try (var fm = javac.getStandardFileManager(null, null, null)) {
            boolean ok = javac.getTask(diagnostics, fm, null, options, null,
                    fm.getJavaFileObjectsFromStrings(files)).call();
            assertThat(ok).as("javac:%n%s", diagnostics).isTrue();
        }
        Path bundle = dir.resolve(name + "/example.my-rng.jar");
        try (Builder b = new Builder()) {
            b.setProperty("Bundle-SymbolicName", "example.my-rng");
            b.setProperty("Bundle-Version", version);
            b.setProperty("Private-Package", "example.myrng");
            if (extraImport != null) b.setProperty("Import-Package", extraImport + ",*");
            b.addClasspath(classes.toFile());
            b.addClasspath(Path.of(location(vmm.core.device.DeviceProvider.class)).toFile());
            Jar jar = b.build();
            assertThat(b.getErrors()).as("bnd").isEmpty();
            assertThat(jar.getResources().keySet()).as("the DS component bnd made from @Component")
                    .anyMatch(r -> r.startsWith("OSGI-INF/") && r.endsWith(".xml"));
            jar.write(bundle.toFile());
        }
        return bundle;
    }

    private static String location(Class<?> c) throws Exception {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }

    private record Result(int exit, String output) {}

    private Result vmm(String... args) throws Exception {
        Path out = dir.resolve("out.txt");
        Process p = new ProcessBuilder(command(List.of(), args)).redirectErrorStream(true).redirectOutput(out.toFile())
                .start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError("vmm did not end within 120 s; output:\n" + Files.readString(out));
        }
        return new Result(p.exitValue(), Files.readString(out));
    }

    private static List<String> command(List<String> jvm, String... args) {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"));
        cmd.addAll(jvm);
        cmd.addAll(List.of("-jar", JAR.toString()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /**
     * And as a directory of bundles, watched: a new build renamed into place there updates the bundle, and the
     * device instance is swapped to it under the running guest.
     */
    @Test
    void anOutsideBundleLoadedWithBundleServesItsTypeToASeaBiosGuestAndIsInDeviceList() throws Exception {
        assumeTrue(Files.isReadable(SEABIOS), "no " + SEABIOS + ": apt-get install seabios");
        Path bundle = buildMyRng("ok", null);

        Result help = vmm("help", "--bundle", bundle.toString());
        assertThat(help.exit()).as(help.output()).isZero();
        assertThat(help.output()).contains("my-rng: my-rng (example.my-rng 1.0.0)");

        // The firmware's debug console (SeaBIOS's log) on standard error, where its PCI scan names each function.
        Path logging = Files.writeString(dir.resolve("logging.properties"), """
                handlers = java.util.logging.ConsoleHandler
                .level = WARNING
                vmm.firmware.level = ALL
                java.util.logging.ConsoleHandler.level = ALL
                java.util.logging.SimpleFormatter.format = %3$s: %5$s%n
                """);
        Path disk = dir.resolve("io.img"), log = dir.resolve("com1.log"), said = dir.resolve("vm.txt");
        IoLoopDisk.write(disk);
        String name = "bundle-it-" + ProcessHandle.current().pid();
        Path bundles = Files.createDirectories(dir.resolve("bundles"));
        Files.copy(bundle, bundles.resolve("my-rng.jar"));
        Process vm = new ProcessBuilder(command(List.of("-Djava.util.logging.config.file=" + logging), "run",
                "--accel", "emu", "-m", "64M", "--bundle", bundles.toString(), "-s", "4,virtio-blk," + disk,
                "-s", "5,my-rng,max-bytes-per-request=64", "-l", "com1,log=" + log, "-l", "bootrom," + SEABIOS, name))
                .redirectErrorStream(true).redirectOutput(said.toFile()).start();
        try {
            // The guest runs its disk loop: SeaBIOS has scanned and set up PCI by then.
            awaitConsole(log, vm, "Booting from Hard Disk...");
            Result list = vmm("shell", name, "device:list");
            assertThat(list.exit()).as(list.output()).isZero();
            assertThat(list.output()).containsPattern("00:05\\.0\\s+my-rng\\s+my-rng\\s+example\\.my-rng 1\\.0\\.0 "
                    + "\\[\\d+\\]\\s+active");
            String output = Files.readString(said);
            assertThat(output).contains("00:05.0  my-rng").contains("example.my-rng 1.0.0");
            // virtio's vendor 1af4 and the modern entropy device's ID 0x1040 + 4.
            assertThat(output).contains("PCI: init bdf=00:05.0 id=1af4:1044");

            // A new build, written elsewhere and renamed over the old jar, as a build tool's copy step would.
            Path build = buildMyRng("next", null, "1.0.1");
            Files.move(build, bundles.resolve("my-rng.jar"), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            String after = "";
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90); // a hang guard
            while (!after.contains("example.my-rng 1.0.1") && System.nanoTime() < deadline && vm.isAlive())
                after = vmm("shell", name, "device:list").output();
            assertThat(after).as(Files.readString(said)).containsPattern("00:05\\.0\\s+my-rng\\s+my-rng\\s+"
                    + "example\\.my-rng 1\\.0\\.1 \\[\\d+\\]\\s+active\\s+1");
            assertThat(Files.readString(said)).contains("vmm: --bundle " + bundles.resolve("my-rng.jar")
                    + ": updated example.my-rng to 1.0.1");
        } finally {
            vm.destroy();
            vm.waitFor(20, TimeUnit.SECONDS);
            vm.destroyForcibly();
        }
    }

    @Test
    void aBundleThatDoesNotResolveIsOneLineNamingItAndExitCode2BeforeAnythingRuns() throws Exception {
        Path bundle = buildMyRng("unresolved", "example.absent");
        Result r = vmm("run", "--bundle", bundle.toString(), "-s", "5,my-rng", "-l", "bootrom," + SEABIOS);
        assertThat(r.exit()).as(r.output()).isEqualTo(2);
        List<String> lines = r.output().lines().filter(l -> l.startsWith("vmm:")).toList();
        assertThat(lines).as(r.output()).hasSize(1);
        assertThat(lines.getFirst()).startsWith("vmm: --bundle " + bundle + ": Unable to resolve example.my-rng")
                .contains("example.absent");
    }

    @Test
    void theOptionsGoToTheOutsideProviderWhichRefusesABadOneByNameBeforeTheGuestRuns() throws Exception {
        assumeTrue(Files.isReadable(SEABIOS), "no " + SEABIOS + ": apt-get install seabios");
        Path bundle = buildMyRng("bad-option", null);
        Result r = vmm("run", "--accel", "emu", "-m", "64M", "--bundle", bundle.toString(), "-s",
                "5,my-rng,max-bytes-per-request=0", "-l", "bootrom," + SEABIOS, "-l", "com1,log="
                        + dir.resolve("com1.log"));
        assertThat(r.exit()).as(r.output()).isEqualTo(2);
        assertThat(r.output()).contains("max-bytes-per-request must be 1..1048576, was 0")
                .contains("vmm: device my-rng at 0:5.0 did not start");
        Path log = dir.resolve("com1.log"); // opened when COM1 is configured: empty, no vCPU ran
        assertThat(Files.exists(log) ? Files.readString(log) : "").doesNotContain("SeaBIOS");
    }

    @Test
    void aMissingBundleIsOneLineAndExitCode2() throws Exception {
        Result r = vmm("run", "--bundle", dir.resolve("none.jar").toString(), "-l", "bootrom," + SEABIOS);
        assertThat(r.exit()).as(r.output()).isEqualTo(2);
        assertThat(r.output()).contains("vmm: --bundle " + dir.resolve("none.jar") + ": no such file or directory");
    }

    private static void awaitConsole(Path log, Process vm, String text) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120); // a hang guard
        while (!(Files.exists(log) && Files.readString(log).contains(text))) {
            if (!vm.isAlive() || System.nanoTime() > deadline)
                throw new AssertionError("no '" + text + "' on COM1:\n" + (Files.exists(log) ? Files.readString(log)
                        : ""));
            Thread.sleep(50);
        }
    }
}
