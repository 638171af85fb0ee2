package vmm.core.virtio;

import static vmm.core.virtio.RegisterFields.composeRead;
import static vmm.core.virtio.RegisterFields.fieldBits;
import static vmm.core.virtio.RegisterFields.merge;
import static vmm.core.virtio.VirtioFeatures.NO_VECTOR;
import static vmm.core.virtio.VirtioFeatures.STATUS_DRIVER_OK;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_MSI_CONFIG_VECTOR;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_MSI_QUEUE_VECTOR;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_CONFIG_OFF_MSIX;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_CONFIG_OFF_NO_MSIX;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_GUEST_FEATURES;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_HOST_FEATURES;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_ISR;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_QUEUE_ADDR_SHIFT;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_QUEUE_NOTIFY;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_QUEUE_NUM;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_QUEUE_PFN;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_QUEUE_SEL;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_STATUS;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_VRING_ALIGN;

/**
 * The legacy I/O BAR of a transitional virtio-pci device (4.1.4.10): the
 * legacy register block (two more vector registers while MSI-X is enabled)
 * followed by device configuration, decoded over the transport's registers.
 * Status, notify, ISR and device configuration go to the transport; the
 * rest is done under the transport's lock.
 */
final class LegacyInterface {
    private static final int[][] FIELDS = {{0, 4}, {4, 4}, {8, 4}, {12, 2}, {14, 2}, {16, 2}, {18, 1}, {19, 1}};
    private static final int[][] MSIX_FIELDS = {{0, 4}, {4, 4}, {8, 4}, {12, 2}, {14, 2}, {16, 2}, {18, 1},
            {19, 1}, {20, 2}, {22, 2}};

    private final VirtioPciTransport t;

    LegacyInterface(VirtioPciTransport t) {
        this.t = t;
    }

    /** A driver read of {@code [off, off+size)} in the BAR. */
    long read(int off, int size) {
        boolean msix = t.function.msixEnabled();
        int configBase = msix ? VIRTIO_PCI_CONFIG_OFF_MSIX : VIRTIO_PCI_CONFIG_OFF_NO_MSIX;
        if (off >= configBase) return t.deviceConfigRead(off - configBase, size);
        return composeRead(msix ? MSIX_FIELDS : FIELDS, off, size, this::field);
    }

    private long field(int field) {
        if (field == VIRTIO_PCI_ISR) return t.readIsr();
        synchronized (t.lock) {
            QueueSlot s = t.selected();
            return switch (field) {
                case VIRTIO_PCI_HOST_FEATURES -> t.offered & 0xffff_ffffL;
                case VIRTIO_PCI_GUEST_FEATURES -> t.driverFeatures & 0xffff_ffffL;
                case VIRTIO_PCI_QUEUE_PFN -> s != null && s.enabled ? s.desc >>> VIRTIO_PCI_QUEUE_ADDR_SHIFT : 0;
                case VIRTIO_PCI_QUEUE_NUM -> s == null ? 0 : t.maxQueueSize[s.index];
                case VIRTIO_PCI_QUEUE_SEL -> t.queueSelect;
                case VIRTIO_PCI_STATUS -> t.status;
                case VIRTIO_MSI_CONFIG_VECTOR -> t.configVector;
                case VIRTIO_MSI_QUEUE_VECTOR -> s == null ? NO_VECTOR : s.vector;
                default -> 0; // queue notify reads 0
            };
        }
    }

    /** A driver write of {@code [off, off+size) = value} in the BAR. */
    void write(int off, int size, long value) {
        boolean msix = t.function.msixEnabled();
        int configBase = msix ? VIRTIO_PCI_CONFIG_OFF_MSIX : VIRTIO_PCI_CONFIG_OFF_NO_MSIX;
        if (off >= configBase) {
            t.deviceConfigWrite(off - configBase, size, value);
            return;
        }
        for (int[] f : msix ? MSIX_FIELDS : FIELDS) {
            long[] mb = fieldBits(f, off, size, value);
            if (mb == null) continue;
            switch (f[0]) {
                case VIRTIO_PCI_STATUS -> t.writeStatus((int) mb[1], true);
                case VIRTIO_PCI_QUEUE_NOTIFY -> t.notifyQueue((int) mb[1]);
                default -> {
                    synchronized (t.lock) {
                        fieldWriteLocked(f[0], mb[0], mb[1]);
                    }
                }
            }
        }
    }

    private void fieldWriteLocked(int field, long mask, long bits) {
        QueueSlot s = t.selected();
        switch (field) {
            case VIRTIO_PCI_GUEST_FEATURES -> {
                // A legacy driver's features become final at DRIVER_OK.
                if ((t.status & STATUS_DRIVER_OK) == 0)
                    t.driverFeatures = merge(t.driverFeatures & 0xffff_ffffL, mask, bits);
            }
            case VIRTIO_PCI_QUEUE_PFN -> {
                if (s != null) queuePfnLocked(s, merge(s.desc >>> VIRTIO_PCI_QUEUE_ADDR_SHIFT, mask, bits));
            }
            case VIRTIO_PCI_QUEUE_SEL -> t.queueSelect = (int) merge(t.queueSelect, mask, bits);
            case VIRTIO_MSI_CONFIG_VECTOR -> t.configVector = t.vectorOrNone(merge(t.configVector, mask, bits));
            case VIRTIO_MSI_QUEUE_VECTOR -> {
                if (s != null) s.vector = t.vectorOrNone(merge(s.vector, mask, bits));
                t.syncKernelLocked();
            }
            default -> {
                // host features, queue size and ISR are read-only
            }
        }
    }

    /**
     * A legacy queue address: the rings are contiguous from {@code pfn << 12}
     * with the used ring on the next 4 KiB boundary (legacy interface,
     * 2.7.2); PFN 0 disables the queue.
     */
    private void queuePfnLocked(QueueSlot s, long pfn) {
        if (pfn == 0) {
            // The queue's MSI-X vector is a separate register and survives.
            s.enabled = false;
            s.queue = null;
            s.desc = s.driver = s.device = 0;
            t.syncKernelLocked();
            return;
        }
        if (s.enabled) return; // a driver writes 0 first to move a queue
        int size = t.maxQueueSize[s.index];
        long desc = pfn << VIRTIO_PCI_QUEUE_ADDR_SHIFT;
        long avail = desc + VirtQueue.descTableSize(size);
        long used = (avail + VirtQueue.availRingSize(size) + VIRTIO_PCI_VRING_ALIGN - 1)
                & -(long) VIRTIO_PCI_VRING_ALIGN;
        s.size = size;
        s.desc = desc;
        s.driver = avail;
        s.device = used;
        t.enableQueueLocked(s);
    }
}
