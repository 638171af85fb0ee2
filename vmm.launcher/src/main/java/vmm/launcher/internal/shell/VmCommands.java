package vmm.launcher.internal.shell;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import vmm.core.platform.PcMachine;
import vmm.core.platform.VmSnapshot;
import vmm.launcher.internal.SnapshotFile;
import vmm.core.device.DeviceState;

/**
 * Gogo commands for the running VM: {@code vm:status}, {@code vm:pause}, {@code vm:resume}, and
 * {@code vm:snapshot [--stop] FILE}, which writes the whole VM to FILE (see {@link VmSnapshot}) for
 * {@code vmm run -r FILE}, then lets it run on, or with {@code --stop} ends it (bhyve's suspend).
 */
@Component(service = VmCommands.class, property = {"osgi.command.scope=vm", "osgi.command.function=status",
        "osgi.command.function=pause", "osgi.command.function=resume", "osgi.command.function=snapshot"})
public final class VmCommands {
    @Reference
    private PcMachine vm;
    @Reference
    private ConfigurationAdmin cm;

    /** The VM's run state and the devices on its PCI bus. */
    public String status() {
        return "state: " + vm.state().name().toLowerCase() + "\npci: " + vm.machine().pci().addresses();
    }

    /** Holds the vCPUs; devices finish what they took. */
    public String pause() throws InterruptedException {
        vm.pause();
        return "paused";
    }

    public String resume() {
        vm.resume();
        return "running";
    }

    /**
     * {@code vm:snapshot [--stop] FILE}: the whole VM into FILE; one line saying what was written, or what is
     * wrong (the VM then runs on as before).
     */
    public String snapshot(String file) throws Exception {
        return snapshot(java.util.List.of(file));
    }

    /** {@code vm:snapshot --stop FILE}: Gogo picks a method by its number of arguments. */
    public String snapshot(String option, String file) throws Exception {
        return snapshot(java.util.List.of(option, file));
    }

    private String snapshot(java.util.List<String> args) throws Exception {
        boolean stop = false;
        String file = null;
        for (String a : args) {
            if (a.equals("--stop")) stop = true;
            else if (a.startsWith("-")) return "vm:snapshot: unknown option " + a
                    + " (usage: vm:snapshot [--stop] FILE)";
            else if (file != null) return "vm:snapshot: one file, not '" + file + "' and '" + a + "'";
            else file = a;
        }
        if (file == null) return "vm:snapshot: which file? (usage: vm:snapshot [--stop] FILE)";
        Path path = Path.of(file).toAbsolutePath();
        if (path.getParent() != null && !Files.isDirectory(path.getParent()))
            return "vm:snapshot: " + file + ": no directory " + path.getParent();
        if (Files.isDirectory(path)) return "vm:snapshot: " + file + " is a directory";
        try {
            DeviceState config = SnapshotFile.currentConfig(cm);
            return "snapshot " + VmSnapshot.write(vm, path, config, writer(), stop).describe();
        } catch (UnsupportedOperationException | IllegalStateException e) {
            return "vm:snapshot: " + e.getMessage();
        } catch (IOException e) {
            return "vm:snapshot: " + file + ": " + e.getMessage() + " (the VM runs on)";
        }
    }

    /** This VMM's name and version, as the file's header records them. */
    private static String writer() {
        org.osgi.framework.Bundle b = org.osgi.framework.FrameworkUtil.getBundle(VmCommands.class);
        return "vmm " + (b == null ? "(unbundled)" : b.getVersion());
    }
}
