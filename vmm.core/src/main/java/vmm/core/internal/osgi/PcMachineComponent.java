package vmm.core.internal.osgi;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

import vmm.core.hypervisor.Hypervisor;
import vmm.core.machine.Machine;
import vmm.core.machine.MemorySize;
import vmm.core.platform.PcMachine;

/**
 * A PC virtual machine on the host's hypervisor, described by the
 * {@code vmm.vm} configuration: it waits for the {@link Hypervisor} service
 * (the vendor back end), builds a {@link PcMachine} and publishes it with
 * its {@link Machine} and buses, so device components plug into it. The
 * machine does not run until someone (the launcher) calls
 * {@link PcMachine#start()} once its devices are in place.
 */
@Component(configurationPid = PcMachineComponent.PID, configurationPolicy = ConfigurationPolicy.REQUIRE, service = {})
@Designate(ocd = PcMachineComponent.Config.class)
public final class PcMachineComponent {
    public static final String PID = "vmm.vm";
    private static final System.Logger LOG = System.getLogger("vmm.vm");
    private static final System.Logger FIRMWARE = System.getLogger("vmm.firmware");

    @ObjectClassDefinition(name = "PC virtual machine", description = "A PC on the host's hypervisor.")
    public @interface Config {
        @AttributeDefinition(description = "Guest RAM: a number with an optional K, M, G or T suffix, like bhyve's -m.")
        String memory_size() default "256M";

        @AttributeDefinition(description = "vCPUs, like bhyve's -c.")
        int vcpus() default 1;

        @AttributeDefinition(description = "The boot ROM (firmware image), like bhyve's -l bootrom,FILE.")
        String bootrom() default "";

        @AttributeDefinition(description = "A Linux kernel loaded without firmware instead of a boot ROM: an ELF vmlinux with a PVH entry, or a bzImage.")
        String kernel() default "";

        @AttributeDefinition(description = "The initrd for the kernel; empty for none.")
        String initrd() default "";

        @AttributeDefinition(description = "The kernel command line.")
        String cmdline() default "";

        @AttributeDefinition(description = "The I/O port of the serial port firmware uses as its console; 0 for none.")
        int serial_console() default 0;

        @AttributeDefinition(description = "What a guest reset does: true restarts the machine in place, false ends the run "
                + "(QEMU's -no-reboot).")
        String reboot() default "true";

        @AttributeDefinition(description = "true for a reproducible run (QEMU's icount): virtual time follows the "
                + "instruction count, the vCPUs take turns in a fixed order and request queues complete while the "
                + "notifying vCPU waits, so the same guest, disk and inputs give the same run. The software CPU only.")
        String deterministic() default "false";

        @AttributeDefinition(description = "The machine's name.")
        String name() default "vm";

        @AttributeDefinition(description = "The CPU back end: kvm, emu (the software CPU) or auto (whichever hypervisor "
                + "service is bound; hypervisor.target narrows it, as the launcher does).")
        String accel() default "auto";
    }

    private final PcMachine vm;
    private final MachineServices services;

    @Activate
    public PcMachineComponent(Config config, @Reference(name = "hypervisor") Hypervisor hypervisor, BundleContext context) {
        String accel = config.accel().trim();
        String backEnd = hypervisor.capabilities().backEnd();
        if (!accel.equals("auto") && !accel.equals("kvm") && !accel.equals("emu"))
            throw new IllegalArgumentException("configuration " + PID + ": accel must be auto, kvm or emu, was '" + config.accel() + "'");
        if (!accel.equals("auto") && !backEnd.equals(accel) && !backEnd.startsWith(accel + "/"))
            throw new IllegalArgumentException("configuration " + PID + ": accel=" + accel + " but the bound hypervisor is "
                    + backEnd + " (set hypervisor.target=(vmm.hypervisor.backend=" + accel + "*))");
        long size;
        try {
            size = MemorySize.parse(config.memory_size());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("configuration " + PID + ": memory.size: " + e.getMessage(), e);
        }
        byte[] rom = null;
        boolean kernel = !config.kernel().isBlank();
        if (kernel && !config.bootrom().isBlank())
            throw new IllegalArgumentException("configuration " + PID + ": bootrom and kernel: give one boot path, not both");
        if (!config.bootrom().isBlank()) {
            try {
                rom = Files.readAllBytes(Path.of(config.bootrom()));
            } catch (IOException e) {
                throw new IllegalArgumentException("configuration " + PID + ": bootrom: cannot read " + config.bootrom() + ": " + e, e);
            }
        }
        String reboot = config.reboot().trim();
        if (!reboot.equals("true") && !reboot.equals("false"))
            throw new IllegalArgumentException("configuration " + PID + ": reboot must be true or false, was '" + config.reboot() + "'");
        String deterministic = config.deterministic().trim();
        if (!deterministic.equals("true") && !deterministic.equals("false"))
            throw new IllegalArgumentException("configuration " + PID + ": deterministic must be true or false, was '"
                    + config.deterministic() + "'");
        Consumer<String> firmwareLog = line -> FIRMWARE.log(Level.DEBUG, line);
        PcMachine.Config shape = new PcMachine.Config(size, config.vcpus(), rom, Boolean.parseBoolean(reboot),
                Boolean.parseBoolean(deterministic));
        try {
            vm = PcMachine.create(hypervisor, shape, firmwareLog);
        } catch (vmm.core.hypervisor.HypervisorException e) {
            if (!shape.deterministic()) throw e;
            throw new IllegalArgumentException("configuration " + PID + ": deterministic=true: " + e.getMessage(), e);
        }
        if (kernel) {
            try {
                vm.loadKernel(Path.of(config.kernel()), config.initrd().isBlank() ? null : Path.of(config.initrd()), config.cmdline());
            } catch (IllegalArgumentException e) {
                vm.close();
                throw new IllegalArgumentException("configuration " + PID + ": kernel: " + e.getMessage(), e);
            }
        }
        if (config.serial_console() != 0) vm.platform().serialConsole(config.serial_console());
        Machine machine = vm.machine();
        services = new MachineServices(config.name(), size);
        services.register(context, PcMachine.class, vm);
        services.registerMachine(context, machine);
        LOG.log(Level.INFO, "{0}: {1} of RAM, {2} vCPU(s), {3}, on {4}", config.name(), (size >> 20) + " MiB", config.vcpus(),
                kernel ? "kernel " + config.kernel() : rom == null ? "no boot ROM" : "boot ROM " + config.bootrom(), backEnd);
    }

    @Deactivate
    void deactivate() {
        services.unregisterAll();
        vm.close();
    }
}
