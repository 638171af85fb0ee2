package vmm.core.snapshot;

/**
 * One section as the file's section table describes it.
 *
 * @param kind          what it holds
 * @param name          unique among the sections of its kind: a region name, a vCPU index, a platform part, an
 *                      instance id
 * @param type          the region's {@code ram}, or the type of the state it holds (for a device, the device type)
 * @param version       the section version (the encoding of its payload)
 * @param offset        file offset of the section header
 * @param payloadOffset file offset of the payload
 * @param length        payload bytes
 * @param crc           CRC-32C of the payload as written
 */
public record Section(SectionKind kind, String name, String type, int version, long offset, long payloadOffset,
        long length, int crc) {

    /** How messages name the section: {@code device 'vmm.device~com1' (uart)}. */
    public String describe() {
        return kind + " '" + name + "'" + (type.isEmpty() ? "" : " (" + type + ")");
    }
}
