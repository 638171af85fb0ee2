package vmm.core.pci;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;


/**
 * The guest-visible configuration of one PCI function, for a snapshot: its 256-byte configuration space (BARs,
 * command, interrupt line, MSI and MSI-X control, capability registers) and, when it has MSI-X, the table and
 * the pending-bit array. The function's identity (vendor, device, class) travels in the bytes and is checked
 * against the function it is restored into.
 *
 * @param msixTable the table's dwords, four an entry; empty without MSI-X
 * @param msixPba   the pending bits, 64 a word; empty without MSI-X
 */
public record PciConfigState(PciAddress address, byte[] config, int[] msixTable, long[] msixPba) {
    /** The state type in a snapshot. */
    public static final String TYPE = "vmm.pci.config";
    public static final int VERSION = 1;

    public PciConfigState {
        if (config.length != PciRegs.PCI_CFG_SPACE_SIZE)
            throw new IncompatibleStateException(TYPE + " state of " + address + ": the configuration space is "
                    + PciRegs.PCI_CFG_SPACE_SIZE + " bytes, not " + config.length);
        if (msixTable.length % 4 != 0)
            throw new IncompatibleStateException(TYPE + " state of " + address + ": MSI-X entries are 4 dwords");
        config = config.clone();
        msixTable = msixTable.clone();
        msixPba = msixPba.clone();
    }

    @Override
    public byte[] config() {
        return config.clone();
    }

    @Override
    public int[] msixTable() {
        return msixTable.clone();
    }

    @Override
    public long[] msixPba() {
        return msixPba.clone();
    }

    /** Vendor and device ID as {@code vvvv:dddd}, for messages. */
    public String identity() {
        return String.format("%04x:%04x", (config[0] & 0xff) | (config[1] & 0xff) << 8,
                (config[2] & 0xff) | (config[3] & 0xff) << 8);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PciConfigState p && address.equals(p.address) && Arrays.equals(config, p.config)
                && Arrays.equals(msixTable, p.msixTable) && Arrays.equals(msixPba, p.msixPba);
    }

    @Override
    public int hashCode() {
        return address.hashCode() * 31 + Arrays.hashCode(config);
    }

    @Override
    public String toString() {
        return "PciConfigState[" + address + " " + identity() + ", " + msixTable.length / 4 + " MSI-X entries]";
    }

    /** The versioned, self-describing form. */
    public DeviceState toDeviceState() {
        List<Long> table = new ArrayList<>(msixTable.length), pba = new ArrayList<>(msixPba.length);
        for (int v : msixTable) table.add(v & 0xffff_ffffL);
        for (long v : msixPba) pba.add(v);
        return DeviceState.builder(TYPE, VERSION).put("address", address.toString()).put("config", config)
                .putList("msix.table", table).putList("msix.pba", pba).build();
    }

    /**
     * Reads {@link #toDeviceState()}'s form, as untrusted input.
     *
     * @throws IncompatibleStateException naming the field that is missing or cannot be held
     */
    public static PciConfigState from(DeviceState s) {
        s.require(TYPE, VERSION);
        PciAddress address;
        try {
            address = PciAddress.parse(s.getString("address"));
        } catch (IllegalArgumentException e) {
            throw new IncompatibleStateException(TYPE + " state: " + e.getMessage());
        }
        List<Object> table = s.getList("msix.table"), pba = s.getList("msix.pba");
        // The largest MSI-X table has 2048 entries.
        if (table.size() > 2048 * 4 || pba.size() > 2048 / 64)
            throw new IncompatibleStateException(TYPE + " state of " + address + ": an MSI-X table larger than 2048");
        int[] t = new int[table.size()];
        for (int i = 0; i < t.length; i++) {
            if (!(table.get(i) instanceof Long v) || v < 0 || v > 0xffff_ffffL)
                throw new IncompatibleStateException(TYPE + " state of " + address + ": MSI-X dword " + i
                        + " is not a 32-bit number");
            t[i] = v.intValue();
        }
        long[] p = new long[pba.size()];
        for (int i = 0; i < p.length; i++) {
            if (!(pba.get(i) instanceof Long v))
                throw new IncompatibleStateException(TYPE + " state of " + address + ": MSI-X PBA is not numbers");
            p[i] = v;
        }
        return new PciConfigState(address, s.getBytes("config"), t, p);
    }
}
