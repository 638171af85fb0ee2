package vmm.core.machine;

import java.util.List;

import vmm.core.device.DeviceModel;
import vmm.core.device.IncompatibleStateException;
import vmm.core.device.PciDevice;
import vmm.core.device.SwapGate;
import vmm.core.pci.BarHandler;
import vmm.core.pci.Capability;
import vmm.core.pci.CapabilityHandler;
import vmm.core.pci.PciAddress;
import vmm.core.pci.PciFunction;
import vmm.core.pci.PciFunctionSpec;

/**
 * A plain PCI device's shell: one function on the machine's PCI bus for the instance's life. Its BAR accesses, and
 * the accesses to its own capabilities and device registers, go through the instance's gate to whichever model is
 * in place; every model is handed the same {@link PciFunction}, so BAR placement, MSI-X state and the INTx level
 * carry over a swap.
 */
final class PciShell implements Shell {
    private final String id;
    private final SwapGate gate;
    private final PciFunctionSpec spec;
    private final PciFunction function;
    private volatile PciDevice model;

    PciShell(String id, Machine machine, PciAddress address, SwapGate gate, PciDevice first) {
        this.id = id;
        this.gate = gate;
        this.model = first;
        this.spec = first.spec();
        this.function = machine.pci().attach(id, address, forwarding(spec), new Bars());
        first.attach(function);
    }

    /** {@code s} with every capability and device-register handler calling the model in place instead. */
    private PciFunctionSpec forwarding(PciFunctionSpec s) {
        int cc = s.classCode();
        PciFunctionSpec.Builder b = PciFunctionSpec.builder(s.vendorId(), s.deviceId())
                .classCode(cc >>> 16, (cc >>> 8) & 0xff, cc & 0xff).revision(s.revision())
                .subsystem(s.subsystemVendorId(), s.subsystemId()).interruptPin(s.interruptPin())
                .msi(s.msi()).msix(s.msix()).rom(s.rom());
        s.bars().forEach(b::bar);
        List<Capability> caps = s.capabilities();
        for (int i = 0; i < caps.size(); i++) {
            Capability c = caps.get(i);
            int index = i;
            b.capability(new Capability(c.id(), c.body(), c.handler() == null ? null
                    : new Forward(() -> model.spec().capabilities().get(index).handler())));
        }
        if (s.deviceRegisters() != null) {
            PciFunctionSpec.DeviceRegisters r = s.deviceRegisters();
            b.deviceRegisters(r.offset(), r.length(), new Forward(() -> model.spec().deviceRegisters().handler()));
        }
        return b.build();
    }

    /** BAR accesses, through the gate to the model in place. */
    private final class Bars implements BarHandler {
        @Override
        public long readBar(int bar, long offset, int size) {
            return gate.pass(() -> model.readBar(bar, offset, size), -1L);
        }

        @Override
        public void writeBar(int bar, long offset, int size, long value) {
            gate.pass(() -> model.writeBar(bar, offset, size, value));
        }
    }

    /** A capability's or the device registers' accesses, through the gate to the model in place's handler. */
    private final class Forward implements CapabilityHandler {
        private final java.util.function.Supplier<CapabilityHandler> current;

        Forward(java.util.function.Supplier<CapabilityHandler> current) {
            this.current = current;
        }

        @Override
        public int read(int offset, int size, int stored) {
            return (int) gate.pass(() -> current.get().read(offset, size, stored), -1);
        }

        @Override
        public int write(int offset, int size, int value, int stored) {
            return (int) gate.pass(() -> current.get().write(offset, size, value, stored), stored);
        }
    }

    @Override
    public DeviceModel model() {
        return model;
    }

    @Override
    public void checkShape(DeviceModel m) {
        if (!(m instanceof PciDevice next))
            throw new IllegalArgumentException("device " + id + ": the new implementation made a "
                    + m.getClass().getName() + ", not a PCI device");
        if (!next.spec().equals(spec))
            throw new IncompatibleStateException("device " + id + ": the new implementation's PCI function " + next.spec()
                    + " is not the guest-visible " + spec);
        if ((next.spec().deviceRegisters() == null) != (spec.deviceRegisters() == null))
            throw new IncompatibleStateException("device " + id + ": the new implementation's device registers differ");
    }

    @Override
    public void prepare(DeviceModel next) {
        ((PciDevice) next).attach(function);
    }

    @Override
    public void install(DeviceModel next) {
        model = (PciDevice) next;
    }

    @Override
    public void reset() {
        model.reset();
    }

    @Override
    public void unplug() {
        function.detach();
    }

    @Override
    public String location() {
        return function.address().toString();
    }
}
