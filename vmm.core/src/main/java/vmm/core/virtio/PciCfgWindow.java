package vmm.core.virtio;

import static vmm.core.virtio.RegisterFields.getLe;
import static vmm.core.virtio.RegisterFields.getLe32;
import static vmm.core.virtio.RegisterFields.ones;
import static vmm.core.virtio.RegisterFields.overlaps;
import static vmm.core.virtio.RegisterFields.putLe32;
import static vmm.core.virtio.VirtioPciLayout.PCI_CFG_CAP_LENGTH;
import static vmm.core.virtio.VirtioPciTransport.LEGACY_BAR;
import static vmm.core.virtio.VirtioPciTransport.MODERN_BAR;
import static vmm.core.virtio.VirtioPciTransport.MODERN_BAR_SIZE;
import static vmm.core.virtio.VirtioPciTransport.PCI_CAP_ID_VNDR;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_CAP_BAR;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_CAP_CFG_TYPE;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_CAP_LEN;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_CAP_LENGTH;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_CAP_OFFSET;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_CAP_PCI_CFG;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_CFG_DATA;

import java.lang.System.Logger.Level;

import vmm.core.pci.BarHandler;
import vmm.core.pci.CapabilityHandler;

/**
 * The VIRTIO_PCI_CAP_PCI_CFG access window (4.1.4.9): the driver writes
 * bar, offset and length into the capability, and a read or write of
 * pci_cfg_data performs that access on the BAR. Only BAR4 (and BAR0 of a
 * transitional device) are reachable: the MSI-X table belongs to the bus.
 * Calls are serialized by the bus per function; the copy here is the
 * capability's truth, and what the bus stores mirrors it.
 */
final class PciCfgWindow implements CapabilityHandler {
    private static final System.Logger LOG = System.getLogger("vmm.virtio");

    private final String owner;
    /** Bytes of device config, which size the legacy I/O BAR; -1 when the function has none. */
    private final int legacyConfigSize;
    /** The transport's BAR decoding, which performs the accesses; its failures are this window's to handle. */
    private final BarHandler bars;
    /** The driver's view of the capability (bar, offset, length, data). */
    private final byte[] pciCfg = new byte[PCI_CFG_CAP_LENGTH];

    PciCfgWindow(String owner, int legacyConfigSize, BarHandler bars) {
        this.owner = owner;
        this.legacyConfigSize = legacyConfigSize;
        this.bars = bars;
        pciCfg[0] = (byte) PCI_CAP_ID_VNDR;
        pciCfg[VIRTIO_PCI_CAP_LEN] = PCI_CFG_CAP_LENGTH;
        pciCfg[VIRTIO_PCI_CAP_CFG_TYPE] = VIRTIO_PCI_CAP_PCI_CFG;
    }

    @Override
    public int read(int offset, int size, int stored) {
        try {
            synchronized (pciCfg) {
                if (overlaps(offset, size, VIRTIO_PCI_CFG_DATA, 4)) {
                    long v = windowAccess(true, 0);
                    putLe32(pciCfg, VIRTIO_PCI_CFG_DATA, (int) v);
                }
                return (int) getLe(pciCfg, offset, size);
            }
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, () -> owner + ": PCI_CFG window read failed", e);
            return (int) ones(size);
        }
    }

    @Override
    public int write(int offset, int size, int value, int stored) {
        try {
            synchronized (pciCfg) {
                for (int i = 0; i < size; i++) {
                    int o = offset + i;
                    boolean writable = o == VIRTIO_PCI_CAP_BAR
                            || o >= VIRTIO_PCI_CAP_OFFSET && o < VIRTIO_PCI_CAP_LENGTH + 4
                            || o >= VIRTIO_PCI_CFG_DATA && o < VIRTIO_PCI_CFG_DATA + 4;
                    if (writable) pciCfg[o] = (byte) (value >>> 8 * i);
                }
                if (overlaps(offset, size, VIRTIO_PCI_CFG_DATA, 4))
                    windowAccess(false, Integer.toUnsignedLong(getLe32(pciCfg, VIRTIO_PCI_CFG_DATA)));
                return (int) getLe(pciCfg, offset, size);
            }
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, () -> owner + ": PCI_CFG window write failed", e);
            return stored;
        }
    }

    /** Performs the access the capability describes; invalid descriptions do nothing (reads give 0). */
    private long windowAccess(boolean read, long data) {
        int bar = pciCfg[VIRTIO_PCI_CAP_BAR] & 0xff;
        long off = Integer.toUnsignedLong(getLe32(pciCfg, VIRTIO_PCI_CAP_OFFSET));
        int len = getLe32(pciCfg, VIRTIO_PCI_CAP_LENGTH);
        long barSize = bar == MODERN_BAR ? MODERN_BAR_SIZE : bar == LEGACY_BAR && legacyConfigSize >= 0
                ? VirtioPciLayout.legacyBarSize(owner, legacyConfigSize) : 0;
        if (len != 1 && len != 2 && len != 4 || off % len != 0 || off + len > barSize) return 0;
        if (read) return bars.readBar(bar, off, len);
        bars.writeBar(bar, off, len, data & ones(len));
        return 0;
    }
}
