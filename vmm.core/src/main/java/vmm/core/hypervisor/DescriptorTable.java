package vmm.core.hypervisor;

/**
 * The GDTR or IDTR.
 *
 * @param base  linear base address
 * @param limit limit in bytes (16 bits)
 */
public record DescriptorTable(long base, int limit) {
    @Override
    public String toString() {
        return String.format("base=%016x limit=%04x", base, limit);
    }
}
