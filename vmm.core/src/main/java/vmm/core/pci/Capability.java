package vmm.core.pci;

import java.util.Arrays;

/**
 * A capability a device asks the bus to place in its configuration space,
 * after the ones the bus builds itself (MSI, MSI-X).
 *
 * @param id      the capability ID (0x09 for vendor-specific)
 * @param body    the bytes after the ID and next pointer; its length plus two is the capability's size
 * @param handler live access to the capability, or null for read-only contents
 */
public record Capability(int id, byte[] body, CapabilityHandler handler) {
    public Capability {
        if (id <= 0 || id > 0xff) throw new IllegalArgumentException("capability ID must be 1..255, was " + id);
        if (body.length + 2 > 192) throw new IllegalArgumentException("capability too large: " + (body.length + 2));
        body = body.clone();
    }

    @Override
    public byte[] body() {
        return body.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Capability c && c.id == id && Arrays.equals(c.body, body);
    }

    @Override
    public int hashCode() {
        return id * 31 + Arrays.hashCode(body);
    }
}
