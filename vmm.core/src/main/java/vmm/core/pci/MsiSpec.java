package vmm.core.pci;

/**
 * A plain MSI capability.
 *
 * @param vectors          vectors requested, a power of two 1..32
 * @param address64        whether the message address may be 64-bit
 * @param perVectorMasking whether mask and pending registers are present
 */
public record MsiSpec(int vectors, boolean address64, boolean perVectorMasking) {
    public MsiSpec {
        if (vectors < 1 || vectors > 32 || Integer.bitCount(vectors) != 1)
            throw new IllegalArgumentException("MSI vectors must be a power of two 1..32, was " + vectors);
    }
}
