package device.uart.internal;

import java.util.Locale;
import java.util.Map;

import device.uart.backend.BackendSpec;

/**
 * One UART's configuration, parsed from a {@code device.uart} factory
 * configuration:
 * <ul>
 * <li>{@code port}: {@code com1}..{@code com4} or the base I/O port
 * ({@code 0x3f8}); default {@code com1}</li>
 * <li>{@code irq}: the ISA IRQ (GSI); default the named or well-known port's
 * (COM1/COM3 4, COM2/COM4 3), required for any other port</li>
 * <li>{@code backend}: see {@link BackendSpec}; default {@code none}</li>
 * </ul>
 * Every error names the instance and the key.
 *
 * @param id      the instance's name (its configuration PID)
 * @param port    base I/O port of the eight registers
 * @param irq     the GSI the UART's interrupt drives
 * @param backend what the serial line is connected to
 */
public record UartConfig(String id, int port, int irq, BackendSpec backend) {
    private static final int[][] COM = {{0x3f8, 4}, {0x2f8, 3}, {0x3e8, 4}, {0x2e8, 3}};
    /** GSIs an ISA device may use: the IOAPIC's 24 inputs. */
    static final int MAX_GSI = 23;

    /**
     * @throws IllegalArgumentException naming the instance and the key that is wrong
     */
    public static UartConfig parse(Map<String, ?> props) {
        Object pid = props.get("service.pid"), cid = props.get("component.id");
        String id = pid != null ? String.valueOf(pid) : cid != null ? "component " + cid : "uart";
        return parse(id, UartComponent.PID + " " + id + ": ", props);
    }

    /**
     * A device instance's UART ({@link UartProvider}), its errors prefixed "device ID: ".
     *
     * @throws IllegalArgumentException naming the instance and the key that is wrong
     */
    public static UartConfig parse(String id, Map<String, ?> props) {
        return parse(id, "device " + id + ": ", props);
    }

    private static UartConfig parse(String id, String prefix, Map<String, ?> props) {
        Object p = props.get("port");
        int port, defaultIrq = -1;
        String ps = p == null ? "com1" : String.valueOf(p).trim().toLowerCase(Locale.ROOT);
        if (ps.matches("com[1-4]")) {
            int[] c = COM[ps.charAt(3) - '1'];
            port = c[0];
            defaultIrq = c[1];
        } else {
            try {
                port = p instanceof Number n ? Math.toIntExact(n.longValue()) : Integer.decode(ps);
            } catch (NumberFormatException | ArithmeticException e) {
                throw new IllegalArgumentException(prefix + "port=" + p + " is neither com1..com4 nor a port number");
            }
            if (port < 0 || port > 0x10000 - 8)
                throw new IllegalArgumentException(prefix + "port=" + p + " leaves the I/O-port space (0..0xfff8)");
            for (int[] c : COM) if (c[0] == port) defaultIrq = c[1];
        }
        Object q = props.get("irq");
        int irq;
        if (q == null) {
            if (defaultIrq < 0)
                throw new IllegalArgumentException(prefix + "irq is required for port=" + p + " (not a COM port's address)");
            irq = defaultIrq;
        } else {
            try {
                irq = q instanceof Number n ? Math.toIntExact(n.longValue()) : Integer.decode(String.valueOf(q).trim());
            } catch (NumberFormatException | ArithmeticException e) {
                throw new IllegalArgumentException(prefix + "irq=" + q + " is not a number");
            }
            if (irq < 0 || irq > MAX_GSI)
                throw new IllegalArgumentException(prefix + "irq=" + q + " is not in 0.." + MAX_GSI);
        }
        Object b = props.get("backend");
        BackendSpec spec;
        try {
            spec = BackendSpec.parse(b == null ? "none" : String.valueOf(b));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(prefix + "backend=" + b + ": " + e.getMessage(), e);
        }
        return new UartConfig(id, port, irq, spec);
    }
}
