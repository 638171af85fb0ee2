package vmm.emu.internal.irq;

/**
 * An interrupt message on the APIC bus, as an IOAPIC redirection entry, an
 * MSI or a local APIC's ICR describes it (Intel SDM vol. 3, 11.6 and 11.11).
 *
 * @param vector       the vector (0-255)
 * @param deliveryMode one of the {@code DM_} constants
 * @param logical      logical (true) or physical destination mode
 * @param destination  the 8-bit xAPIC destination (0xFF: all in physical mode)
 * @param shorthand    one of the {@code SHORTHAND_} constants (only ICR messages use one)
 * @param level        level-triggered (true) or edge
 * @param assert_      the ICR's level bit: false only for the INIT level de-assert
 * @param lowestPriorityHint an MSI's redirection hint: arbitrate as lowest priority among the destinations
 */
public record ApicMessage(int vector, int deliveryMode, boolean logical, int destination, int shorthand,
                          boolean level, boolean assert_, boolean lowestPriorityHint) {
    public static final int DM_FIXED = 0, DM_LOWEST = 1, DM_SMI = 2, DM_NMI = 4, DM_INIT = 5, DM_STARTUP = 6,
            DM_EXTINT = 7;
    public static final int SHORTHAND_NONE = 0, SHORTHAND_SELF = 1, SHORTHAND_ALL = 2, SHORTHAND_OTHERS = 3;
    /** The physical destination that addresses every xAPIC. */
    public static final int BROADCAST = 0xff;

    // MSI address and data layout (SDM vol. 3, 11.11.1 and 11.11.2).
    static final long MSI_ADDRESS_DEST_SHIFT = 12, MSI_ADDRESS_RH = 1 << 3, MSI_ADDRESS_DM = 1 << 2;
    static final int MSI_DATA_TRIGGER = 1 << 15, MSI_DATA_LEVEL = 1 << 14;

    /** A message to one destination with no shorthand, as an IOAPIC sends it. */
    static ApicMessage of(int vector, int deliveryMode, boolean logical, int destination, boolean level) {
        return new ApicMessage(vector & 0xff, deliveryMode & 7, logical, destination & 0xff, SHORTHAND_NONE, level,
                true, false);
    }

    /**
     * Decodes an MSI (address 0xFEExxxxx: destination ID in bits 19:12, redirection
     * hint bit 3, destination mode bit 2; data: vector 7:0, delivery mode 10:8, level
     * 14, trigger 15), or null for an address no LAPIC decodes.
     */
    static ApicMessage fromMsi(long address, int data) {
        if ((address >>> 20) != 0xfeeL) return null;
        int mode = (data >>> 8) & 7;
        boolean level = (data & MSI_DATA_TRIGGER) != 0;
        // An edge MSI always asserts; a level one with the level bit clear is a de-assert, which xAPICs ignore.
        boolean asserted = !level || (data & MSI_DATA_LEVEL) != 0;
        return new ApicMessage(data & 0xff, mode, (address & MSI_ADDRESS_DM) != 0,
                (int) (address >>> MSI_ADDRESS_DEST_SHIFT) & 0xff, SHORTHAND_NONE, level, asserted,
                (address & MSI_ADDRESS_RH) != 0);
    }

    /** Whether the sender asks for lowest-priority arbitration among the matching APICs. */
    boolean arbitrated() {
        return deliveryMode == DM_LOWEST || lowestPriorityHint;
    }
}
