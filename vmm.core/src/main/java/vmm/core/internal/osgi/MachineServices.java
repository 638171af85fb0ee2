package vmm.core.internal.osgi;

import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;

import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.machine.Machine;
import vmm.core.memory.GuestMemory;
import vmm.core.pci.PciBus;

/**
 * The services a machine component publishes for its machine (the machine, its memory and its three buses, all with
 * the machine's name and memory size as properties) and their withdrawal, for both machine components. Not
 * thread-safe: the component's activate and deactivate own it.
 */
final class MachineServices {
    private final Dictionary<String, Object> props = new Hashtable<>();
    private final List<ServiceRegistration<?>> registrations = new ArrayList<>();

    /** Services of the machine {@code name} with {@code memory} bytes of RAM. */
    MachineServices(String name, long memory) {
        props.put("vmm.machine.name", name);
        props.put("vmm.machine.memory", memory);
    }

    /** Registers {@code service} as {@code type} with the machine's properties, to be withdrawn by {@link #unregisterAll}. */
    <S> void register(BundleContext context, Class<S> type, S service) {
        registrations.add(context.registerService(type, service, props));
    }

    /** Registers {@code machine}, its memory, I/O port, MMIO and PCI buses. */
    void registerMachine(BundleContext context, Machine machine) {
        register(context, Machine.class, machine);
        register(context, GuestMemory.class, machine.memory());
        register(context, IoPortBus.class, machine.ioPorts());
        register(context, MmioBus.class, machine.mmio());
        register(context, PciBus.class, machine.pci());
    }

    /** Withdraws every registration; one the framework already withdrew (a stopping bundle's) is passed over. */
    void unregisterAll() {
        for (ServiceRegistration<?> r : registrations) {
            try {
                r.unregister();
            } catch (IllegalStateException alreadyGone) {
                // the framework unregisters a stopping bundle's services itself
            }
        }
        registrations.clear();
    }
}
