package vmm.core.virtio;

import static vmm.core.virtio.RegisterFields.composeRead;
import static vmm.core.virtio.RegisterFields.fieldBits;
import static vmm.core.virtio.RegisterFields.merge;
import static vmm.core.virtio.VirtioFeatures.NO_VECTOR;
import static vmm.core.virtio.VirtioFeatures.STATUS_FEATURES_OK;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_COMMON_CFGGENERATION;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_COMMON_DF;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_COMMON_DFSELECT;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_COMMON_GF;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_COMMON_GFSELECT;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_COMMON_MSIX;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_COMMON_NUMQ;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_COMMON_Q_AVAILLO;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_COMMON_Q_DESCLO;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_COMMON_Q_ENABLE;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_COMMON_Q_MSIX;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_COMMON_Q_NOFF;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_COMMON_Q_SELECT;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_COMMON_Q_SIZE;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_COMMON_Q_USEDLO;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_COMMON_STATUS;

/**
 * The common configuration structure of a virtio-pci function (struct
 * virtio_pci_common_cfg, 4.1.4.3) decoded over the transport's registers:
 * feature windows, vectors, queue selection and setup. Status writes go to
 * the transport's status machine; everything else is done under the
 * transport's lock.
 */
final class CommonConfig {
    /** Registers of the common configuration: {offset, size}. */
    private static final int[][] FIELDS = {{0, 4}, {4, 4}, {8, 4}, {12, 4}, {16, 2}, {18, 2}, {20, 1}, {21, 1},
            {22, 2}, {24, 2}, {26, 2}, {28, 2}, {30, 2}, {32, 8}, {40, 8}, {48, 8}};

    private final VirtioPciTransport t;

    CommonConfig(VirtioPciTransport t) {
        this.t = t;
    }

    /** A driver read of {@code [off, off+size)} in the structure; bytes beyond it read 0. */
    long read(int off, int size) {
        synchronized (t.lock) {
            return composeRead(FIELDS, off, size, this::fieldLocked);
        }
    }

    private long fieldLocked(int field) {
        QueueSlot s = t.selected();
        return switch (field) {
            case VIRTIO_PCI_COMMON_DFSELECT -> Integer.toUnsignedLong(t.deviceFeatureSelect);
            case VIRTIO_PCI_COMMON_DF -> featureWindow(t.offered, t.deviceFeatureSelect);
            case VIRTIO_PCI_COMMON_GFSELECT -> Integer.toUnsignedLong(t.driverFeatureSelect);
            case VIRTIO_PCI_COMMON_GF -> featureWindow(t.driverFeatures, t.driverFeatureSelect);
            case VIRTIO_PCI_COMMON_MSIX -> t.configVector;
            case VIRTIO_PCI_COMMON_NUMQ -> t.queueCount;
            case VIRTIO_PCI_COMMON_STATUS -> t.status;
            case VIRTIO_PCI_COMMON_CFGGENERATION -> t.configGeneration;
            case VIRTIO_PCI_COMMON_Q_SELECT -> t.queueSelect;
            case VIRTIO_PCI_COMMON_Q_SIZE -> s == null ? 0 : s.size;
            case VIRTIO_PCI_COMMON_Q_MSIX -> s == null ? NO_VECTOR : s.vector;
            case VIRTIO_PCI_COMMON_Q_ENABLE -> s != null && s.enabled ? 1 : 0;
            case VIRTIO_PCI_COMMON_Q_NOFF -> s == null ? 0 : s.index; // queue_notify_off = queue index
            case VIRTIO_PCI_COMMON_Q_DESCLO -> s == null ? 0 : s.desc;
            case VIRTIO_PCI_COMMON_Q_AVAILLO -> s == null ? 0 : s.driver;
            case VIRTIO_PCI_COMMON_Q_USEDLO -> s == null ? 0 : s.device;
            default -> 0;
        };
    }

    /** A driver write of {@code [off, off+size) = value}; each register it touches takes its part. */
    void write(int off, int size, long value) {
        for (int[] f : FIELDS) {
            long[] mb = fieldBits(f, off, size, value);
            if (mb == null) continue;
            if (f[0] == VIRTIO_PCI_COMMON_STATUS) {
                t.writeStatus((int) mb[1], false);
            } else {
                synchronized (t.lock) {
                    fieldWriteLocked(f[0], mb[0], mb[1]);
                }
            }
        }
    }

    private void fieldWriteLocked(int field, long mask, long bits) {
        QueueSlot s = t.selected();
        switch (field) {
            case VIRTIO_PCI_COMMON_DFSELECT -> t.deviceFeatureSelect = (int) merge(t.deviceFeatureSelect, mask, bits);
            case VIRTIO_PCI_COMMON_GFSELECT -> t.driverFeatureSelect = (int) merge(t.driverFeatureSelect, mask, bits);
            case VIRTIO_PCI_COMMON_GF -> {
                // Once FEATURES_OK has stuck the negotiated set is final (3.1.1 step 5).
                int select = t.driverFeatureSelect;
                if ((t.status & STATUS_FEATURES_OK) != 0 || select < 0 || select > 1) return;
                int shift = 32 * select;
                long half = merge(featureWindow(t.driverFeatures, select), mask, bits);
                t.driverFeatures = t.driverFeatures & ~(0xffff_ffffL << shift) | half << shift;
            }
            case VIRTIO_PCI_COMMON_MSIX -> t.configVector = t.vectorOrNone(merge(t.configVector, mask, bits));
            case VIRTIO_PCI_COMMON_Q_SELECT -> t.queueSelect = (int) merge(t.queueSelect, mask, bits);
            case VIRTIO_PCI_COMMON_Q_SIZE -> {
                if (s != null && !s.enabled) s.size = (int) merge(s.size, mask, bits);
            }
            case VIRTIO_PCI_COMMON_Q_MSIX -> {
                if (s != null) s.vector = t.vectorOrNone(merge(s.vector, mask, bits));
                t.syncKernelLocked();
            }
            case VIRTIO_PCI_COMMON_Q_ENABLE -> {
                // Writing 0 is not how a driver disables a queue (that is a reset), so it is ignored.
                if (s != null && !s.enabled && merge(0, mask, bits) != 0) t.enableQueueLocked(s);
            }
            case VIRTIO_PCI_COMMON_Q_DESCLO -> {
                if (s != null && !s.enabled) s.desc = merge(s.desc, mask, bits);
            }
            case VIRTIO_PCI_COMMON_Q_AVAILLO -> {
                if (s != null && !s.enabled) s.driver = merge(s.driver, mask, bits);
            }
            case VIRTIO_PCI_COMMON_Q_USEDLO -> {
                if (s != null && !s.enabled) s.device = merge(s.device, mask, bits);
            }
            default -> {
                // device_feature, num_queues, config_generation and queue_notify_off are read-only
            }
        }
    }

    /** The 32 bits of {@code features} a feature select register picks; 0 beyond bit 63. */
    private static long featureWindow(long features, int select) {
        return select == 0 ? features & 0xffff_ffffL : select == 1 ? features >>> 32 : 0;
    }
}
