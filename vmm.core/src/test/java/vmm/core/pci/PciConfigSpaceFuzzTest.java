package vmm.core.pci;

import org.junit.jupiter.api.AfterAll;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import vmm.core.Inert;
import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.internal.chipset.PciEcam;
import vmm.core.machine.Machine;
import vmm.core.memory.GuestMemory;
import vmm.core.platform.PcPlatform;

/**
 * A hostile guest programming PCI configuration space through 0xCF8/0xCFC
 * and ECAM on a PC platform with the PIIX functions and two more: one with
 * I/O, 32- and 64-bit memory BARs, an option ROM, MSI with per-vector
 * masking and an MSI-X table, one with 32-bit MSI only. Between config
 * cycles the guest touches whatever its BAR registers now say, MSI-X table
 * and PBA included. Any sequence (BAR sizing, relocation over other
 * devices or over ECAM itself, enabling decode mid-way, capability
 * rewrites) leaves every access returning, with no host exception.
 */
class PciConfigSpaceFuzzTest {
    private static final int[] PIO_SIZES = {1, 2, 4}, MMIO_SIZES = {1, 2, 4, 8};
    private static final PciAddress RICH = PciAddress.slot(3), PLAIN = new PciAddress(0, 4, 0);
    private static final GuestMemory MEMORY = PcPlatform.memory(16 << 20, null);
    private static final BarHandler BARS = new BarHandler() {
        @Override public long readBar(int bar, long offset, int size) { return offset ^ bar; }
        @Override public void writeBar(int bar, long offset, int size, long value) { }
    };

    @AfterAll
    static void release() {
        MEMORY.close();
    }

    @FuzzTest(maxDuration = "5m")
    void anyConfigCycleSequence(FuzzedDataProvider data) {
        Machine m = new Machine(MEMORY, Inert.IRQS);
        PcPlatform p = PcPlatform.install(m, 1, Inert.POWER, line -> { });
        PciFunction rich = m.pci().attach("rich", RICH, PciFunctionSpec.builder(0x1af4, 0x10f0).classCode(0x02, 0, 0)
                .interruptPin(1).bar(BarSpec.io(0, 32)).bar(BarSpec.mem32(1, 0x4000)).bar(BarSpec.mem64(2, 0x10000, true))
                .msi(new MsiSpec(8, true, true)).msix(new MsiXSpec(6, 1, 0x2000, 1, 0x3000))
                .rom(new byte[0x800]).build(), BARS);
        m.pci().attach("plain", PLAIN, PciFunctionSpec.builder(0x1af4, 0x10f1).classCode(0x01, 0, 0)
                .interruptPin(2).bar(BarSpec.mem32(0, 0x1000)).msi(new MsiSpec(1, false, false)).build(), BARS);
        IoPortBus io = m.ioPorts();
        MmioBus mmio = m.mmio();
        while (data.remainingBytes() > 0) {
            switch (data.consumeInt(0, 5)) {
                case 0 -> io.write(0xcf8, 4, address(data));
                case 1 -> { // CONFIG_DATA at 0xCFC..0xCFF, with any size the guest picks
                    long port = 0xcfc + data.consumeInt(0, 3);
                    int size = PIO_SIZES[data.consumeInt(0, 2)];
                    if (data.consumeBoolean()) io.write(port, size, data.consumeInt());
                    else io.read(port, size);
                }
                case 2 -> { // ECAM: any bus, device, function, offset and size
                    long at = PciEcam.BASE + (data.consumeBoolean() ? ecam(data) : data.consumeLong(0, PciEcam.SIZE + 8));
                    int size = MMIO_SIZES[data.consumeInt(0, 3)];
                    if (data.consumeBoolean()) mmio.write(at, size, data.consumeLong());
                    else mmio.read(at, size);
                }
                case 3 -> { // where BAR n of a function now points, as the guest would compute it
                    PciAddress f = data.consumeBoolean() ? RICH : PLAIN;
                    int bar = data.consumeInt(0, 6);
                    int reg = bar == 6 ? 0x30 : 0x10 + 4 * bar;
                    long lo = Integer.toUnsignedLong(m.pci().configRead(f, reg, 4));
                    long base = (lo & 1) != 0 && bar != 6 ? lo & ~3L : lo & ~0xfL;
                    if (bar < 5 && (lo & 6) == 4) base |= Integer.toUnsignedLong(m.pci().configRead(f, reg + 4, 4)) << 32;
                    long at = base + data.consumeInt(0, 0x4000);
                    boolean ioSpace = (lo & 1) != 0 && bar != 6;
                    int size = ioSpace ? PIO_SIZES[data.consumeInt(0, 2)] : MMIO_SIZES[data.consumeInt(0, 3)];
                    var bus = ioSpace ? io : (vmm.core.bus.AddressBus) mmio;
                    if (data.consumeBoolean()) bus.write(ioSpace ? at & 0xffff : at, size, data.consumeLong());
                    else bus.read(ioSpace ? at & 0xffff : at, size);
                }
                case 4 -> { // a BAR, the command register or a capability register set to a chosen value
                    PciAddress f = data.consumeBoolean() ? RICH : PLAIN;
                    int reg = data.pickValue(new int[] {0x04, 0x10, 0x14, 0x18, 0x1c, 0x20, 0x24, 0x30, 0x3c,
                            0x40, 0x44, 0x48, 0x4c, 0x50, 0x54, 0x58, 0x5c, 0x60, 0x64, 0x68, 0x6c, 0x70});
                    io.write(0xcf8, 4, 0x8000_0000L | f.device() << 11 | f.function() << 8 | reg);
                    io.write(0xcfc, 4, data.consumeBoolean() ? 0xffff_ffffL : data.consumeInt());
                }
                default -> { // the device raising interrupts in whatever mode the guest left it
                    int vector = data.consumeInt(0, 8);
                    if (data.consumeBoolean()) rich.signalMsiX(vector);
                    else rich.signalMsi(vector);
                    if (data.consumeBoolean()) rich.intx().raise();
                    else rich.intx().lower();
                }
            }
        }
        p.close();
    }

    /** A CONFIG_ADDRESS value: mostly enabled cycles to the functions present, sometimes anything. */
    private static long address(FuzzedDataProvider data) {
        if (data.consumeInt(0, 7) == 0) return data.consumeInt() & 0xffff_ffffL;
        return 0x8000_0000L | data.consumeInt(0, 4) << 11 | data.consumeInt(0, 7) << 8 | data.consumeInt(0, 0xff);
    }

    private static long ecam(FuzzedDataProvider data) {
        return (long) data.consumeInt(0, 4) << 15 | (long) data.consumeInt(0, 7) << 12 | data.consumeInt(0, 0xfff);
    }
}
