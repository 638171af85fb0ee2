package vmm.core.pci;

import static vmm.core.pci.PciRegs.*;

import java.util.ArrayList;
import java.util.List;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;

/** Real buses, a recording interrupt controller and a PCI bus on top, with config-access shorthands. */
class PciFixture {
    static final int VENDOR = 0x1af4;
    static final int DEVICE = 0x1041;

    final IoPortBus io = new IoPortBus();
    final MmioBus mmio = new MmioBus();
    final RecordingIrqChip irq = new RecordingIrqChip();
    final RecordingBarHandler bars = new RecordingBarHandler();
    final PciBus bus;

    PciFixture() {
        bus = new PciBus(io, mmio, irq);
    }

    PciFixture(IntxRouting routing) {
        bus = new PciBus(io, mmio, irq, routing);
    }

    static PciFunctionSpec.Builder spec() {
        return PciFunctionSpec.builder(VENDOR, DEVICE).classCode(0x02, 0x00, 0x00);
    }

    PciFunction attach(PciAddress at, PciFunctionSpec spec) {
        return bus.attach("dev" + at.device() + "." + at.function(), at, spec, bars);
    }

    int read32(PciAddress a, int offset) {
        return bus.configRead(a, offset, 4);
    }

    int read16(PciAddress a, int offset) {
        return bus.configRead(a, offset, 2);
    }

    int read8(PciAddress a, int offset) {
        return bus.configRead(a, offset, 1);
    }

    void write32(PciAddress a, int offset, int value) {
        bus.configWrite(a, offset, 4, value);
    }

    void write16(PciAddress a, int offset, int value) {
        bus.configWrite(a, offset, 2, value);
    }

    void write8(PciAddress a, int offset, int value) {
        bus.configWrite(a, offset, 1, value);
    }

    static int bar(int index) {
        return PCI_BASE_ADDRESS_0 + 4 * index;
    }

    void enableDecode(PciAddress a, int commandBits) {
        write16(a, PCI_COMMAND, read16(a, PCI_COMMAND) | commandBits);
    }

    /** Follows the capability list from 0x34 as a guest OS does: {offset, id} pairs. */
    List<int[]> walkCapabilities(PciAddress a) {
        List<int[]> found = new ArrayList<>();
        int at = read8(a, PCI_CAPABILITY_LIST) & ~3;
        while (at != 0 && found.size() < 48) {
            found.add(new int[] {at, read8(a, at + PCI_CAP_LIST_ID)});
            at = read8(a, at + PCI_CAP_LIST_NEXT) & ~3;
        }
        return found;
    }

    int findCapability(PciAddress a, int id) {
        for (int[] c : walkCapabilities(a)) if (c[1] == id) return c[0];
        throw new AssertionError("no capability " + id);
    }
}
