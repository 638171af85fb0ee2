package vmm.emu.internal.vm;

import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CopyOnWriteArrayList;

import vmm.core.hypervisor.AddressSpace;
import vmm.core.hypervisor.EventFd;
import vmm.core.hypervisor.HypervisorException;
import vmm.emu.internal.cpu.WriteInterceptor;

/** The VM's ioeventfd bindings: a matching guest write signals the eventfd and never reaches the bus. */
final class IoEvents implements WriteInterceptor {
    record Entry(EventFd fd, AddressSpace space, long address, int size, OptionalLong datamatch) {
        boolean overlaps(Entry o) {
            return space == o.space && address < o.address + o.size && o.address < address + size
                    && (datamatch.isEmpty() || o.datamatch.isEmpty() || datamatch.equals(o.datamatch));
        }
    }

    private final List<Entry> entries = new CopyOnWriteArrayList<>();

    Entry add(Entry e) {
        synchronized (entries) {
            for (Entry o : entries)
                if (o.overlaps(e))
                    throw new HypervisorException(String.format("an I/O event at %s 0x%x+%d already exists",
                            e.space, e.address, e.size));
            entries.add(e);
        }
        return e;
    }

    void remove(Entry e) {
        entries.remove(e);
    }

    boolean isEmpty() {
        return entries.isEmpty();
    }

    @Override
    public boolean intercept(boolean port, long address, int size, long value) {
        AddressSpace space = port ? AddressSpace.IO_PORT : AddressSpace.MMIO;
        for (Entry e : entries) {
            if (e.space == space && e.address == address && e.size == size
                    && (e.datamatch.isEmpty() || e.datamatch.getAsLong() == value)) {
                e.fd.signal();
                return true;
            }
        }
        return false;
    }
}
