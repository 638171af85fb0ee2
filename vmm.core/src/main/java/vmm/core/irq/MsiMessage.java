package vmm.core.irq;

/**
 * A message-signalled interrupt as written by the guest into an MSI
 * capability or MSI-X table entry.
 *
 * @param address the 64-bit message address (0xFEExxxxx on x86)
 * @param data    the 32-bit message data (vector and delivery mode on x86)
 */
public record MsiMessage(long address, int data) {
    /** Whether the address is one an x86 LAPIC accepts; others are dropped by the chipset. */
    public boolean isX86Valid() {
        return (address >>> 20) == 0xFEEL;
    }

    @Override
    public String toString() {
        return String.format("MSI[addr=0x%x data=0x%x]", address, data);
    }
}
