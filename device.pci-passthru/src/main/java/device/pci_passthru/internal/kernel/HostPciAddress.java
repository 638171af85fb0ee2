package device.pci_passthru.internal.kernel;

/**
 * A PCI function on the host, written as Linux names it ({@code 0000:01:00.0}).
 *
 * @param domain   PCI segment, 0..0xffff
 * @param bus      0..255
 * @param device   0..31
 * @param function 0..7
 */
public record HostPciAddress(int domain, int bus, int device, int function) {
    public HostPciAddress {
        if (domain < 0 || domain > 0xffff || bus < 0 || bus > 0xff || device < 0 || device > 31 || function < 0 || function > 7)
            throw new IllegalArgumentException(String.format("host PCI address %d:%d:%d.%d is outside domain 0..ffff, bus 0..ff, device 0..1f, function 0..7",
                    domain, bus, device, function));
    }

    /**
     * Parses bhyve's {@code BUS/SLOT/FUNCTION} (decimal, domain 0) or Linux's
     * {@code DDDD:BB:DD.F} / {@code BB:DD.F} (hexadecimal).
     *
     * @throws IllegalArgumentException naming the form expected
     */
    public static HostPciAddress parse(String text) {
        String t = text.trim();
        try {
            if (t.contains("/")) {
                String[] p = t.split("/", -1);
                if (p.length == 3) return new HostPciAddress(0, Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2]));
            } else if (t.contains(".")) {
                String[] df = t.split("\\.", -1);
                String[] p = df[0].split(":", -1);
                if (df.length == 2 && df[1].length() == 1 && (p.length == 2 || p.length == 3)) {
                    int domain = p.length == 3 ? hex(p[0], 4) : 0;
                    return new HostPciAddress(domain, hex(p[p.length - 2], 2), hex(p[p.length - 1], 2), hex(df[1], 1));
                }
            }
        } catch (NumberFormatException e) {
            // fall through to the message below
        }
        throw new IllegalArgumentException("host PCI device '" + text + "' is not BUS/SLOT/FUNCTION (bhyve, decimal) or DDDD:BB:DD.F (lspci -D)");
    }

    private static int hex(String s, int maxDigits) {
        if (s.isEmpty() || s.length() > maxDigits || s.startsWith("+") || s.startsWith("-")) throw new NumberFormatException(s);
        return Integer.parseInt(s, 16);
    }

    @Override
    public String toString() {
        return String.format("%04x:%02x:%02x.%x", domain, bus, device, function);
    }
}
