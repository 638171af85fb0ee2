package vmm.launcher.internal.shell;

import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import vmm.core.platform.PcMachine;

/** Gogo commands for the running VM: {@code vm:status}, {@code vm:pause}, {@code vm:resume}. */
@Component(service = VmCommands.class, property = {"osgi.command.scope=vm", "osgi.command.function=status",
        "osgi.command.function=pause", "osgi.command.function=resume"})
public final class VmCommands {
    @Reference
    private PcMachine vm;

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
}
