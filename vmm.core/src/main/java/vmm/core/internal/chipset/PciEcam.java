package vmm.core.internal.chipset;

import vmm.core.bus.IoHandler;
import vmm.core.pci.PciAddress;
import vmm.core.pci.PciBus;

/**
 * PCI Express enhanced configuration access (ECAM, PCIe Base 6.0 section
 * 7.2.2, and the PCI Firmware specification's MCFG): configuration space
 * as memory, 4 KiB per function, the address bits 27:20 the bus, 19:15 the
 * device, 14:12 the function and 11:0 the register. It reaches the same
 * {@link PciBus} as mechanism #1 on 0xCF8/0xCFC, including the extended
 * space from 0x100 that mechanism #1 cannot address.
 *
 * <p>What the specification leaves to the platform, decided as QEMU's
 * {@code pcie_mmcfg} does: an access of 1, 2 or 4 bytes that stays inside
 * one naturally aligned unit reaches the function; an unaligned one, or one
 * of 8 bytes (which would cross a DW, something a configuration request
 * cannot carry), reads all ones and is dropped on write. Buses past the
 * window are not decoded at all. Thread-safe (the bus is).
 */
public final class PciEcam implements IoHandler {
    /**
     * Where the window starts: the bottom of the PCI hole, just above the
     * largest low RAM (3.5 GiB) and below where firmware places BARs (top
     * down from the IOAPIC). QEMU's q35 uses 0xB0000000, but its low RAM ends
     * there; ours may reach 0xE0000000.
     */
    public static final long BASE = 0xe000_0000L;
    /** Buses decoded: bus 0 only, all there is. */
    public static final int BUSES = 1;
    /** Bytes per bus (32 devices x 8 functions x 4 KiB). */
    public static final long BUS_SIZE = 1L << 20;
    public static final long SIZE = BUSES * BUS_SIZE;

    private final PciBus bus;

    public PciEcam(PciBus bus) {
        this.bus = bus;
    }

    @Override
    public long read(long offset, int size) {
        int reg = (int) (offset & 0xfff);
        if (!supported(offset, size)) return size == 8 ? -1L : (1L << (8 * size)) - 1;
        return bus.configRead(target(offset), reg, size) & 0xffffffffL;
    }

    @Override
    public void write(long offset, int size, long value) {
        if (!supported(offset, size)) return;
        bus.configWrite(target(offset), (int) (offset & 0xfff), size, (int) value);
    }

    private static boolean supported(long offset, int size) {
        return offset >= 0 && offset < SIZE && (size == 1 || size == 2 || size == 4) && offset % size == 0;
    }

    private static PciAddress target(long offset) {
        return new PciAddress((int) (offset >>> 20) & 0xff, (int) (offset >>> 15) & 0x1f, (int) (offset >>> 12) & 0x7);
    }
}
