package vmm.core.snapshot;

import java.nio.charset.StandardCharsets;

/**
 * What a section holds, with the four-byte tag that names it in the file and
 * the one section version of it this build writes and reads.
 */
public enum SectionKind {
    /** Guest RAM of one region, as runs of 4 KiB pages with zero pages left out. */
    MEMORY("MEM "),
    /** One vCPU's state, a {@link vmm.core.device.DeviceState}; the section's name is the vCPU index. */
    VCPU("VCPU"),
    /** A part of the platform (chipset, interrupt controllers, fw_cfg, ...), a {@code DeviceState}. */
    PLATFORM("PLAT"),
    /** One device instance's {@code DeviceState}; the name is the instance id, the type the device type. */
    DEVICE("DEV ");

    /** The section version of every kind this build writes, and the only one it reads. */
    public static final int VERSION = 1;

    private final int tag;

    SectionKind(String tag) {
        byte[] b = tag.getBytes(StandardCharsets.US_ASCII);
        this.tag = (b[0] & 0xff) << 24 | (b[1] & 0xff) << 16 | (b[2] & 0xff) << 8 | (b[3] & 0xff);
    }

    /** The big-endian four-byte tag of this kind in a section header. */
    public int tag() {
        return tag;
    }

    /** The kind with this tag, or null when this build knows none. */
    static SectionKind ofTag(int tag) {
        for (SectionKind k : values())
            if (k.tag == tag) return k;
        return null;
    }

    /** A tag as text for messages: printable ASCII as is, anything else in hex. */
    static String tagText(int tag) {
        StringBuilder sb = new StringBuilder();
        for (int shift = 24; shift >= 0; shift -= 8) {
            int c = tag >>> shift & 0xff;
            if (c < 0x20 || c > 0x7e) return String.format("0x%08x", tag);
            sb.append((char) c);
        }
        return "'" + sb + "'";
    }

    @Override
    public String toString() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
