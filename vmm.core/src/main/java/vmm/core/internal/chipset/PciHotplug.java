package vmm.core.internal.chipset;

import java.lang.System.Logger.Level;
import java.util.function.IntConsumer;

import vmm.core.bus.IoHandler;

/**
 * ACPI PCI hotplug of PCI bus 0 as QEMU's PIIX4 does it (QEMU's
 * {@code docs/specs/acpi_pci_hotplug}): a block of 32-bit registers, one bit
 * per slot, that the DSDT's GPE handler reads and its {@code _EJ0} methods
 * write, and general-purpose event {@link #GPE_BIT} (raised through the
 * {@link AcpiPm} GPE0 block, so the SCI) whenever the host adds a device or
 * asks for one to be removed.
 *
 * <table>
 * <caption>The register block at {@link #IO_BASE} (4-byte accesses)</caption>
 * <tr><th>offset</th><th>name</th><th>read</th><th>write</th></tr>
 * <tr><td>0x00</td><td>PCI_UP</td><td>slots with an insertion to announce; cleared by the read (QEMU since 2.0)</td><td>ignored</td></tr>
 * <tr><td>0x04</td><td>PCI_DOWN</td><td>slots whose removal the host asked for, until the guest ejects them</td><td>ignored</td></tr>
 * <tr><td>0x08</td><td>B0EJ</td><td>the hotplug feature set: 0, the base set</td><td>eject: the slot of the lowest bit set</td></tr>
 * <tr><td>0x0C</td><td>PCI_RMV</td><td>slots whose device may be removed</td><td>ignored</td></tr>
 * </table>
 *
 * <p>The guest is the attacker: a write to B0EJ ejects, as QEMU does, only the slot of the lowest bit set, and
 * only when that slot holds a device marked removable. QEMU treats every cold-plugged device of a hotpluggable
 * class as removable, so a guest may eject a NIC it was given at start; here only devices added while the guest
 * runs, and cold-plugged ones configured {@code removable=true}, are removable. The host bridge and ISA bridge
 * (slots 0 and 1) never are. Bus select (BNUM at 0x10, for bridges) is not offered: there is only bus 0.
 *
 * <p>A pure state machine: the host side ({@link #coldPlugged}, {@link #hotPlugged}, {@link #requestRemoval})
 * and the guest side (the registers) meet under one lock; the eject callback and the GPE run outside it, on the
 * thread of the access that caused them. Thread-safe.
 */
public final class PciHotplug {
    /** Where QEMU's PIIX4 places the block (ACPI_PCIHP_ADDR_PIIX4), and its size without bus select. */
    public static final int IO_BASE = 0xae00, BLOCK_SIZE = 0x10;
    /** Register offsets in the block. */
    public static final int PCI_UP = 0x00, PCI_DOWN = 0x04, B0EJ = 0x08, PCI_RMV = 0x0c;
    /** The GPE0 status/enable bit of a hotplug event (QEMU's GPE.1, handled by the DSDT's {@code \_GPE._E01}). */
    public static final int GPE_BIT = 1;
    /** Slots 0 (host bridge) and 1 (ISA bridge, PM) hold the chipset; the others may be hotplugged. */
    public static final int FIRST_SLOT = 2, SLOTS = 32;
    /** Read from B0EJ: the base feature set (up, down, eject, removable registers), no feature bits. */
    static final int FEATURES = 0;
    private static final int CHIPSET_SLOTS = (1 << FIRST_SLOT) - 1;
    private static final System.Logger LOG = System.getLogger("vmm.platform");

    private final Runnable gpe;
    private final IntConsumer eject;
    private int up, down, present, removable;

    /**
     * @param gpe   raises the hotplug GPE (sets its status bit in GPE0); called outside the lock
     * @param eject told the slot the guest ejected, once its bits are clear; the device is the caller's to
     *              release. Called on the vCPU thread of the B0EJ write, outside the lock
     */
    public PciHotplug(Runnable gpe, IntConsumer eject) {
        this.gpe = gpe;
        this.eject = eject;
    }

    private static void checkSlot(int slot) {
        if (slot < FIRST_SLOT || slot >= SLOTS)
            throw new IllegalArgumentException("slot " + slot + " cannot be hotplugged (slots " + FIRST_SLOT + ".." + (SLOTS - 1) + ")");
    }

    /** A device plugged before the guest runs: present, removable only when {@code removable}; no event. */
    public synchronized void coldPlugged(int slot, boolean removable) {
        checkSlot(slot);
        int bit = 1 << slot;
        present |= bit;
        if (removable) this.removable |= bit;
        else this.removable &= ~bit;
    }

    /** A device added while the guest runs: present and removable, announced in PCI_UP with the GPE. */
    public void hotPlugged(int slot) {
        checkSlot(slot);
        synchronized (this) {
            int bit = 1 << slot;
            present |= bit;
            removable |= bit;
            up |= bit;
            down &= ~bit;
        }
        gpe.run();
    }

    /**
     * Asks the guest to eject the device in {@code slot}: PCI_DOWN with the GPE. The device stays until the
     * guest writes the slot's bit to B0EJ; asking again raises the GPE again.
     *
     * @throws IllegalStateException when the slot is empty or its device is not removable
     */
    public void requestRemoval(int slot) {
        checkSlot(slot);
        synchronized (this) {
            int bit = 1 << slot;
            if ((present & bit) == 0) throw new IllegalStateException("slot " + slot + " is empty");
            if ((removable & bit) == 0)
                throw new IllegalStateException("the device in slot " + slot + " was plugged at start and not marked removable");
            down |= bit;
        }
        gpe.run();
    }

    /** A device removed by the host without the guest (before it runs, or the machine closing). */
    public synchronized void forget(int slot) {
        checkSlot(slot);
        int bit = ~(1 << slot);
        present &= bit;
        removable &= bit;
        up &= bit;
        down &= bit;
    }

    public synchronized boolean present(int slot) {
        return slot >= 0 && slot < SLOTS && (present & 1 << slot) != 0;
    }

    /** Whether the guest may eject the device in {@code slot} (it is present and marked removable). */
    public synchronized boolean removable(int slot) {
        return slot >= 0 && slot < SLOTS && (present & removable & 1 << slot) != 0;
    }

    public synchronized boolean removalRequested(int slot) {
        return slot >= 0 && slot < SLOTS && (down & 1 << slot) != 0;
    }

    /**
     * A machine reset: announcements and removal requests are dropped, since the guest that would answer them
     * is gone (firmware and the next OS enumerate the bus themselves).
     *
     * @return the slots whose removal was requested and is now the host's to carry out, as a bit mask
     */
    public synchronized int reset() {
        int pending = down;
        up = down = 0;
        present &= ~pending;
        removable &= ~pending;
        return pending;
    }

    /** The guest's view: the register block. */
    public IoHandler registers() {
        return new IoHandler() {
            @Override
            public long read(long offset, int size) {
                return readRegister((int) offset, size);
            }

            @Override
            public void write(long offset, int size, long value) {
                writeRegister((int) offset, size, value);
            }
        };
    }

    private synchronized long readRegister(int offset, int size) {
        int reg = offset & ~3, shift = 8 * (offset & 3);
        long v = switch (reg) {
            case PCI_UP -> {
                int u = up;
                up = 0; // QEMU since 2.0: the announcement is consumed by the handler that reads it
                yield u;
            }
            case PCI_DOWN -> down;
            case B0EJ -> FEATURES;
            case PCI_RMV -> removable;
            default -> 0;
        };
        long mask = size >= 4 ? 0xffff_ffffL : (1L << (8 * size)) - 1;
        return (v & 0xffff_ffffL) >>> shift & mask;
    }

    private void writeRegister(int offset, int size, long value) {
        if (offset != B0EJ || size != 4) return; // the block is read-only but for a whole-register eject write
        int slot;
        synchronized (this) {
            int v = (int) value;
            if (v == 0) return;
            slot = Integer.numberOfTrailingZeros(v);
            int bit = 1 << slot;
            if ((bit & CHIPSET_SLOTS) != 0 || (present & removable & bit) == 0) {
                LOG.log(Level.DEBUG, "guest wrote 0x{0} to the eject register: slot {1} holds no removable device; ignored",
                        Integer.toHexString(v), slot);
                return;
            }
            present &= ~bit;
            removable &= ~bit;
            up &= ~bit;
            down &= ~bit;
        }
        eject.accept(slot);
    }
}
