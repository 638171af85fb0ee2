package vmm.core.internal.chipset;

import vmm.core.bus.IoHandler;
import vmm.core.pci.PciAddress;
import vmm.core.pci.PciBus;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * PCI configuration mechanism #1 (PCI Local Bus 3.0, 3.2.2.3.2): a 32-bit
 * CONFIG_ADDRESS at 0xCF8 and CONFIG_DATA at 0xCFC..0xCFF, where the low two
 * address bits select the byte lane. Byte accesses to 0xCF9 are not
 * CONFIG_ADDRESS but the reset control register, which it hands to
 * {@link ResetControl}. Thread-safe.
 */
public final class PciConfigPorts {
    public static final int CONFIG_ADDRESS = 0xcf8, CONFIG_DATA = 0xcfc;
    /** CONFIG_ADDRESS bit 31: the next data access is a configuration cycle. */
    static final int ENABLE = 0x8000_0000;

    private final PciBus bus;
    private final ResetControl reset;
    private int address;

    public PciConfigPorts(PciBus bus, ResetControl reset) {
        this.bus = bus;
        this.reset = reset;
    }

    /** Handler for the four ports at {@link #CONFIG_ADDRESS}. */
    public IoHandler addressPorts() {
        return new IoHandler() {
            @Override
            public long read(long offset, int size) {
                if (offset == 0 && size == 4) return currentAddress();
                if (offset == 1 && size == 1) return reset.read();
                return ones(size);
            }

            @Override
            public void write(long offset, int size, long value) {
                if (offset == 0 && size == 4) setAddress((int) value);
                else if (offset == 1 && size == 1) reset.write((int) value & 0xff);
            }
        };
    }

    /** Handler for the four ports at {@link #CONFIG_DATA}. */
    public IoHandler dataPorts() {
        return new IoHandler() {
            @Override
            public long read(long offset, int size) {
                int a = currentAddress();
                int reg = (a & 0xfc) + (int) offset;
                if ((a & ENABLE) == 0 || reg % size != 0) return ones(size);
                return bus.configRead(target(a), reg, size) & 0xffffffffL;
            }

            @Override
            public void write(long offset, int size, long value) {
                int a = currentAddress();
                int reg = (a & 0xfc) + (int) offset;
                if ((a & ENABLE) == 0 || reg % size != 0) return;
                bus.configWrite(target(a), reg, size, (int) value);
            }
        };
    }

    private synchronized int currentAddress() {
        return address;
    }

    private synchronized void setAddress(int value) {
        // Bits 30:24 are reserved and bits 1:0 read as 0.
        address = value & 0x80ff_fffc;
    }

    private static PciAddress target(int a) {
        return new PciAddress((a >>> 16) & 0xff, (a >>> 11) & 0x1f, (a >>> 8) & 0x7);
    }

    private static long ones(int size) {
        return size == 8 ? -1L : (1L << (8 * size)) - 1;
    }

    /** The CONFIG_ADDRESS latch (0xCF8), which a guest may have written just before the pause. */
    public synchronized DeviceState save() {
        return DeviceState.builder("vmm.platform.pci-config-address", 1).put("address", address & 0xffff_ffffL).build();
    }

    public synchronized void restore(DeviceState s) {
        s.require("vmm.platform.pci-config-address", 1);
        long a = s.getLong("address");
        if ((a & ~0x80ff_fffcL) != 0)
            throw new IncompatibleStateException(String.format(
                    "vmm.platform.pci-config-address state: 0x%x sets bits CONFIG_ADDRESS does not keep", a));
        address = (int) a;
    }
}
