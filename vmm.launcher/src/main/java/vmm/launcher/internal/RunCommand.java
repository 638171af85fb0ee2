package vmm.launcher.internal;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;

import vmm.core.hypervisor.Capabilities;
import vmm.core.hypervisor.Hypervisor;
import vmm.core.machine.DeviceInstance;
import vmm.core.machine.DeviceInstanceInfo;
import vmm.core.pci.PciAddress;
import vmm.core.platform.PcMachine;
import vmm.core.platform.VmSnapshot;
import vmm.launcher.internal.shell.ControlSocket;

/**
 * {@code vmm run}: writes the machine's configuration, waits until the
 * hypervisor back end has built the machine and every configured device is
 * plugged, prints what runs, starts the vCPUs and waits for the guest to
 * end. Exit codes: 0 when the guest powers off (or resets: restarting is not
 * done yet), 1 when it fails, 2 for a configuration that cannot run.
 */
final class RunCommand {
    private static final Duration STARTUP = Duration.ofSeconds(15);
    /** Exit code of a run the guest ended by a reset, which restarts the VM unless {@code --no-reboot}. */
    static final int EXIT_RESET = 3;

    private final ConfigurationAdmin cm;
    private final BundleContext context;
    private final PrintStream out, err;

    RunCommand(ConfigurationAdmin cm, BundleContext context, PrintStream out, PrintStream err) {
        this.cm = cm;
        this.context = context;
        this.out = out;
        this.err = err;
    }

    int run(Arguments.Plan plan) throws Exception {
        List<Arguments.Config> configs = new ArrayList<>(plan.configs());
        Path demo = null;
        for (int i = 0; i < configs.size(); i++) {
            Arguments.Config c = configs.get(i);
            if (Arguments.DEMO_DISK.equals(c.properties().get("path"))) {
                demo = Files.createTempFile("vmm-demo-", ".img");
                removeOnExit(demo);
                DemoDisk.write(demo);
                Map<String, Object> p = new LinkedHashMap<>(c.properties());
                p.put("path", demo.toString());
                configs.set(i, new Arguments.Config(c.factoryPid(), c.name(), p));
            }
        }
        try {
            return runConfigured(configs, null);
        } finally {
            if (demo != null) Files.deleteIfExists(demo);
        }
    }

    /**
     * {@code vmm run -r FILE}: builds the machine the snapshot's configuration describes, as a run does, puts the
     * snapshot into it before any vCPU runs, then runs it. A file that does not fit the machine built from it is
     * one line and exit code 2, with nothing run.
     */
    int restore(SnapshotFile.Restore restore) throws Exception {
        return runConfigured(new ArrayList<>(restore.configs()), restore);
    }

    private int runConfigured(List<Arguments.Config> configs, SnapshotFile.Restore restore) throws Exception {
        String vmName = String.valueOf(configs.getFirst().properties().get("name"));
        // The back end is chosen before anything is configured: an ordinary user who can open /dev/kvm runs
        // VMs on KVM; one who cannot (or a host without it) runs them on the software CPU, told why in one
        // line, or is told in one line why neither can run (exit 2).
        Accel.Choice accel;
        try {
            accel = chooseBackEnd(String.valueOf(configs.getFirst().properties().getOrDefault("accel", "auto")));
        } catch (Accel.Unavailable e) {
            err.println("vmm: " + e.getMessage());
            return 2;
        }
        if (accel.note() != null) err.println("vmm: " + accel.note());
        Map<String, Object> vmProperties = new LinkedHashMap<>(configs.getFirst().properties());
        vmProperties.put("accel", accel.accel());
        vmProperties.put("hypervisor.target", accel.target());
        configs.set(0, new Arguments.Config(configs.getFirst().factoryPid(), configs.getFirst().name(), vmProperties));
        Path control = controlSocket(vmName);
        if (ControlSocket.answers(control)) {
            // Taking its socket over would cut the running VM off from its shell and remove the socket at exit.
            err.println("vmm: a VM named " + vmName + " is already running (its shell answers on " + control
                    + "); give this one another name");
            return 2;
        }
        removeOnExit(control);
        configs.add(new Arguments.Config("vmm.control", null, Map.of("socket", control.toString())));
        for (Arguments.Config c : configs) {
            Configuration config = c.isFactory() ? cm.getFactoryConfiguration(c.factoryPid(), c.name(), "?")
                    : cm.getConfiguration(c.factoryPid(), "?");
            config.update(new Hashtable<>(c.properties()));
        }
        PcMachine vm = await(PcMachine.class, null);
        if (vm == null) {
            err.println("vmm: the virtual machine was not built within " + STARTUP.toSeconds() + " s: "
                    + (service(Hypervisor.class, null) == null
                    ? "no hypervisor back end is active (vmm.svm on AMD hosts, vmm.vmx on Intel hosts, vmm.emu anywhere)"
                    : "see the log above for why"));
            return 2;
        }
        List<String> summary = new ArrayList<>();
        for (Arguments.Config c : configs) {
            if (c.factoryPid().equals("vmm.device")) {
                DeviceInstanceInfo info = await(DeviceInstanceInfo.class, "(service.pid=vmm.device~" + c.name() + ")");
                long deadline = System.nanoTime() + STARTUP.toNanos();
                while (info != null && info.status() != DeviceInstance.Status.ACTIVE && System.nanoTime() < deadline) Thread.sleep(10);
                if (info == null || info.status() != DeviceInstance.Status.ACTIVE) {
                    Object at = c.properties().get("address");
                    err.println("vmm: device " + c.properties().get("type") + " " + (at != null ? "at " + at : c.name())
                            + " did not start (see the log above for why)");
                    return 2;
                }
                String where = info.address() != null ? info.address().toString() : c.name();
                summary.add(String.format("  %-8s %-12s %s (%s)%s", where, info.type(), info.implementation(),
                        Implementations.bundleOf(context, info.type(), info.implementation()),
                        c.properties().containsKey("backend") && info.address() == null ? " on " + c.properties().get("backend") : ""));
            } else if (c.factoryPid().equals("device.pci-passthru")) {
                // The component attaches the function or fails with one message (logged above) saying why and how to fix it.
                PciAddress at = PciAddress.parse(String.valueOf(c.properties().get("address")));
                long deadline = System.nanoTime() + STARTUP.toNanos();
                while (!vm.machine().pci().addresses().contains(at) && System.nanoTime() < deadline) Thread.sleep(10);
                if (!vm.machine().pci().addresses().contains(at)) {
                    err.println("vmm: passthru of " + c.properties().get("host") + " at " + c.properties().get("address")
                            + " did not start (see the log above for why)");
                    return 2;
                }
                summary.add(String.format("  %-8s %-12s %s", at, "passthru", c.properties().get("host")));
            }
        }
        // Before anything is printed: a file that does not fit the machine built from it is one line.
        if (restore != null) {
            try {
                VmSnapshot.restore(vm, restore.reader());
            } catch (RuntimeException e) {
                // A file that does not fit this machine (IncompatibleStateException), a corrupt payload
                // (SnapshotFormatException), a back end that cannot restore (UnsupportedOperationException).
                String why = String.valueOf(e.getMessage()).replaceAll("\\s*\\R\\s*", " ");
                err.println("vmm: -r " + restore.file() + ": " + why);
                return 2;
            }
        }
        Hypervisor hv = service(Hypervisor.class, accel.target());
        Capabilities caps = hv == null ? null : hv.capabilities();
        Map<String, Object> vmProps = configs.getFirst().properties();
        out.println("vmm: " + vmProps.get("name") + ": " + vmProps.get("memory.size") + " RAM, " + vmProps.get("vcpus")
                + " vCPU(s); " + (vmProps.get("kernel") != null ? "kernel " + vmProps.get("kernel")
                        + (vmProps.get("initrd") != null ? ", initrd " + vmProps.get("initrd") : "") : "boot ROM " + vmProps.get("bootrom")));
        if (caps != null) out.println("vmm: back end: " + describe(caps));
        out.println("vmm: devices:");
        summary.forEach(out::println);
        out.println("vmm: shell: ./vmm shell " + vmName + " COMMAND   (socket " + control + ")");
        out.flush();

        if (restore != null)
            out.println("vmm: restored from " + restore.file() + " (written by " + restore.reader().header().writtenBy()
                    + " at " + restore.reader().header().created() + ")");
        vm.start();
        PcMachine.Exit exit;
        while (true) {
            Optional<PcMachine.Exit> e = vm.awaitExit(Duration.ofSeconds(1));
            if (e.isPresent()) {
                exit = e.get();
                break;
            }
        }
        out.flush();
        switch (exit.outcome()) {
            case POWER_OFF -> {
                err.println("\r\nvmm: the guest powered off");
                return 0;
            }
            case RESET -> {
                err.println("\r\nvmm: the guest asked for a reset (" + exit.detail() + "); with --no-reboot the VM ends");
                return EXIT_RESET;
            }
            case STOPPED -> {
                err.println("\r\nvmm: stopped");
                return 0;
            }
            default -> {
                err.println("\r\nvmm: the VM failed:\n" + exit.detail());
                return 1;
            }
        }
    }

    /** The back end in one line: its name, the CPU vendor it reports, then its facts as {@code key=value; ...}. */
    static String describe(Capabilities caps) {
        StringBuilder b = new StringBuilder(caps.backEnd()).append(" (").append(caps.cpuVendor()).append(')');
        String sep = ": ";
        for (Map.Entry<String, String> e : caps.features().entrySet()) {
            b.append(sep).append(e.getKey()).append('=').append(e.getValue());
            sep = "; ";
        }
        return b.toString();
    }

    /**
     * Chooses the CPU back end among the registered hypervisors. The back ends register while their bundles
     * start, before the launcher runs; if none has yet, waits (bounded) for a first one.
     */
    private Accel.Choice chooseBackEnd(String requested) throws Accel.Unavailable, InterruptedException {
        await(Hypervisor.class, null);
        List<String> backEnds = new ArrayList<>();
        try {
            for (ServiceReference<Hypervisor> r : context.getServiceReferences(Hypervisor.class, null)) {
                Object b = r.getProperty(Accel.BACKEND_PROPERTY);
                if (b != null) backEnds.add(b.toString());
            }
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
        return Accel.choose(requested, backEnds, Accel.kvmProblem(HostAccess.KVM));
    }

    /**
     * Removes {@code paths} when the process ends, also on SIGTERM or SIGINT, which end it without stopping the
     * framework (so without the components' own clean-up).
     */
    static void removeOnExit(Path... paths) {
        List<Path> list = List.of(paths);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (Path p : list) {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    // the process is ending: nothing more to do about a file that will not go
                }
            }
        }, "vmm-cleanup"));
    }

    /** Where the shell of VM {@code name} listens: in a directory of the user's own (see {@link HostAccess}). */
    static Path controlSocket(String name) {
        return HostAccess.controlDirectory().resolve(name + ".sock");
    }

    private <S> S await(Class<S> type, String filter) throws InterruptedException {
        long deadline = System.nanoTime() + STARTUP.toNanos();
        while (System.nanoTime() < deadline) {
            S s = service(type, filter);
            if (s != null) return s;
            Thread.sleep(10);
        }
        return null;
    }

    private <S> S service(Class<S> type, String filter) {
        try {
            var refs = context.getServiceReferences(type, filter);
            if (refs.isEmpty()) return null;
            ServiceReference<S> ref = refs.iterator().next();
            return context.getService(ref);
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException(e);
        }
    }
}
