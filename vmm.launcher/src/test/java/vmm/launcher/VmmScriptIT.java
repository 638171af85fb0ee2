package vmm.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ./vmm} starts the launcher from vmm.jar's bundles unpacked once per build (one directory per build
 * under {@code target/vmm.d}), which Felix installs by reference, instead of letting bnd's launcher copy the
 * framework to /tmp and every bundle into a fresh cache on each start. Runs the script in the
 * integration-test phase, after the build made vmm.jar ({@code VMM_NO_BUILD}: it must not rebuild it).
 */
class VmmScriptIT {
    static final Path SCRIPT = Path.of("..", "vmm").toAbsolutePath().normalize();
    static final Path UNPACKED = Path.of("target/vmm.d").toAbsolutePath();

    @TempDir
    Path dir;

    record Result(int exit, String output) {}

    @Test
    void theLauncherInstallsEveryBundleOfVmmJarInPlaceFromTheUnpackedCopy() throws Exception {
        Result r = script(Map.of("VMM_JAVA_OPTS", "-Dlaunch.trace=true"), "help");
        assertThat(r.exit()).as(r.output()).isZero();
        assertThat(r.output()).contains("vmm run")
                .as("bnd's embedded launcher, which copies the framework to /tmp, did not run")
                .doesNotContain("[EmbeddedLauncher]");
        Path build = theOnlyBuildDirectory();
        List<String> bundles = bundlesOf(LauncherIT.JAR);
        assertThat(bundles).isNotEmpty();
        for (String b : bundles) {
            assertThat(build.resolve(b)).isRegularFile();
            assertThat(r.output()).contains("installing " + build.resolve(b));
        }
    }

    @Test
    void startsThatBeginTogetherAfterABuildBothRunAndLeaveOneUnpackedCopy() throws Exception {
        script(Map.of(), "help");   // the AOT cache trained (a changed script retrains it), so both start alike
        Path build = theOnlyBuildDirectory();
        deleteTree(build);
        Process a = start(Map.of(), "a", "help"), b = start(Map.of(), "b", "help");
        Result ra = await(a, "a"), rb = await(b, "b");
        assertThat(ra.exit()).as(ra.output()).isZero();
        assertThat(rb.exit()).as(rb.output()).isZero();
        assertThat(ra.output()).contains("vmm run");
        assertThat(rb.output()).contains("vmm run");
        assertThat(theOnlyBuildDirectory()).isEqualTo(build);
        for (String bundle : bundlesOf(LauncherIT.JAR)) assertThat(build.resolve(bundle)).isRegularFile();
    }

    /** The directory of this build of vmm.jar, checked to be the only entry under target/vmm.d. */
    private static Path theOnlyBuildDirectory() throws IOException {
        try (Stream<Path> s = Files.list(UNPACKED)) {
            List<Path> entries = s.toList();
            assertThat(entries).as("target/vmm.d holds one build, and nothing half unpacked").hasSize(1);
            return entries.getFirst();
        }
    }

    /** The bundles bnd's launcher installs: launch.bundles of vmm.jar's launcher.properties. */
    private static List<String> bundlesOf(Path jar) throws IOException {
        try (JarFile j = new JarFile(jar.toFile())) {
            var props = new java.util.Properties();
            props.load(j.getInputStream(j.getEntry("launcher.properties")));
            return List.of(props.getProperty("launch.bundles").split(","));
        }
    }

    private Result script(Map<String, String> env, String... args) throws Exception {
        return await(start(env, "run", args), "run");
    }

    private Process start(Map<String, String> env, String name, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("bash", SCRIPT.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve(name + ".txt").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        pb.environment().put("VMM_NO_BUILD", "1");
        pb.environment().putAll(env);
        return pb.start();
    }

    private Result await(Process p, String name) throws Exception {
        // A hang guard only: a first start after a build also trains the AOT cache.
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError("./vmm did not end within 300 s:\n"
                    + Files.readString(dir.resolve(name + ".txt")));
        }
        return new Result(p.exitValue(), Files.readString(dir.resolve(name + ".txt")));
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
        }
    }
}
