package device.pci_passthru.internal;

import static device.pci_passthru.internal.ConfigBytes.i32;
import static device.pci_passthru.internal.ConfigBytes.put16;
import static device.pci_passthru.internal.ConfigBytes.put32;
import static device.pci_passthru.internal.ConfigBytes.u16;
import static device.pci_passthru.internal.PciConfig.*;
import static device.pci_passthru.vfio.VfioDevice.VFIO_PCI_INTX_IRQ_INDEX;
import static device.pci_passthru.vfio.VfioDevice.VFIO_PCI_MSIX_IRQ_INDEX;
import static device.pci_passthru.vfio.VfioDevice.VFIO_PCI_MSI_IRQ_INDEX;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import device.pci_passthru.vfio.VfioDevice;
import vmm.core.hypervisor.Binding;
import vmm.core.hypervisor.EventFd;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.irq.MsiMessage;
import vmm.core.pci.RawPciFunction;

/**
 * The interrupts of a passed-through function as the guest programs them:
 * the MSI and MSI-X capability registers (in the function's shadow of
 * configuration space), the emulated MSI-X table and PBA, and INTx. No
 * interrupt passes through the VMM: VFIO signals an eventfd per vector, and
 * each unmasked vector's eventfd is bound by an irqfd to a GSI routed to its
 * message; INTx is an eventfd with a resample eventfd on a level irqfd.
 * Every method is called with the function's lock held.
 */
final class GuestInterrupts {
    private static final System.Logger LOG = System.getLogger("device.pci-passthru");

    /** One MSI or MSI-X vector: its eventfd, and while unmasked, its GSI route and irqfd. */
    private static final class Vector {
        final EventFd fd;
        int gsi = -1;
        MsiMessage routed;
        Binding irqfd;
        boolean pending;

        Vector(EventFd fd) {
            this.fd = fd;
        }
    }

    private final String owner;
    private final VfioDevice dev;
    private final VirtualMachine vm;
    /** The function's guest-visible configuration space; shared with the function. */
    private final byte[] shadow;
    private final int msiCap, msixCap;
    private final int msiVectorsCapable;
    private final boolean msi64, msiMaskable;
    private final int msixTableSize;
    private final int[] msixTable;
    private final int intxPin;

    private Vector[] msixVectors;
    private Vector[] msiVectors;
    private EventFd intxTrigger, intxResample;
    private Binding intxBinding;
    private boolean intxArmed;

    GuestInterrupts(String owner, VfioDevice dev, VirtualMachine vm, byte[] shadow, int msiCap, int msiVectorsCapable,
                    boolean msi64, boolean msiMaskable, int msixCap, int msixTableSize, int intxPin) {
        this.owner = owner;
        this.dev = dev;
        this.vm = vm;
        this.shadow = shadow;
        this.msiCap = msiCap;
        this.msiVectorsCapable = msiVectorsCapable;
        this.msi64 = msi64;
        this.msiMaskable = msiMaskable;
        this.msixCap = msixCap;
        this.msixTableSize = msixTableSize;
        this.msixTable = new int[msixTableSize * 4];
        this.intxPin = intxPin;
        resetMsixTable();
    }

    // --- MSI-X ------------------------------------------------------------------

    /** A read at {@code off} in the table; the table is read by dwords and qwords only. */
    long msixTableRead(long off, int size) {
        if (size == 8 && off % 8 == 0) {
            int i = (int) (off / 4);
            return Integer.toUnsignedLong(msixTable[i]) | Integer.toUnsignedLong(msixTable[i + 1]) << 32;
        }
        if (size == 4 && off % 4 == 0) return Integer.toUnsignedLong(msixTable[(int) (off / 4)]);
        return 0;
    }

    /** A write at {@code off} in the table (dwords and qwords only); the entry's vector follows it. */
    void msixTableWrite(long off, int size, long value) {
        if (size == 8 && off % 8 == 0) {
            putEntryDword((int) (off / 4), (int) value);
            putEntryDword((int) (off / 4) + 1, (int) (value >>> 32));
        } else if (size == 4 && off % 4 == 0) {
            putEntryDword((int) (off / 4), (int) value);
        } else {
            return;
        }
        msixVectorChanged((int) (off / PCI_MSIX_ENTRY_SIZE));
    }

    private void putEntryDword(int i, int v) {
        // Vector control: only the mask bit is writable.
        msixTable[i] = i % 4 == 3 ? v & PCI_MSIX_ENTRY_CTRL_MASKBIT : v;
    }

    /** Every entry zero and masked, as after reset. */
    void resetMsixTable() {
        for (int v = 0; v < msixTableSize; v++) {
            Arrays.fill(msixTable, v * 4, v * 4 + 3, 0);
            msixTable[v * 4 + 3] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
        }
    }

    /** A read at {@code off} in the PBA: a vector is pending when its eventfd fired while it was masked. */
    long pbaRead(long off, int size) {
        long bits = 0;
        if (msixVectors != null) {
            for (int v = 0; v < msixVectors.length; v++) {
                Vector vec = msixVectors[v];
                if (vec.irqfd == null && vec.fd.poll() > 0) vec.pending = true;
                if (vec.pending) {
                    long bit = v - off * 8;
                    if (bit >= 0 && bit < size * 8L) bits |= 1L << bit;
                }
            }
        }
        return bits;
    }

    private boolean msixEnabled() {
        return msixCap >= 0 && (u16(shadow, msixCap + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_ENABLE) != 0;
    }

    /** A guest write of the MSI-X message control register. */
    void writeMsixControl(int v) {
        boolean was = msixEnabled();
        int keep = u16(shadow, msixCap + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_QSIZE;
        put16(shadow, msixCap + PCI_MSIX_FLAGS, keep | v & (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL));
        boolean now = msixEnabled();
        if (now && !was) {
            if (msiVectors != null) disableMsi();
            disarmIntx();
            int n = Math.min(msixTableSize, dev.irqInfo(VFIO_PCI_MSIX_IRQ_INDEX).count());
            msixVectors = createVectors(n);
            if (n > 0) dev.setTriggers(VFIO_PCI_MSIX_IRQ_INDEX, 0, fds(msixVectors));
        } else if (!now && was) {
            disableMsix();
            armIntx();
            return;
        }
        if (now) for (int i = 0; i < msixVectors.length; i++) msixVectorChanged(i);
    }

    private void msixVectorChanged(int v) {
        if (!msixEnabled() || msixVectors == null || v < 0 || v >= msixVectors.length) return;
        boolean masked = (u16(shadow, msixCap + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_MASKALL) != 0
                || (msixTable[v * 4 + 3] & PCI_MSIX_ENTRY_CTRL_MASKBIT) != 0;
        long addr = Integer.toUnsignedLong(msixTable[v * 4]) | Integer.toUnsignedLong(msixTable[v * 4 + 1]) << 32;
        applyVector(msixVectors[v], masked, new MsiMessage(addr, msixTable[v * 4 + 2]));
    }

    void disableMsix() {
        if (msixVectors == null) return;
        dev.disable(VFIO_PCI_MSIX_IRQ_INDEX);
        releaseVectors(msixVectors);
        msixVectors = null;
    }

    // --- MSI -------------------------------------------------------------------------

    /** Offset of the pending bits in the MSI capability. */
    int msiPendingOffset() {
        return msi64 ? PCI_MSI_PENDING_64 : PCI_MSI_PENDING_32;
    }

    /** A guest write of MSI register {@code r} (offset in the capability) with the register's new value. */
    void writeMsi(int r, int v) {
        int flagsAt = msiCap + PCI_MSI_FLAGS;
        if (r == PCI_MSI_FLAGS) {
            int old = u16(shadow, flagsAt);
            int capable = Integer.numberOfTrailingZeros(msiVectorsCapable);
            int qsize = Math.min((v & PCI_MSI_FLAGS_QSIZE) >> 4, capable);
            put16(shadow, flagsAt, old & ~(PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE) | v & PCI_MSI_FLAGS_ENABLE
                    | qsize << 4);
            boolean was = (old & PCI_MSI_FLAGS_ENABLE) != 0, now = (v & PCI_MSI_FLAGS_ENABLE) != 0;
            if (now && !was) {
                if (msixEnabled()) {
                    // MSI and MSI-X at once is a guest error; MSI-X wins, as it does on hardware that checks.
                    put16(shadow, flagsAt, u16(shadow, flagsAt) & ~PCI_MSI_FLAGS_ENABLE);
                    return;
                }
                disarmIntx();
                int n = Math.min(1 << qsize, dev.irqInfo(VFIO_PCI_MSI_IRQ_INDEX).count());
                msiVectors = createVectors(n);
                if (n > 0) dev.setTriggers(VFIO_PCI_MSI_IRQ_INDEX, 0, fds(msiVectors));
            } else if (!now && was) {
                disableMsi();
                armIntx();
                return;
            }
        } else if (r == PCI_MSI_ADDRESS_LO) {
            put32(shadow, msiCap + r, v & ~0x3);
        } else if (r == PCI_MSI_MASK_32 && !msi64 || r == PCI_MSI_MASK_64 && msi64) {
            put32(shadow, msiCap + r, v & (msiVectorsCapable == 32 ? -1 : (1 << msiVectorsCapable) - 1));
        } else if (r == (msi64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32)) {
            put16(shadow, msiCap + r, v);
        } else {
            put32(shadow, msiCap + r, v); // address high
        }
        msiChanged();
    }

    private void msiChanged() {
        if (msiVectors == null) return;
        long addr = Integer.toUnsignedLong(i32(shadow, msiCap + PCI_MSI_ADDRESS_LO))
                | (msi64 ? Integer.toUnsignedLong(i32(shadow, msiCap + PCI_MSI_ADDRESS_HI)) << 32 : 0);
        int data = u16(shadow, msiCap + (msi64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32));
        int mask = msiMaskable ? i32(shadow, msiCap + (msi64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32)) : 0;
        int n = msiVectors.length;
        for (int k = 0; k < n; k++) {
            // With n vectors granted the function puts the vector number in the low log2(n) bits of the data.
            int d = n > 1 ? data & ~(Integer.highestOneBit(n) - 1) | k : data;
            applyVector(msiVectors[k], (mask & 1 << k) != 0, new MsiMessage(addr, d));
        }
    }

    /** Brings the shadow's MSI pending bits up to date, before the guest reads them. */
    void refreshMsiPending() {
        int bits = 0;
        if (msiVectors != null) {
            for (int k = 0; k < msiVectors.length; k++) {
                Vector vec = msiVectors[k];
                if (vec.irqfd == null && vec.fd.poll() > 0) vec.pending = true;
                if (vec.pending) bits |= 1 << k;
            }
        }
        put32(shadow, msiCap + msiPendingOffset(), bits);
    }

    void disableMsi() {
        if (msiVectors == null) return;
        dev.disable(VFIO_PCI_MSI_IRQ_INDEX);
        releaseVectors(msiVectors);
        msiVectors = null;
        put16(shadow, msiCap + PCI_MSI_FLAGS, u16(shadow, msiCap + PCI_MSI_FLAGS) & ~PCI_MSI_FLAGS_ENABLE);
    }

    // --- Vectors ---------------------------------------------------------------------

    private Vector[] createVectors(int n) {
        Vector[] v = new Vector[n];
        for (int i = 0; i < n; i++) v[i] = new Vector(vm.createEventFd());
        return v;
    }

    private static List<EventFd> fds(Vector[] vectors) {
        List<EventFd> l = new ArrayList<>();
        for (Vector v : vectors) l.add(v.fd);
        return l;
    }

    /** Routes and binds an unmasked vector, unbinds a masked one; a changed message re-routes its GSI. */
    private void applyVector(Vector vec, boolean masked, MsiMessage msg) {
        if (masked) {
            if (vec.irqfd != null) {
                vec.irqfd.close();
                vec.irqfd = null;
            }
            return;
        }
        if (vec.gsi < 0) vec.gsi = vm.allocateMsiGsi();
        if (!msg.equals(vec.routed)) {
            vm.routeMsi(vec.gsi, msg);
            vec.routed = msg;
        }
        if (vec.irqfd == null) {
            if (vec.pending) vec.fd.signal(); // consumed by a PBA read while masked: hand it back
            vec.pending = false;
            // An eventfd already signalled is delivered as soon as the irqfd is bound.
            vec.irqfd = vm.bindIrqFd(vec.fd, vec.gsi);
        }
    }

    private void releaseVectors(Vector[] vectors) {
        for (Vector v : vectors) {
            if (v.irqfd != null) v.irqfd.close();
            if (v.gsi >= 0) vm.releaseMsiGsi(v.gsi);
            v.fd.close();
        }
    }

    /** Turns MSI and MSI-X off at the device and releases their vectors, leaving the shadow as it is. */
    void releaseMsiVectors() {
        if (msixVectors != null) {
            dev.disable(VFIO_PCI_MSIX_IRQ_INDEX);
            releaseVectors(msixVectors);
            msixVectors = null;
        }
        if (msiVectors != null) {
            dev.disable(VFIO_PCI_MSI_IRQ_INDEX);
            releaseVectors(msiVectors);
            msiVectors = null;
        }
    }

    // --- INTx --------------------------------------------------------------------

    /** Makes the INTx eventfds and their level irqfd on the GSI {@code raw}'s pin routes to; once, at attach. */
    void armIntxBinding(RawPciFunction raw) {
        if (intxPin == 0) return;
        try {
            intxTrigger = vm.createEventFd();
            intxResample = vm.createEventFd();
            intxBinding = vm.bindIrqFd(intxTrigger, intxResample, raw.intxGsi(intxPin));
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "{0}: INTx cannot be given to the guest ({1}); the guest must use MSI or MSI-X",
                    owner, e.getMessage());
            closeIntx();
        }
    }

    /** Lets the device's INTx reach the guest (while neither MSI nor MSI-X is on). */
    void armIntx() {
        if (intxBinding == null || intxArmed) return;
        dev.setTriggers(VFIO_PCI_INTX_IRQ_INDEX, 0, List.of(intxTrigger));
        if (dev.irqInfo(VFIO_PCI_INTX_IRQ_INDEX).maskable()) dev.setUnmaskFd(VFIO_PCI_INTX_IRQ_INDEX, 0, intxResample);
        intxArmed = true;
    }

    void disarmIntx() {
        if (!intxArmed) return;
        dev.disable(VFIO_PCI_INTX_IRQ_INDEX);
        intxArmed = false;
    }

    void closeIntx() {
        if (intxBinding != null) intxBinding.close();
        if (intxTrigger != null) intxTrigger.close();
        if (intxResample != null) intxResample.close();
        intxBinding = null;
        intxTrigger = intxResample = null;
    }
}
