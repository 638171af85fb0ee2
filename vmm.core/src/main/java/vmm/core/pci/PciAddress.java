package vmm.core.pci;

/**
 * A function's bus/device/function address.
 *
 * @param bus      0..255
 * @param device   0..31 (the slot)
 * @param function 0..7
 */
public record PciAddress(int bus, int device, int function) implements Comparable<PciAddress> {
    public PciAddress {
        if (bus < 0 || bus > 255) throw new IllegalArgumentException("PCI bus must be 0..255, was " + bus);
        if (device < 0 || device > 31) throw new IllegalArgumentException("PCI slot must be 0..31, was " + device);
        if (function < 0 || function > 7) throw new IllegalArgumentException("PCI function must be 0..7, was " + function);
    }

    /** Slot {@code device}, function 0, bus 0. */
    public static PciAddress slot(int device) {
        return new PciAddress(0, device, 0);
    }

    /**
     * Parses {@code "slot"}, {@code "slot:func"} (bhyve's {@code -s} form),
     * {@code "bus:slot.func"} or {@code "dddd:bb:ss.f"}; numbers in bhyve's
     * form are decimal, in the lspci forms hexadecimal.
     *
     * @throws IllegalArgumentException naming the text when it is malformed
     */
    public static PciAddress parse(String text) {
        String t = text.trim();
        try {
            if (t.matches("\\d+")) return slot(Integer.parseInt(t));
            if (t.matches("\\d+:\\d+")) {
                String[] p = t.split(":");
                return new PciAddress(0, Integer.parseInt(p[0]), Integer.parseInt(p[1]));
            }
            if (t.matches("(?i)([0-9a-f]{1,4}:)?[0-9a-f]{1,2}:[0-9a-f]{1,2}\\.[0-7]")) {
                String[] p = t.split(":");
                int n = p.length;
                String[] df = p[n - 1].split("\\.");
                return new PciAddress(Integer.parseInt(p[n - 2], 16), Integer.parseInt(df[0], 16),
                        Integer.parseInt(df[1], 16));
            }
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("bad PCI address '" + text + "': " + e.getMessage(), e);
        }
        throw new IllegalArgumentException("bad PCI address '" + text
                + "': expected slot, slot:function, bus:slot.function or domain:bus:slot.function");
    }

    /** The config-space index of this function: bus << 8 | device << 3 | function. */
    public int bdf() {
        return bus << 8 | device << 3 | function;
    }

    @Override
    public int compareTo(PciAddress o) {
        return Integer.compare(bdf(), o.bdf());
    }

    @Override
    public String toString() {
        return String.format("%02x:%02x.%x", bus, device, function);
    }
}
