package vmm.launcher.internal;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import vmm.launcher.internal.Arguments.MissingFirmware;
import vmm.launcher.internal.Arguments.UsageException;

/**
 * Firmware the default VM needs and the host lacks (Debian's SeaBIOS): installed
 * with apt-get when the launcher runs as root, saying so in one line; otherwise
 * one line saying exactly what to install. As {@code ./vmm} builds itself and
 * finds its JDK, {@code ./vmm run} sets up what it runs.
 */
final class FirmwareInstaller {
    /** Runs a command to its end, its output out of the user's terminal; its exit code. The seam tests replace. */
    interface Runner {
        int run(List<String> command) throws IOException, InterruptedException;
    }

    private final boolean root;
    private final Runner runner;
    private final PrintStream err;

    FirmwareInstaller(boolean root, Runner runner, PrintStream err) {
        this.root = root;
        this.runner = runner;
        this.err = err;
    }

    /** The host's: root by the process's user id, apt-get run with its output discarded. */
    static FirmwareInstaller host(PrintStream err) {
        boolean root;
        try {
            root = Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            root = false;
        }
        return new FirmwareInstaller(root, command -> {
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD);
            pb.environment().put("DEBIAN_FRONTEND", "noninteractive");
            return pb.start().waitFor();
        }, err);
    }

    /**
     * Installs the package that provides {@code missing.rom}, or says what to install.
     *
     * @throws UsageException one line: what to install (not root), or why installing failed
     */
    void install(MissingFirmware missing) throws UsageException {
        if (!root) throw missing;
        String pkg = missing.debianPackage;
        err.println("vmm: " + missing.rom + " is missing: installing Debian's " + pkg + " package (apt-get install -y "
                + pkg + ")");
        err.flush();
        List<String> install = List.of("apt-get", "install", "-y", "-q", "--no-install-recommends", pkg);
        int rc;
        try {
            rc = runner.run(install);
            // A fresh machine's package lists may be empty or stale: refresh them once and try again.
            if (rc != 0 && runner.run(List.of("apt-get", "update", "-q")) == 0) rc = runner.run(install);
        } catch (IOException e) {
            throw new UsageException("cannot run apt-get (" + e.getMessage() + "): install Debian's " + pkg
                    + " package yourself");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UsageException("installing " + pkg + " was interrupted");
        }
        if (rc != 0) throw new UsageException("apt-get install " + pkg + " failed (exit code " + rc
                + "): install it yourself, then run again");
        if (!Files.exists(missing.rom))
            throw new UsageException("apt-get installed " + pkg + " but " + missing.rom + " is still missing");
    }
}
