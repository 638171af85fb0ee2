package vmm.testing.linux;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import vmm.core.device.DeviceState;
import vmm.core.hypervisor.Hypervisor;
import vmm.core.machine.Machine;
import vmm.core.platform.PcMachine;
import vmm.core.platform.VmSnapshot;
import vmm.core.snapshot.SnapshotReader;

/**
 * Linux's own drivers against the devices a test plugs: a PC ({@link PcMachine}) on the CPU back end the test
 * passes (vmm.emu's software CPU, {@code new vmm.emu.internal.vm.EmuHypervisor()}, runs it on any host), Debian's
 * cloud kernel as installed, and an initramfs ({@link Initramfs}) whose init mounts proc, sysfs and devtmpfs,
 * loads the kernel package's modules the test names, runs the test's shell script with busybox, prints
 * {@code LINUXGUEST-EXIT=<status>} and powers the machine off. The script's output goes to the kernel's log
 * ({@code /dev/kmsg}), which the kernel prints on COM1; {@link #console()} is all of COM1.
 *
 * <pre>{@code
 * try (LinuxGuest g = LinuxGuest.builder(new EmuHypervisor()).modules("virtio_pci", "virtio_rng")
 *         .script("head -c 16 /dev/hwrng | od -x").create(dir)) {
 *     g.machine().plug("rng", "virtio-rng", PciAddress.slot(3), Map.of(), "impl", new VirtioRngProvider());
 *     String console = g.boot().awaitPowerOff();
 * }
 * }</pre>
 *
 * A boot takes about 25 s on the software CPU of an idle two-core machine. Used by one test thread.
 */
public final class LinuxGuest implements AutoCloseable {
    /** The line the init prints after the script, followed by the script's exit status. */
    public static final String EXIT_MARKER = "LINUXGUEST-EXIT=";
    /**
     * A hang guard for a boot and its script, not a timing: the software CPU reaches the script after about 25 s
     * on an idle development machine and after about a minute while other builds share its two cores.
     */
    public static final Duration BOUND = Duration.ofMinutes(10);
    /**
     * The kernel's command line: {@code cryptomgr.notests} leaves out the crypto self-tests (30 s of the software
     * CPU's time that test the kernel, not the VMM), {@code printk.devkmsg=on} lets every line of the script
     * through {@code /dev/kmsg}.
     */
    public static final String CMDLINE = "console=ttyS0 rdinit=/init cryptomgr.notests printk.devkmsg=on";

    private final PcMachine pc;
    /** What COM1 printed so far: LinuxGuest's own port's, or what the test's UART gives. */
    private final java.util.function.Supplier<String> com1;
    private final Path kernel, initrd;
    private final String cmdline;
    private boolean booted;

    private LinuxGuest(PcMachine pc, Path kernel, Path initrd, String cmdline,
                       java.util.function.Supplier<String> console) {
        this.pc = pc;
        this.kernel = kernel;
        this.initrd = initrd;
        this.cmdline = cmdline;
        if (console != null) {
            this.com1 = console;
        } else {
            ConsolePort port = new ConsolePort();
            pc.machine().ioPorts().register("com1", ConsolePort.BASE, ConsolePort.PORTS, port);
            this.com1 = port::text;
        }
    }

    /** Starts describing a guest on {@code hypervisor}, which the caller keeps and closes after the guest. */
    public static Builder builder(Hypervisor hypervisor) {
        return new Builder(hypervisor);
    }

    /** What a {@link LinuxGuest} boots; each setter returns this builder. Not thread-safe. */
    public static final class Builder {
        private final Hypervisor hypervisor;
        private Path kernel;
        private int vcpus = 1;
        private long memory = 512L << 20;
        private final List<String> modules = new ArrayList<>(), programs = new ArrayList<>();
        private String script = "true", cmdline = CMDLINE;
        private boolean deterministic;
        private java.util.function.Supplier<String> console;

        private Builder(Hypervisor hypervisor) {
            this.hypervisor = hypervisor;
        }

        /** The bzImage or PVH vmlinux; the default is {@link Initramfs#debianKernel()}. */
        public Builder kernel(Path bzImage) {
            this.kernel = bzImage;
            return this;
        }

        /** vCPUs (1 by default); {@code nproc} in the script says how many the kernel brought up. */
        public Builder vcpus(int n) {
            this.vcpus = n;
            return this;
        }

        /** Guest RAM in bytes (512 MiB by default). */
        public Builder memory(long bytes) {
            this.memory = bytes;
            return this;
        }

        /** Modules of the kernel's package, by name (with what they depend on), loaded before the script. */
        public Builder modules(String... names) {
            modules.addAll(List.of(names));
            return this;
        }

        /** Host programs the script runs, at their own paths, with their shared libraries. */
        public Builder programs(String... paths) {
            programs.addAll(List.of(paths));
            return this;
        }

        /** The busybox shell script to run (busybox's applets on PATH). */
        public Builder script(String text) {
            this.script = text;
            return this;
        }

        /**
         * A deterministic run ({@link vmm.core.hypervisor.VmConfig#deterministic()}; the software CPU only): the
         * same kernel, initramfs, script and disk give the same console, byte for byte. Off by default.
         */
        public Builder deterministic(boolean on) {
            this.deterministic = on;
            return this;
        }

        /**
         * Leaves COM1 (ports 0x3F8-0x3FF) to a UART the test plugs, whose back end's text so far {@code text}
         * returns: Linux's 8250 driver then drives that UART, as its console and as {@code /dev/ttyS0}. By default
         * LinuxGuest answers COM1 itself with a port that only records.
         */
        public Builder consoleFrom(java.util.function.Supplier<String> text) {
            this.console = java.util.Objects.requireNonNull(text, "text");
            return this;
        }

        /** Replaces the kernel's command line ({@link #CMDLINE} by default). */
        public Builder cmdline(String text) {
            this.cmdline = text;
            return this;
        }

        /**
         * Writes the initramfs into {@code dir} and creates the machine, not yet started, so that the test can plug
         * its devices into {@link LinuxGuest#machine()}. Skips the test where the kernel, a module or busybox is
         * missing.
         */
        public LinuxGuest create(Path dir) throws Exception {
            Path k = kernel != null ? kernel : Initramfs.debianKernel();
            Initramfs initramfs = new Initramfs("").modules(k, modules.toArray(String[]::new))
                    .programs(programs.toArray(String[]::new));
            initramfs.init(init(initramfs.moduleLoadOrder())).file("script.sh", script.getBytes(UTF_8));
            Path initrd = initramfs.write(dir.resolve("linuxguest-initrd.cpio"));
            PcMachine pc = PcMachine.create(hypervisor, new PcMachine.Config(memory, vcpus, null, true, deterministic),
                    line -> { });
            try {
                return new LinuxGuest(pc, k, initrd, cmdline, console);
            } catch (RuntimeException e) {
                pc.close();
                throw e;
            }
        }

        private static String init(List<String> modules) {
            return """
                    /bin/busybox --install -s /bin
                    export PATH=/bin:/sbin:/usr/bin:/usr/sbin
                    mount -t proc proc /proc
                    mount -t sysfs sys /sys
                    mount -t devtmpfs dev /dev
                    exec > /dev/kmsg 2>&1
                    for m in %s; do insmod $m || echo LINUXGUEST-INSMOD-FAILED $m; done
                    sh /script.sh
                    echo %s$?
                    poweroff -f
                    """.formatted(String.join(" ", modules), EXIT_MARKER);
        }
    }

    /** The machine, for the test to plug devices into before {@link #boot()}. */
    public Machine machine() {
        return pc.machine();
    }

    /** Loads the kernel and initramfs and starts the vCPUs; once. */
    public synchronized LinuxGuest boot() {
        if (booted) throw new IllegalStateException("already booted");
        booted = true;
        pc.loadKernel(kernel, initrd, cmdline);
        pc.start();
        return this;
    }

    /**
     * Takes a snapshot of the running guest into {@code file} ({@link VmSnapshot#write}, with a configuration
     * section naming this test helper): with {@code stop} the machine ends once the file is written (outcome
     * {@link PcMachine.Outcome#STOPPED}), else it runs on.
     */
    public VmSnapshot.Written snapshot(Path file, boolean stop) throws IOException, InterruptedException {
        return VmSnapshot.write(pc, file, DeviceState.builder("vmm.testing.linux.guest", 1).build(),
                "vmm.testing LinuxGuest", stop);
    }

    /**
     * Instead of {@link #boot()}: puts the snapshot in {@code file} into this guest's machine, made as the one
     * that took it (the same builder settings, the same devices plugged at the same addresses), and starts its
     * vCPUs where the snapshot left them; once.
     *
     * @throws vmm.core.device.IncompatibleStateException when the snapshot does not fit this machine
     */
    public synchronized LinuxGuest restore(Path file) throws IOException {
        if (booted) throw new IllegalStateException("already booted");
        booted = true;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            VmSnapshot.restore(pc, SnapshotReader.open(ch));
        }
        pc.start();
        return this;
    }

    /** How the machine ended, waiting at most {@code timeout} for it to end; empty while it runs. */
    public Optional<PcMachine.Exit> awaitExit(Duration timeout) throws InterruptedException {
        return pc.awaitExit(timeout);
    }

    /** Everything on COM1 so far: the kernel's messages and the script's output. */
    public String console() {
        return com1.get();
    }

    /**
     * Waits until the console holds {@code text} and returns the console; an {@link AssertionError} with the
     * console when the machine ends first or {@link #BOUND} passes.
     */
    public String await(String text) throws InterruptedException {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (!console().contains(text)) {
            Optional<PcMachine.Exit> exit = pc.awaitExit(Duration.ofMillis(200));
            if (console().contains(text)) break;
            if (exit.isPresent())
                throw new AssertionError("the machine ended (" + exit.get().outcome() + ": " + exit.get().detail()
                        + ") before \"" + text + "\" on the console:\n" + console());
            if (System.nanoTime() > deadline)
                throw new AssertionError("no \"" + text + "\" on the console within " + BOUND + ":\n" + console());
        }
        return console();
    }

    /**
     * Waits until the guest powers off after its script and returns the console; an {@link AssertionError} with
     * the console when the machine ends otherwise (a reset, a triple fault) or {@link #BOUND} passes.
     */
    public String awaitPowerOff() throws InterruptedException {
        Optional<PcMachine.Exit> exit = pc.awaitExit(BOUND);
        if (exit.isEmpty()) throw new AssertionError("the guest did not power off within " + BOUND + ":\n" + console());
        if (exit.get().outcome() != PcMachine.Outcome.POWER_OFF)
            throw new AssertionError("the machine ended with " + exit.get().outcome() + " (" + exit.get().detail()
                    + "), not a power-off:\n" + console());
        return console();
    }

    /** The script's exit status from the console, or -1 before it ended. */
    public int scriptExitStatus() {
        String text = console();
        int at = text.lastIndexOf(EXIT_MARKER);
        if (at < 0) return -1;
        int end = at + EXIT_MARKER.length();
        while (end < text.length() && Character.isDigit(text.charAt(end))) end++;
        return Integer.parseInt(text.substring(at + EXIT_MARKER.length(), end));
    }

    /** Stops the machine if it still runs, frees it and deletes the initramfs. */
    @Override
    public void close() {
        try {
            pc.close();
        } finally {
            try {
                Files.deleteIfExists(initrd);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
