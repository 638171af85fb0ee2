package vmm.core.pci;

import static vmm.core.pci.PciRegs.PCI_MSIX_ENTRY_CTRL_MASKBIT;
import static vmm.core.pci.PciRegs.PCI_MSIX_ENTRY_DATA;
import static vmm.core.pci.PciRegs.PCI_MSIX_ENTRY_LOWER_ADDR;
import static vmm.core.pci.PciRegs.PCI_MSIX_ENTRY_UPPER_ADDR;
import static vmm.core.pci.PciRegs.PCI_MSIX_ENTRY_VECTOR_CTRL;
import static vmm.core.pci.PciRegs.PCI_MSI_ADDRESS_LO_MASK;

import java.util.Arrays;
import java.util.function.Consumer;

import vmm.core.irq.MsiMessage;
import vmm.core.device.IncompatibleStateException;

/**
 * The MSI-X table and pending bit array of an emulated function (PCI 3.0
 * 6.8.2.8 to 6.8.2.10) as the guest sees them in the function's BARs:
 * entries as the driver wrote them, a pending bit for each vector that fired
 * while masked. Whether MSI-X is enabled or masked as a whole is the
 * capability's business, not the table's. Not thread-safe: the function's
 * lock guards it.
 */
final class MsiXTable {
    private final MsiXSpec spec;
    private final int[] table;
    private final long[] pba;

    MsiXTable(MsiXSpec spec) {
        this.spec = spec;
        this.table = new int[spec.tableSize() * 4];
        this.pba = new long[(int) (spec.pbaLength() / 8)];
        reset();
    }

    /** The reset state: every entry masked and zero, nothing pending. */
    void reset() {
        Arrays.fill(table, 0);
        for (int e = 0; e < table.length; e += 4)
            table[e + PCI_MSIX_ENTRY_VECTOR_CTRL / 4] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
        Arrays.fill(pba, 0);
    }

    /** Whether entry {@code vector}'s own mask bit is set; the vector must be in the table. */
    boolean masked(int vector) {
        return (table[vector * 4 + PCI_MSIX_ENTRY_VECTOR_CTRL / 4] & PCI_MSIX_ENTRY_CTRL_MASKBIT) != 0;
    }

    /** The message entry {@code vector} holds; the vector must be in the table. */
    MsiMessage message(int vector) {
        int e = vector * 4;
        long addr = Integer.toUnsignedLong(table[e + PCI_MSIX_ENTRY_LOWER_ADDR / 4])
                | (long) table[e + PCI_MSIX_ENTRY_UPPER_ADDR / 4] << 32;
        return new MsiMessage(addr, table[e + PCI_MSIX_ENTRY_DATA / 4]);
    }

    /** Records that {@code vector} fired while masked. */
    void setPending(int vector) {
        pba[vector >>> 6] |= 1L << vector;
    }

    /** Sends, through {@code signal}, each pending vector whose entry is not masked, and clears its bit. */
    void deliverPending(Consumer<MsiMessage> signal) {
        for (int w = 0; w < pba.length; w++) {
            for (long bits = pba[w]; bits != 0; bits &= bits - 1) {
                int vector = w * 64 + Long.numberOfTrailingZeros(bits);
                if (masked(vector)) continue;
                pba[w] &= ~(1L << vector);
                signal.accept(message(vector));
            }
        }
    }

    /** Whether an access of {@code size} bytes at {@code offset} of BAR {@code bar} touches the table or the PBA. */
    boolean touches(int bar, long offset, int size) {
        return bar == spec.tableBar() && overlaps(offset, offset + size, spec.tableOffset(), spec.tableLength())
                || bar == spec.pbaBar() && overlaps(offset, offset + size, spec.pbaOffset(), spec.pbaLength());
    }

    /** Byte-wise so that any size and alignment works; bytes of the BAR outside table and PBA read 0. */
    long read(int bar, long offset, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) v |= (long) readByte(bar, offset + i) << 8 * i;
        return v;
    }

    private int readByte(int bar, long offset) {
        if (bar == spec.tableBar() && offset >= spec.tableOffset()
                && offset < spec.tableOffset() + spec.tableLength()) {
            int i = (int) (offset - spec.tableOffset());
            return table[i >>> 2] >>> 8 * (i & 3) & 0xff;
        }
        if (bar == spec.pbaBar() && offset >= spec.pbaOffset() && offset < spec.pbaOffset() + spec.pbaLength()) {
            int i = (int) (offset - spec.pbaOffset());
            return (int) (pba[i >>> 3] >>> 8 * (i & 7)) & 0xff;
        }
        return 0;
    }

    /**
     * Table writes are applied a dword at a time, the granularity of the
     * fields: an 8-byte write is two dword writes, low first; a 1- or 2-byte
     * write is merged into its dword. The PBA is read-only (spec 6.8.2.10).
     *
     * @return false when {@code bar} does not hold the table, so nothing was written
     */
    boolean write(int bar, long offset, int size, long value) {
        if (bar != spec.tableBar()) return false;
        int dword = -1, merged = 0;
        for (int i = 0; i < size; i++) {
            long o = offset + i;
            if (o < spec.tableOffset() || o >= spec.tableOffset() + spec.tableLength()) continue;
            int t = (int) (o - spec.tableOffset());
            if (t >>> 2 != dword) {
                if (dword >= 0) writeDword(dword, merged);
                dword = t >>> 2;
                merged = table[dword];
            }
            int shift = 8 * (t & 3);
            merged = merged & ~(0xff << shift) | (int) (value >>> 8 * i & 0xff) << shift;
        }
        if (dword >= 0) writeDword(dword, merged);
        return true;
    }

    private void writeDword(int dword, int value) {
        table[dword] = switch ((dword & 3) * 4) {
            case PCI_MSIX_ENTRY_LOWER_ADDR -> value & PCI_MSI_ADDRESS_LO_MASK;
            case PCI_MSIX_ENTRY_VECTOR_CTRL -> value & PCI_MSIX_ENTRY_CTRL_MASKBIT;
            default -> value;
        };
    }

    private static boolean overlaps(long start, long end, long regionStart, long regionLength) {
        return start < regionStart + regionLength && regionStart < end;
    }

    /** The table's dwords, for a snapshot. */
    int[] saveTable() {
        return table.clone();
    }

    long[] savePba() {
        return pba.clone();
    }

    /**
     * Puts back {@link #saveTable()} and {@link #savePba()}, with the reserved bits of each entry's vector
     * control left clear.
     *
     * @throws IncompatibleStateException when the sizes are not this table's
     */
    void restore(int[] t, long[] p) {
        if (t.length != table.length || p.length != pba.length)
            throw new IncompatibleStateException("vmm.pci.config state: an MSI-X table of "
                    + t.length / 4 + " entries and " + p.length + " PBA words; the function has " + table.length / 4
                    + " and " + pba.length);
        System.arraycopy(t, 0, table, 0, t.length);
        for (int e = 0; e < table.length; e += 4) table[e
                + PCI_MSIX_ENTRY_VECTOR_CTRL / 4] &= PCI_MSIX_ENTRY_CTRL_MASKBIT;
        System.arraycopy(p, 0, pba, 0, p.length);
    }
}
