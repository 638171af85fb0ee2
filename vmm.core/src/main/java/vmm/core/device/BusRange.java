package vmm.core.device;

import java.util.Objects;

import vmm.core.hypervisor.AddressSpace;

/**
 * A range of addresses a {@link BusDevice} decodes: ports on the I/O-port bus or bytes of the MMIO space.
 *
 * @param space where: {@link AddressSpace#IO_PORT} (an ISA device) or {@link AddressSpace#MMIO} (a platform device)
 * @param name  what the range is, for bus listings and messages ("registers", "fifo")
 * @param base  the first address
 * @param size  how many addresses, at least 1; a port range ends at or below 0x10000
 */
public record BusRange(AddressSpace space, String name, long base, long size) {
    public BusRange {
        Objects.requireNonNull(space, "space");
        Objects.requireNonNull(name, "name");
        if (size < 1) throw new IllegalArgumentException(name + ": a bus range has at least one address, not " + size);
        if (base < 0) throw new IllegalArgumentException(name + String.format(": base 0x%x is negative", base));
        long limit = space == AddressSpace.IO_PORT ? 0x10000 : 1L << 52;
        if (base > limit - size)
            throw new IllegalArgumentException(name + String.format(": 0x%x+0x%x leaves the %s space", base, size, space));
    }

    /** Ports {@code base .. base + count - 1}. */
    public static BusRange ports(String name, int base, int count) {
        return new BusRange(AddressSpace.IO_PORT, name, base, count);
    }

    /** MMIO bytes {@code base .. base + size - 1}. */
    public static BusRange mmio(String name, long base, long size) {
        return new BusRange(AddressSpace.MMIO, name, base, size);
    }

    @Override
    public String toString() {
        return String.format("%s %s 0x%x-0x%x", name, space == AddressSpace.IO_PORT ? "io" : "mmio", base, base + size - 1);
    }
}
