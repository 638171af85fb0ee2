package vmm.core.virtio;

import static vmm.core.virtio.VirtioFeatures.NO_VECTOR;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_ISR_CONFIG;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_ISR_QUEUE;

import vmm.core.pci.PciFunction;

/**
 * How a virtio-pci function interrupts the driver (4.1.4.5, 4.1.5.1.2):
 * through MSI-X when the driver enabled it (an irqfd where the kernel
 * binding has one, else the bus's MSI-X path), else by the ISR status bits
 * and INTx. Guarded by the transport's lock.
 */
final class Interrupts {
    private final PciFunction function;
    private final KernelBindings bindings;
    private int isr;

    Interrupts(PciFunction function, KernelBindings bindings) {
        this.function = function;
        this.bindings = bindings;
    }

    /** A used-buffer notification on MSI-X vector {@code vector} (NO_VECTOR: none is sent under MSI-X). */
    void queueLocked(int vector) {
        if (function.msixEnabled()) {
            if (vector == NO_VECTOR) return;
            if (!bindings.signalLocked(vector)) function.signalMsiX(vector);
        } else {
            isr |= VIRTIO_PCI_ISR_QUEUE;
            function.intx().raise();
        }
    }

    /** A configuration change notification on MSI-X vector {@code configVector}. */
    void configLocked(int configVector) {
        // The ISR bit is set even with MSI-X, as 4.1.4.5.1 requires before any config notification.
        isr |= VIRTIO_PCI_ISR_CONFIG;
        if (function.msixEnabled()) {
            if (configVector != NO_VECTOR) function.signalMsiX(configVector);
        } else {
            function.intx().raise();
        }
    }

    /** ISR status as the driver reads it: reading returns and clears the bits and releases INTx. */
    int readIsrLocked() {
        int v = isr;
        isr = 0;
        function.intx().lower();
        return v;
    }

    /** ISR status without reading it (a read clears it), for a snapshot. */
    int isrLocked() {
        return isr;
    }

    /** Puts back a saved ISR status; with bits set and no MSI-X, INTx is asserted again, as the driver left it. */
    void restoreIsrLocked(int value) {
        isr = value;
        if (value != 0 && !function.msixEnabled()) function.intx().raise();
    }
}
