package vmm.core.platform;

import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

import vmm.core.boot.KernelEntry;
import vmm.core.boot.LinuxBoot;
import vmm.core.boot.MemoryRange;
import vmm.core.hypervisor.GsiPool;
import vmm.core.hypervisor.Hypervisor;
import vmm.core.hypervisor.StopReport;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.hypervisor.Vcpu;
import vmm.core.hypervisor.VmConfig;
import vmm.core.hypervisor.VmRunner;
import vmm.core.internal.acpi.AcpiTables;
import vmm.core.machine.Machine;
import vmm.core.memory.GuestMemory;

/**
 * A whole PC virtual machine: PC memory with the boot ROM, a hypervisor VM
 * with in-kernel interrupt controllers and PIT, a {@link Machine} whose
 * interrupt controller is the VM's, the {@link PcPlatform} chipset, and the
 * vCPUs on a {@link VmRunner}. Devices are plugged into {@link #machine()}
 * before {@link #start()}. The guest's power-off ends the run; its reset
 * restarts the machine in place ({@link #resetInPlace}) unless the
 * configuration says {@code reboot=false}, when it ends the run with
 * {@link Outcome#RESET}; a guest failure (a triple fault among them) ends
 * it with the stop report.
 */
public final class PcMachine implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vmm.platform");

    /** How a run ended. */
    public enum Outcome {
        /** The guest powered off (ACPI S5). */
        POWER_OFF,
        /** The guest asked for a reset. */
        RESET,
        /** Stopped from outside ({@link #stop()}). */
        STOPPED,
        /** The guest or a device failed; see the report. */
        FAILED
    }

    /** What a run ended with: the outcome, and the runner's report. */
    public record Exit(Outcome outcome, String detail, StopReport report) {}

    /**
     * @param ramBytes guest RAM
     * @param vcpus    vCPUs
     * @param bootRom  the firmware image mapped below 4 GiB, or null (a kernel loaded by the VMM)
     * @param reboot   whether a guest reset restarts the machine (true) or ends the run (false)
     * @param deterministic a reproducible run ({@link VmConfig#deterministic()}); only the software CPU has it
     */
    public record Config(long ramBytes, int vcpus, byte[] bootRom, boolean reboot, boolean deterministic) {
        public Config {
            if (vcpus < 1 || vcpus > 255) throw new IllegalArgumentException("vcpus must be 1..255, was " + vcpus);
        }

        /** A machine that runs in real time. */
        public Config(long ramBytes, int vcpus, byte[] bootRom, boolean reboot) {
            this(ramBytes, vcpus, bootRom, reboot, false);
        }

        /** A machine that restarts on a guest reset. */
        public Config(long ramBytes, int vcpus, byte[] bootRom) {
            this(ramBytes, vcpus, bootRom, true);
        }
    }


    private final GuestMemory memory;
    private final VirtualMachine vm;
    private final Machine machine;
    private final PcPlatform platform;
    private final List<Vcpu> vcpus = new ArrayList<>();
    private final long ramBytes;
    private final boolean hasBootRom;
    private final byte[] bootRom;
    private final boolean reboot;
    private final List<VcpuResetState> powerOn = new ArrayList<>();
    private final Object resetLock = new Object();
    private Thread resetThread;       // guarded by resetLock: the reset under way, if any
    private int resets;               // guarded by resetLock
    private boolean snapshotting;     // guarded by resetLock: a snapshot holds the machine; a guest reset waits
    private Path kernel, initrd;      // what loadKernel loaded, loaded again on each reset
    private String cmdline;
    private volatile VmRunner runner;
    private volatile Outcome requested;
    private volatile String requestDetail;

    private PcMachine(Hypervisor hypervisor, Config config, Consumer<String> firmwareLog) {
        memory = PcPlatform.memory(config.ramBytes(), config.bootRom());
        ramBytes = config.ramBytes();
        hasBootRom = config.bootRom() != null;
        bootRom = hasBootRom ? config.bootRom().clone() : null;
        reboot = config.reboot();
        VirtualMachine v = null;
        try {
            v = hypervisor.createVm(memory, new VmConfig(config.vcpus(), true, config.deterministic()));
            machine = new Machine(memory, v.irqChip());
            // Notify writes and queue interrupts of devices that opt in stay inside the host kernel.
            machine.useHypervisor(v, GsiPool.of(v));
            platform = PcPlatform.install(machine, config.vcpus(), new PowerControl() {
                @Override public void powerOff(String how) { request(Outcome.POWER_OFF, how); }
                @Override public void reset(String how) { request(Outcome.RESET, how); }
            }, firmwareLog);
            for (int i = 0; i < config.vcpus(); i++) {
                Vcpu c = v.createVcpu(i);
                vcpus.add(c);
                powerOn.add(VcpuResetState.capture(c));
            }
        } catch (RuntimeException e) {
            if (v != null) v.close();
            memory.close();
            throw e;
        }
        vm = v;
    }

    /**
     * Creates the machine; nothing runs yet.
     *
     * @param firmwareLog gets the lines the firmware writes to its debug console
     * @throws IllegalArgumentException for an unusable configuration (memory size, ROM size)
     * @throws vmm.core.hypervisor.HypervisorException when the hypervisor cannot create the VM
     */
    public static PcMachine create(Hypervisor hypervisor, Config config, Consumer<String> firmwareLog) {
        return new PcMachine(hypervisor, config, firmwareLog);
    }

    /** Where the ACPI tables go for a kernel booted without firmware: the BIOS area, reserved in its memory map. */
    public static final long ACPI_TABLES = 0xe_0000L;

    /**
     * Loads a Linux kernel (an ELF {@code vmlinux} with a PVH entry, or a
     * bzImage) with {@code initrd} and {@code cmdline}, with this machine's
     * ACPI tables, and puts vCPU 0 in the kernel's entry state; the other
     * vCPUs wait for the kernel's INIT/SIPI. Only for a machine without a
     * boot ROM, before {@link #start()}.
     *
     * @param initrd null for none
     * @return the entry state given to vCPU 0
     * @throws IllegalArgumentException for a kernel or initrd that cannot be booted (see
     *                                  {@link LinuxBoot#check}); nothing was loaded then
     * @throws IllegalStateException    when the machine has a boot ROM or was started
     */
    public synchronized KernelEntry loadKernel(Path kernel, Path initrd, String cmdline) {
        if (runner != null) throw new IllegalStateException("the machine was already started");
        if (hasBootRom) throw new IllegalStateException("the machine has a boot ROM; a kernel is loaded only without one");
        KernelEntry entry = placeKernel(kernel, initrd, cmdline);
        this.kernel = kernel;
        this.initrd = initrd;
        this.cmdline = cmdline;
        LOG.log(Level.INFO, "kernel {0} loaded: {1} entry at 0x{2}", kernel, entry.mode(), Long.toHexString(entry.rip()));
        return entry;
    }

    private KernelEntry placeKernel(Path kernel, Path initrd, String cmdline) {
        List<MemoryRange> map = PcPlatform.kernelMemoryMap(ramBytes);
        platform.setUpWithoutFirmware();
        long rsdp = AcpiTables.writeTo(memory, ACPI_TABLES, vcpus.size());
        KernelEntry entry = LinuxBoot.load(memory, map, kernel, initrd, cmdline, rsdp);
        entry.applyTo(vcpus.get(0));
        return entry;
    }

    public Machine machine() { return machine; }
    public PcPlatform platform() { return platform; }
    public VirtualMachine vm() { return vm; }
    public List<Vcpu> vcpus() { return List.copyOf(vcpus); }

    /** Starts the vCPUs. */
    public synchronized void start() {
        if (runner != null) throw new IllegalStateException("the machine was already started");
        runner = new VmRunner("vm", vcpus, machine.ioPorts(), machine.mmio(), memory);
        platform.guestRuns();
        runner.start();
    }

    /**
     * Called on a vCPU thread: a reset with {@code reboot} restarts the machine
     * from another thread; anything else records the request and stops the run
     * from another thread.
     */
    private void request(Outcome outcome, String how) {
        if (outcome == Outcome.RESET && reboot) {
            synchronized (resetLock) {
                if (resetThread != null || requested != null) return; // one reset at a time; none after power-off
                // Held before this access returns: firmware that finds itself still running after its
                // reset write tries its next way (SeaBIOS: a triple fault), which must not race the reset.
                holdVcpus();
                resetThread = Thread.ofPlatform().daemon().name("vm-reset").unstarted(() -> resetInPlace(how));
                resetThread.start();
            }
            return;
        }
        synchronized (this) {
            if (requested != null) return;
            requested = outcome;
            requestDetail = how;
        }
        holdVcpus();
        LOG.log(Level.INFO, "guest {0}: {1}", outcome == Outcome.POWER_OFF ? "powered off" : "asked for a reset", how);
        VmRunner r = runner;
        if (r != null) Thread.ofPlatform().daemon().name("vm-stop").start(() -> {
            try {
                r.stop();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    private void holdVcpus() {
        VmRunner r = runner;
        if (r != null) r.hold();
    }

    /**
     * Restarts the machine as a reset button does, keeping RAM: every vCPU
     * held, then the devices (virtio reset, PCI headers), the chipset, the
     * in-kernel PICs, IOAPIC and PIT, the boot ROM's copy below 1 MiB (or,
     * for a machine booted without firmware, the kernel loaded again), and
     * every vCPU's power-on state; then the vCPUs run again from the reset
     * vector. A failure here ends the run with {@link Outcome#FAILED}.
     */
    private void resetInPlace(String how) {
        VmRunner r = runner;
        int n;
        synchronized (resetLock) {
            n = resets + 1;
        }
        LOG.log(Level.INFO, "guest asked for a reset ({0}): restarting the machine (reset {1})", how, n);
        try {
            // A snapshot being taken holds the machine: the reset comes after it (or not at all after --stop).
            synchronized (resetLock) {
                while (snapshotting && r.state() != VmRunner.State.STOPPED) resetLock.wait();
            }
            r.pause();
            if (r.state() != VmRunner.State.PAUSED) return; // stopped meanwhile
            for (var d : machine.instances()) {
                try {
                    d.reset();
                } catch (RuntimeException e) {
                    LOG.log(Level.WARNING, "device " + d.id() + " failed to reset", e);
                }
            }
            machine.pci().resetAll();
            platform.reset();
            vm.resetInterruptControllers();
            for (int i = 0; i < vcpus.size(); i++) powerOn.get(i).restore(vcpus.get(i));
            if (hasBootRom) PcPlatform.copyLegacyBiosWindow(memory, bootRom);
            else if (kernel != null) placeKernel(kernel, initrd, cmdline);
            synchronized (resetLock) {
                resets = n;
            }
            r.resume();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "the machine failed to reset", e);
            synchronized (this) {
                if (requested == null) {
                    requested = Outcome.FAILED;
                    requestDetail = "the machine failed to reset after " + how + ": " + e;
                }
            }
            try {
                r.stop();
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
        } finally {
            synchronized (resetLock) {
                resetThread = null;
                resetLock.notifyAll();
            }
        }
    }

    /** How many guest resets restarted this machine so far. */
    public int resets() {
        synchronized (resetLock) {
            return resets;
        }
    }

    /** Whether a guest reset restarts the machine (the configuration's {@code reboot}). */
    public boolean rebootsOnReset() {
        return reboot;
    }

    /** Holds every vCPU out of the guest until {@link #resume()}; returns once they are all held. */
    public void pause() throws InterruptedException {
        VmRunner r = runner;
        if (r == null) throw new IllegalStateException("not started");
        r.pause();
    }

    /**
     * For a snapshot ({@link VmSnapshot#write}): waits for a guest reset under way to finish (it touches vCPUs,
     * devices and the chips the snapshot reads), then holds every vCPU; a reset the guest asks for from now on
     * waits until {@link #endSnapshotPause()}. Called by one snapshot at a time, from any thread but a vCPU's.
     *
     * @return the state before this pause, {@link VmRunner.State#RUNNING} or {@link VmRunner.State#PAUSED}
     * @throws IllegalStateException when the machine is not running or paused, or a snapshot holds it already;
     *                               nothing is held then
     */
    public VmRunner.State pauseForSnapshot() throws InterruptedException {
        VmRunner r = runner;
        if (r == null) throw new IllegalStateException("the VM is new, not running");
        synchronized (resetLock) {
            if (snapshotting) throw new IllegalStateException("a snapshot of the VM is being taken already");
            while (resetThread != null) resetLock.wait();
            snapshotting = true;
        }
        try {
            VmRunner.State before = r.state();
            if (before != VmRunner.State.RUNNING && before != VmRunner.State.PAUSED)
                throw new IllegalStateException("the VM is " + before.name().toLowerCase() + ", not running");
            r.pause();
            return before;
        } catch (InterruptedException | RuntimeException e) {
            endSnapshotPause();
            throw e;
        }
    }

    /** Ends {@link #pauseForSnapshot()}'s hold on guest resets (the caller resumes the vCPUs itself). */
    public void endSnapshotPause() {
        synchronized (resetLock) {
            snapshotting = false;
            resetLock.notifyAll();
        }
    }

    /** Lets paused vCPUs run again. */
    public void resume() {
        VmRunner r = runner;
        if (r == null) throw new IllegalStateException("not started");
        r.resume();
    }

    /** NEW before {@link #start()}, then RUNNING, PAUSED or STOPPED. */
    public VmRunner.State state() {
        VmRunner r = runner;
        return r == null ? VmRunner.State.NEW : r.state();
    }

    /** Stops the vCPUs from outside; the outcome is {@link Outcome#STOPPED} unless the guest asked first. */
    public void stop() throws InterruptedException {
        VmRunner r = runner;
        if (r != null) r.stop();
        // A reset under way touches vCPUs and devices: let it finish before anything is released. One waiting for
        // a snapshot (--stop) sees the machine stopped and ends.
        synchronized (resetLock) {
            resetLock.notifyAll();
            while (resetThread != null && resetThread != Thread.currentThread()) resetLock.wait();
        }
    }

    /** Waits for the run to end; empty on timeout. */
    public Optional<Exit> awaitExit(Duration timeout) throws InterruptedException {
        VmRunner r = runner;
        if (r == null) throw new IllegalStateException("not started");
        Optional<StopReport> report = r.awaitStop(timeout);
        if (report.isEmpty()) return Optional.empty();
        StopReport s = report.get();
        Outcome o = requested != null ? requested : s.isClean() ? Outcome.STOPPED : Outcome.FAILED;
        return Optional.of(new Exit(o, requested != null ? requestDetail : s.describe(), s));
    }

    /** Stops the vCPUs, removes the devices, and releases the VM and guest memory. */
    @Override
    public void close() {
        try {
            stop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        platform.close();
        vm.close();       // the hypervisor lets go of guest memory first
        machine.close();  // then devices go and memory is unmapped
    }
}
