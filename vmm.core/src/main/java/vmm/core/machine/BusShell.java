package vmm.core.machine;

import java.util.ArrayList;
import java.util.List;

import vmm.core.bus.AddressBus;
import vmm.core.bus.IoHandler;
import vmm.core.bus.Registration;
import vmm.core.device.BusDevice;
import vmm.core.device.BusRange;
import vmm.core.device.DeviceModel;
import vmm.core.device.IncompatibleStateException;
import vmm.core.device.SwapGate;
import vmm.core.hypervisor.AddressSpace;

/**
 * A {@link BusDevice}'s shell: its ranges stay registered on the machine's buses, and every access goes through
 * the instance's gate to whichever model is in place, so a swap or a detach is invisible to the guest but for the
 * wait. An access that the gate keeps closed past its bound reads all ones and drops a write, as an unclaimed
 * address does.
 */
final class BusShell implements Shell {
    private final String id;
    private final SwapGate gate;
    private final List<BusRange> ranges;
    private final List<Registration> registrations = new ArrayList<>();
    private volatile BusDevice model;

    /** Registers {@code first}'s ranges on {@code machine}'s buses; on a conflict nothing stays registered. */
    BusShell(String id, Machine machine, SwapGate gate, BusDevice first) {
        this.id = id;
        this.gate = gate;
        this.model = first;
        this.ranges = List.copyOf(first.ranges());
        if (ranges.isEmpty()) throw new IllegalArgumentException("device " + id + ": a bus device decodes at least one range");
        try {
            for (int i = 0; i < ranges.size(); i++) {
                BusRange r = ranges.get(i);
                AddressBus bus = r.space() == AddressSpace.IO_PORT ? machine.ioPorts() : machine.mmio();
                registrations.add(bus.register(id + " " + r.name(), r.base(), r.size(), new Forward(i)));
            }
        } catch (RuntimeException e) {
            unplug();
            throw e instanceof IllegalStateException ? new IllegalArgumentException("device " + id + ": " + e.getMessage(), e) : e;
        }
    }

    /** One range's accesses, through the gate to the model in place. */
    private final class Forward implements IoHandler {
        private final int range;

        Forward(int range) {
            this.range = range;
        }

        @Override
        public long read(long offset, int size) {
            return gate.pass(() -> model.read(range, offset, size), -1L);
        }

        @Override
        public void write(long offset, int size, long value) {
            gate.pass(() -> model.write(range, offset, size, value));
        }
    }

    @Override
    public DeviceModel model() {
        return model;
    }

    @Override
    public void checkShape(DeviceModel m) {
        if (!(m instanceof BusDevice next))
            throw new IllegalArgumentException("device " + id + ": the new implementation made a "
                    + m.getClass().getName() + ", not a bus device");
        if (!next.ranges().equals(ranges))
            throw new IncompatibleStateException("device " + id + ": the new implementation decodes " + next.ranges()
                    + ", not " + ranges);
    }

    @Override
    public void install(DeviceModel next) {
        model = (BusDevice) next;
    }

    @Override
    public void reset() {
        model.reset();
    }

    @Override
    public void unplug() {
        for (Registration r : registrations) r.close();
        registrations.clear();
    }

    @Override
    public String location() {
        return ranges.toString();
    }
}
