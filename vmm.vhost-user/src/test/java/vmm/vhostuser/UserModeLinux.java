package vmm.vhostuser;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import vmm.testing.HangGuard;

/**
 * A real Linux kernel as a vhost-user front-end: Debian's user-mode Linux
 * ({@code linux.uml}) booted with the host's root as hostfs, its
 * {@code virtio_uml} driver connected to our socket, and an init script that
 * loads the guest driver, runs the test's shell commands, writes
 * {@code key=value} lines to a result file and powers off. Needs the
 * packages {@code user-mode-linux} and {@code busybox-static} (what
 * {@code .ci/run} installs).
 */
final class UserModeLinux {
    static final Path KERNEL = Path.of("/usr/bin/linux.uml");
    static final Path BUSYBOX = Path.of("/bin/busybox");

    /** The delay loop's calibration on an idle host of the development machine (1574 BogoMIPS). */
    private static final long LOOPS_PER_JIFFY = 7_872_512;

    /** Key of the results entry holding the last lines of the UML console, for failure messages. */
    static final String CONSOLE = "console";

    private UserModeLinux() {}

    /** Builds the shim that lets UML 6.1 run on hosts with a large XSAVE area ({@code cnf/uml-xstate-shim.c}). */
    static final Path SHIM_SCRIPT = Path.of("..", "cnf", "uml-shim.sh");

    private static volatile Path shim;

    /** Whether the guest, which runs the host's programs through hostfs, finds {@code program} on its PATH. */
    static boolean onPath(String program) {
        for (String d : new String[] {"/usr/sbin", "/usr/bin", "/sbin", "/bin"})
            if (Files.isExecutable(Path.of(d, program))) return true;
        return false;
    }

    /** Why UML cannot run here, or null when it can. */
    static String missing() {
        if (!Files.isExecutable(KERNEL)) return KERNEL + " is missing: apt-get install user-mode-linux";
        if (!Files.isExecutable(BUSYBOX)) return BUSYBOX + " is missing: apt-get install busybox-static";
        try {
            shim();
        } catch (IOException e) {
            return e.getMessage();
        }
        return null;
    }

    /**
     * The ptrace shim UML runs with (built once per module into {@code target/}); without it UML's init dies
     * on hosts with AVX-512 or AMX.
     */
    static Path shim() throws IOException {
        Path s = shim;
        if (s != null) return s;
        synchronized (UserModeLinux.class) {
            if (shim != null) return shim;
            Process p = new ProcessBuilder("bash", SHIM_SCRIPT.toString(), Path.of("target").toAbsolutePath().toString())
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).strip();
            try {
                if (p.waitFor() != 0) throw new IOException("cannot build the user-mode Linux shim: " + out);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while building the user-mode Linux shim", e);
            }
            shim = Path.of(out.lines().reduce((a, b) -> b).orElse(out));
            return shim;
        }
    }

    /**
     * Boots UML with {@code device=socket:virtioId}, loads {@code module}
     * (a path under the UML modules tree, e.g. {@code drivers/block/virtio_blk.ko}),
     * runs {@code commands} (shell, results as {@code echo key=value}) and
     * returns the results, with the console's last lines under {@link #CONSOLE}.
     */
    static Map<String, String> run(Path dir, Path socket, int virtioId, String module, String commands, long timeoutSeconds)
            throws IOException, InterruptedException {
        Path result = dir.resolve("result.txt");
        Path console = dir.resolve("console.log");
        Process p = start(dir, socket, virtioId, module, commands);
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            kill(p);
            throw new AssertionError("user-mode Linux did not power off within " + timeoutSeconds + " s; console:\n" + tail(console));
        }
        if (!Files.exists(result)) throw new AssertionError("user-mode Linux wrote no result; console:\n" + tail(console));
        Map<String, String> out = new LinkedHashMap<>();
        out.put(CONSOLE, tail(console));
        for (String line : Files.readAllLines(result)) {
            int eq = line.indexOf('=');
            if (eq > 0) out.put(line.substring(0, eq), line.substring(eq + 1));
        }
        return out;
    }

    /**
     * Boots UML as {@link #run} does and returns at once: its init writes the results to
     * {@code dir/result.txt} and the console goes to {@code dir/console.log}. The caller ends it.
     */
    static Process start(Path dir, Path socket, int virtioId, String module, String commands) throws IOException {
        Path result = dir.resolve("result.txt");
        Path init = dir.resolve("init.sh");
        Files.writeString(init, """
                #!/bin/sh
                export PATH=/usr/sbin:/usr/bin:/sbin:/bin
                mount -t proc proc /proc
                mount -t sysfs sys /sys
                mount -t devtmpfs dev /dev
                busybox insmod /usr/lib/uml/modules/$(uname -r)/kernel/%s
                {
                %s
                } > %s 2>&1
                busybox poweroff -f
                """.formatted(module, commands, result));
        Files.setPosixFilePermissions(init, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path console = dir.resolve("console.log");
        // lpj: a preset loops-per-jiffy skips the delay-loop calibration, which busy-waits for timer ticks and
        // took 2 to 3 s of each boot on a loaded host (nothing in this guest needs an exact udelay).
        ProcessBuilder uml = new ProcessBuilder(List.of(KERNEL.toString(), "mem=256M", "lpj=" + LOOPS_PER_JIFFY,
                "rootfstype=hostfs", "rootflags=/", "rw", "init=" + init,
                "virtio_uml.device=" + socket + ":" + virtioId, "con=null", "con0=null,fd:1"));
        uml.environment().put("LD_PRELOAD", shim().toString());
        return uml.redirectErrorStream(true).redirectOutput(console.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
    }

    /**
     * Kills UML and the helper processes it started, which would outlive it (UML puts them all in a
     * process group of its own, so the group is killed), and waits until every one of them is dead.
     * Dead, not reaped: the helpers are not our children, so once UML is gone they wait as zombies for
     * the host's init, and {@code ProcessHandle.onExit} polls such a process at 300 ms and up (1.4 to
     * 2.3 s per kill here); a zombie holds no file, socket or memory any more.
     */
    static void kill(Process uml) throws InterruptedException {
        List<ProcessHandle> helpers = uml.descendants().toList();
        try {
            if (processGroup(uml.pid()) == uml.pid())
                new ProcessBuilder("kill", "-KILL", "--", "-" + uml.pid()).redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
        } catch (IOException e) {
            // no kill(1): the handles below are all there is
        }
        uml.destroyForcibly();
        helpers.forEach(ProcessHandle::destroyForcibly);
        uml.waitFor();
        for (ProcessHandle h : helpers)
            HangGuard.await(() -> !h.isAlive() || "Z".equals(stat(h.pid(), 0)), "UML's helper " + h.pid() + " died");
    }

    /** The process group of {@code pid} (field 5 of /proc/PID/stat), or -1. */
    private static long processGroup(long pid) {
        try {
            return Long.parseLong(stat(pid, 2));
        } catch (RuntimeException e) {
            return -1;
        }
    }

    /** Field {@code 3 + index} of /proc/PID/stat (0: the state, 2: the process group), or null when gone. */
    private static String stat(long pid, int index) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return stat.substring(stat.lastIndexOf(')') + 2).split(" ")[index];
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    static String tail(Path file) throws IOException {
        if (!Files.exists(file)) return "(none)";
        List<String> lines = Files.readAllLines(file);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }
}
