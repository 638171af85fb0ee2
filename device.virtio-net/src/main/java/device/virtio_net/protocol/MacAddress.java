package device.virtio_net.protocol;

import java.util.HexFormat;

/** A 48-bit Ethernet address. Immutable. */
public record MacAddress(long value) {
    public static final MacAddress BROADCAST = new MacAddress(0xffff_ffff_ffffL);

    public MacAddress {
        if ((value & ~0xffff_ffff_ffffL) != 0) throw new IllegalArgumentException("not a 48-bit address: " + Long.toHexString(value));
    }

    /**
     * Parses {@code aa:bb:cc:dd:ee:ff} (or with {@code -}).
     *
     * @throws IllegalArgumentException when it is not six hex octets
     */
    public static MacAddress parse(String text) {
        String[] parts = text.trim().split("[:-]");
        if (parts.length != 6) throw new IllegalArgumentException("not a MAC address (six hex octets): " + text);
        long v = 0;
        for (String p : parts) {
            if (p.length() != 2) throw new IllegalArgumentException("not a MAC address (six hex octets): " + text);
            try {
                v = (v << 8) | HexFormat.fromHexDigits(p);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("not a MAC address (six hex octets): " + text);
            }
        }
        return new MacAddress(v);
    }

    /** The address in 6 bytes at {@code b[off..]}, in wire order. */
    public static MacAddress of(byte[] b, int off) {
        long v = 0;
        for (int i = 0; i < 6; i++) v = (v << 8) | (b[off + i] & 0xff);
        return new MacAddress(v);
    }

    /** Wire order bytes. */
    public byte[] bytes() {
        byte[] b = new byte[6];
        for (int i = 0; i < 6; i++) b[i] = (byte) (value >>> (8 * (5 - i)));
        return b;
    }

    /** The group bit (I/G) of the first octet: multicast or broadcast. */
    public boolean isMulticast() {
        return (value & 0x0100_0000_0000L) != 0;
    }

    public boolean isBroadcast() {
        return value == BROADCAST.value;
    }

    @Override
    public String toString() {
        byte[] b = bytes();
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < 6; i++) s.append(i == 0 ? "" : ":").append(HexFormat.of().toHexDigits(b[i]));
        return s.toString();
    }
}
