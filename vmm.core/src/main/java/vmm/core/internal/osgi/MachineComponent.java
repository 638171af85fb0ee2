package vmm.core.internal.osgi;


import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.irq.IrqChip;
import vmm.core.machine.Machine;
import vmm.core.machine.MemorySize;
import vmm.core.memory.GuestMemory;
import vmm.core.pci.PciBus;

/**
 * Assembles the machine described by the {@code vmm.machine} configuration
 * once an interrupt controller is available, and publishes it and its buses
 * as services: {@link Machine}, {@link GuestMemory}, {@link IoPortBus},
 * {@link MmioBus} and {@link PciBus}.
 */
@Component(configurationPid = MachineComponent.PID, configurationPolicy = ConfigurationPolicy.REQUIRE, service = {})
@Designate(ocd = MachineComponent.Config.class)
public final class MachineComponent {
    public static final String PID = "vmm.machine";

    @ObjectClassDefinition(name = "Virtual machine", description = "The machine's memory and name.")
    public @interface Config {
        @AttributeDefinition(description = "Guest RAM: a number with an optional K, M, G or T suffix, like bhyve's -m.")
        String memory_size() default "64M";

        @AttributeDefinition(description = "The machine's name.")
        String name() default "vm";
    }

    private final Machine machine;
    private final MachineServices services;

    @Activate
    public MachineComponent(Config config, @Reference IrqChip irqChip, BundleContext context) {
        long size;
        try {
            size = MemorySize.parse(config.memory_size());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("configuration " + PID + ": memory.size: " + e.getMessage(), e);
        }
        machine = new Machine(GuestMemory.ofSize(size), irqChip);
        services = new MachineServices(config.name(), size);
        services.registerMachine(context, machine);
    }

    @Deactivate
    void deactivate() {
        services.unregisterAll();
        machine.close();
    }
}
