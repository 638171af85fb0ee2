package vmm.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Nothing in {@code ./vmm run} needs root: the exported {@code vmm.jar} and
 * the {@code ./vmm} script run as an ordinary user ({@value #USER}, made
 * with {@code useradd} when missing), switched to with {@code setpriv}. Without
 * access to {@code /dev/kvm} the user is told so in one line naming it, with
 * exit code 2; as a member of the device's group the built-in default VM
 * boots and powers off, as far as the host allows. Needs root (to make and
 * become the user); skipped otherwise.
 */
class LeastPrivilegeIT {
    static final String USER = "vmm-unprivileged";
    static final Path KVM = Path.of("/dev/kvm");

    @TempDir
    Path dir;
    private Path home, jar, logging;

    record Result(int exit, String out, String err) {}

    @BeforeEach
    void becomeOrdinary() throws Exception {
        assumeTrue(isRoot(), "making and becoming an ordinary user needs root");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "no setpriv (util-linux)");
        if (exec(List.of("id", "-u", USER)).exit() != 0)
            assumeTrue(exec(List.of("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER))
                            .exit() == 0,
                    "useradd " + USER + " failed");
        // A directory the user can reach, holding the jar (the checkout may sit under root's home) and its home.
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        jar = Files.copy(LauncherIT.JAR, dir.resolve("vmm.jar"), StandardCopyOption.REPLACE_EXISTING);
        Files.setPosixFilePermissions(jar, PosixFilePermissions.fromString("rw-r--r--"));
        // The logging ./vmm runs with: warnings and errors only.
        logging = Files.copy(Path.of("../cnf/vmm-logging.properties"), dir.resolve("logging.properties"));
        Files.setPosixFilePermissions(logging, PosixFilePermissions.fromString("rw-r--r--"));
        home = Files.createDirectory(dir.resolve("home"));
        UserPrincipal user = dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(USER);
        Files.setOwner(home, user);
        assumeTrue(asUser(false, "/", List.of(java(), "-version")).exit() == 0,
                "the JDK at " + java() + " is not usable by " + USER);
    }

    @Test
    void withoutAccessToDevKvmTheUserIsToldSoInOneLineAndTheDefaultVmBootsOnTheSoftwareCpu() throws Exception {
        assumeTrue(!Files.exists(KVM) || !othersMayUse(KVM), KVM + " is open to every user here");
        assumeTrue(Files.isReadable(LauncherIT.SEABIOS), "no " + LauncherIT.SEABIOS + ": apt-get install seabios");
        Result r = asUser(false, home.toString(), vmm("run"));
        assertThat(r.exit()).as("%s%s", r.out(), r.err()).isZero();
        List<String> why = r.err().lines().filter(l -> l.contains("/dev/kvm")).toList();
        assertThat(why).as("standard error:%n%s", r.err()).hasSize(1);
        assertThat(why.getFirst()).startsWith("vmm: ").contains(Files.exists(KVM) ? USER : "missing")
                .contains("software CPU");
        assertThat(r.out() + r.err()).contains("SeaBIOS (version").contains("the guest powered off");
    }

    @Test
    void aMemberOfTheKvmGroupRunsTheDefaultVmAsFarAsTheHostAllows() throws Exception {
        assumeTrue(Files.exists(KVM), "no /dev/kvm on this host: guests cannot run");
        assumeTrue(Files.isReadable(LauncherIT.SEABIOS), "no " + LauncherIT.SEABIOS + ": apt-get install seabios");
        Result r = asUser(true, home.toString(), vmm("run"));
        assertThat(r.exit()).as("%s%s", r.out(), r.err()).isZero();
        assertThat(r.out() + r.err()).contains("SeaBIOS (version").contains("the guest powered off");
        // Its shell socket went to a directory of its own, not a shared path another user could hold.
        assertThat(Path.of(System.getProperty("java.io.tmpdir"), "vmm-" + USER)).isDirectory();
    }

    @Test
    void theVmmScriptRunsForTheUserWithoutWritingIntoTheCheckout() throws Exception {
        Path script = Path.of("..", "vmm").toAbsolutePath().normalize();
        String jarPath = LauncherIT.JAR.toAbsolutePath().toString();
        assumeTrue(asUser(false, "/", List.of("test", "-x", script.toString(), "-a", "-r", jarPath)).exit() == 0,
                "the checkout is not readable by " + USER);
        Path target = LauncherIT.JAR.toAbsolutePath().getParent();
        assumeTrue(asUser(false, "/", List.of("test", "-w", target.toString())).exit() != 0,
                target + " is writable by every user");
        Result r = asUser(Files.exists(KVM), home.toString(), List.of("bash", script.toString(), "help"));
        assertThat(r.exit()).as("%s%s", r.out(), r.err()).isZero();
        assertThat(r.out()).contains("vmm run");
        // The AOT cache was trained into the user's own cache directory, not the checkout's target/.
        try (var files = Files.list(home.resolve(".cache/vmm"))) {
            assertThat(files.filter(f -> f.toString().endsWith(".aot")).toList()).hasSize(1);
        }
    }

    private List<String> vmm(String... args) {
        List<String> cmd = new ArrayList<>(List.of(java(), "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow", "-Djava.util.logging.config.file=" + logging,
                "-jar", jar.toString()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    private static String java() {
        return ProcessHandle.current().info().command().orElse("java");
    }

    /** Runs {@code command} as {@value #USER}, in the device's group when {@code kvmGroup}, in {@code cwd}. */
    private Result asUser(boolean kvmGroup, String cwd, List<String> command) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=" + USER, "--regid=" + USER));
        if (kvmGroup) cmd.add("--groups=" + Files.readAttributes(KVM, PosixFileAttributes.class).group().getName());
        else cmd.add("--clear-groups");
        cmd.addAll(List.of("env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + home, "USER=" + USER,
                "JAVA_HOME=" + Path.of(java()).getParent().getParent()));
        cmd.addAll(command);
        return exec(cmd, Path.of(cwd));
    }

    private Result exec(List<String> cmd) throws Exception {
        return exec(cmd, Path.of("/"));
    }

    private Result exec(List<String> cmd, Path cwd) throws Exception {
        Path out = Files.createTempFile(dir, "out", ".txt"), err = Files.createTempFile(dir, "err", ".txt");
        Process p = new ProcessBuilder(cmd).directory(cwd.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError(cmd + " did not end within 300 s; output:\n" + Files.readString(out)
                    + Files.readString(err));
        }
        return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    private static boolean othersMayUse(Path dev) throws IOException {
        var perms = Files.getPosixFilePermissions(dev);
        return perms.contains(PosixFilePermission.OTHERS_READ) && perms.contains(PosixFilePermission.OTHERS_WRITE);
    }

    static boolean isRoot() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status")))
            if (line.startsWith("Uid:")) return line.split("\\s+")[2].equals("0");
        return false;
    }
}
