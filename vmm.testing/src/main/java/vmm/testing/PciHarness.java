package vmm.testing;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import vmm.core.pci.BarKind;
import vmm.core.pci.PciAddress;
import vmm.core.pci.PciBus;

/**
 * Does what firmware does to PCI before an OS runs: enumerates bus 0,
 * sizes every BAR by writing all ones, assigns addresses from I/O, 32-bit
 * and 64-bit memory windows, and enables decoding and bus mastering. Also
 * offers raw config accesses and capability walking for tests. Not
 * thread-safe; one test drives it.
 */
public final class PciHarness {
    public static final int VENDOR_ID = 0x00, DEVICE_ID = 0x02, COMMAND = 0x04, STATUS = 0x06, REVISION = 0x08,
            CLASS_PROG = 0x09, HEADER_TYPE = 0x0e, BAR0 = 0x10, SUBSYSTEM_VENDOR_ID = 0x2c, SUBSYSTEM_ID = 0x2e,
            ROM_BAR = 0x30, CAPABILITIES_POINTER = 0x34, INTERRUPT_LINE = 0x3c, INTERRUPT_PIN = 0x3d;
    public static final int COMMAND_IO = 1, COMMAND_MEMORY = 2, COMMAND_BUS_MASTER = 4, COMMAND_INTX_DISABLE = 0x400;
    public static final int STATUS_CAPABILITIES = 0x10;
    public static final int CAP_ID_MSI = 0x05, CAP_ID_VENDOR = 0x09, CAP_ID_MSIX = 0x11;

    /** Where the harness places BARs, like a typical firmware layout below 4 GiB and above. */
    public static final long IO_WINDOW = 0xc000, MEM32_WINDOW = 0xc000_0000L, MEM64_WINDOW = 0x80_0000_0000L;

    private final PciBus bus;
    private long nextIo = IO_WINDOW, nextMem32 = MEM32_WINDOW, nextMem64 = MEM64_WINDOW;

    public PciHarness(PciBus bus) {
        this.bus = bus;
    }

    /** A BAR as firmware found it. */
    public record Bar(int index, BarKind kind, long size, boolean prefetchable, long address) {}

    /** A capability found by walking the list. */
    public record Cap(int id, int offset) {}

    /** One function after {@link #assignResources()}. */
    public record Function(PciAddress address, int vendorId, int deviceId, int classCode, Map<Integer, Bar> bars,
                           long romSize, List<Cap> capabilities) {
        /** The BAR with index {@code i}, failing the test when absent. */
        public Bar bar(int i) {
            Bar b = bars.get(i);
            if (b == null) throw new AssertionError(address + " has no BAR " + i);
            return b;
        }
    }

    public int read8(PciAddress a, int off) { return bus.configRead(a, off, 1); }
    public int read16(PciAddress a, int off) { return bus.configRead(a, off, 2); }
    public int read32(PciAddress a, int off) { return bus.configRead(a, off, 4); }
    public void write8(PciAddress a, int off, int v) { bus.configWrite(a, off, 1, v); }
    public void write16(PciAddress a, int off, int v) { bus.configWrite(a, off, 2, v); }
    public void write32(PciAddress a, int off, int v) { bus.configWrite(a, off, 4, v); }

    /** Scans bus 0 as firmware does: function 0 of each slot, and functions 1..7 of multifunction devices. */
    public List<PciAddress> enumerate() {
        List<PciAddress> found = new ArrayList<>();
        for (int slot = 0; slot < 32; slot++) {
            PciAddress f0 = new PciAddress(0, slot, 0);
            if (read16(f0, VENDOR_ID) == 0xffff) continue;
            found.add(f0);
            if ((read8(f0, HEADER_TYPE) & 0x80) != 0) {
                for (int fn = 1; fn < 8; fn++) {
                    PciAddress a = new PciAddress(0, slot, fn);
                    if (read16(a, VENDOR_ID) != 0xffff) found.add(a);
                }
            }
        }
        return found;
    }

    /** Enumerates, then sizes and places every BAR and enables decoding on every function found. */
    public List<Function> assignResources() {
        List<Function> out = new ArrayList<>();
        for (PciAddress a : enumerate()) out.add(assign(a));
        return out;
    }

    /** Sizes and places the BARs of one function, then enables I/O, memory and bus mastering. */
    public Function assign(PciAddress a) {
        write16(a, COMMAND, 0); // decode off while sizing, as firmware does
        Map<Integer, Bar> bars = new LinkedHashMap<>();
        for (int i = 0; i < 6; i++) {
            int reg = BAR0 + 4 * i;
            int orig = read32(a, reg);
            write32(a, reg, 0xffffffff);
            int low = read32(a, reg);
            if (low == 0) {
                write32(a, reg, orig);
                continue;
            }
            if ((low & 1) != 0) {
                long size = (~(low & ~3L) + 1) & 0xffff;
                long at = place(size, BarKind.IO);
                write32(a, reg, (int) at);
                bars.put(i, new Bar(i, BarKind.IO, size, false, at));
            } else if (((low >> 1) & 3) == 2) {
                write32(a, reg + 4, 0xffffffff);
                long high = Integer.toUnsignedLong(read32(a, reg + 4));
                long mask = (high << 32) | (Integer.toUnsignedLong(low) & ~0xfL);
                long size = ~mask + 1;
                long at = place(size, BarKind.MEMORY64);
                write32(a, reg, (int) at);
                write32(a, reg + 4, (int) (at >>> 32));
                bars.put(i, new Bar(i, BarKind.MEMORY64, size, (low & 8) != 0, at));
                i++;
            } else {
                long size = (~(Integer.toUnsignedLong(low) & ~0xfL) + 1) & 0xffff_ffffL;
                long at = place(size, BarKind.MEMORY32);
                write32(a, reg, (int) at);
                bars.put(i, new Bar(i, BarKind.MEMORY32, size, (low & 8) != 0, at));
            }
        }
        write32(a, ROM_BAR, 0xfffff800);
        int rom = read32(a, ROM_BAR);
        long romSize = 0;
        if ((rom & 0xfffff800) != 0) {
            romSize = (~(Integer.toUnsignedLong(rom) & 0xfffff800L) + 1) & 0xffff_ffffL;
            write32(a, ROM_BAR, (int) place(romSize, BarKind.MEMORY32));
        } else {
            write32(a, ROM_BAR, 0);
        }
        write16(a, COMMAND, COMMAND_IO | COMMAND_MEMORY | COMMAND_BUS_MASTER);
        return new Function(a, read16(a, VENDOR_ID), read16(a, DEVICE_ID), read32(a, REVISION) >>> 8, Map.copyOf(bars),
                romSize, capabilities(a));
    }

    /** Enables the ROM BAR decode; returns its guest address. */
    public long enableRom(PciAddress a) {
        int rom = read32(a, ROM_BAR);
        write32(a, ROM_BAR, rom | 1);
        return Integer.toUnsignedLong(rom) & 0xfffff800L;
    }

    /**
     * Walks the capability list from the pointer at 0x34, failing the test
     * when it loops or points into the header, as a careful OS would.
     */
    public List<Cap> capabilities(PciAddress a) {
        List<Cap> caps = new ArrayList<>();
        if ((read16(a, STATUS) & STATUS_CAPABILITIES) == 0) return caps;
        int p = read8(a, CAPABILITIES_POINTER) & 0xfc;
        while (p != 0) {
            if (p < 0x40 || caps.size() > 48) throw new AssertionError(a + ": capability list broken at 0x" + Integer.toHexString(p));
            caps.add(new Cap(read8(a, p), p));
            p = read8(a, p + 1) & 0xfc;
        }
        return caps;
    }

    private long place(long size, BarKind kind) {
        long align = Math.max(size, kind == BarKind.IO ? 4 : 16);
        return switch (kind) {
            case IO -> { long at = (nextIo + align - 1) & -align; nextIo = at + size; yield at; }
            case MEMORY32 -> { long at = (nextMem32 + align - 1) & -align; nextMem32 = at + size; yield at; }
            case MEMORY64 -> { long at = (nextMem64 + align - 1) & -align; nextMem64 = at + size; yield at; }
        };
    }
}
