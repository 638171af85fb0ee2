package vmm.core.boot;

/**
 * One entry of the memory map a kernel is given (the e820 map of the PC
 * BIOS; PVH's {@code hvm_memmap_table_entry} uses the same types).
 *
 * @param address first byte
 * @param length  bytes
 * @param type    {@link #E820_RAM}, {@link #E820_RESERVED}, ...
 */
public record MemoryRange(long address, long length, int type) {
    /** E820 address range types (ACPI 6.5 table 15.1). */
    public static final int E820_RAM = 1, E820_RESERVED = 2, E820_ACPI = 3;

    public MemoryRange {
        if (address < 0 || length <= 0) throw new IllegalArgumentException("bad memory range " + address + "+" + length);
    }

    /** The first byte after the range. */
    public long end() {
        return address + length;
    }

    /** Whether this is usable RAM. */
    public boolean isRam() {
        return type == E820_RAM;
    }
}
