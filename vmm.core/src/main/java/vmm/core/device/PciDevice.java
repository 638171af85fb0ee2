package vmm.core.device;

import vmm.core.pci.BarHandler;
import vmm.core.pci.PciFunction;
import vmm.core.pci.PciFunctionSpec;

/**
 * A plain PCI function as a device model (not virtio): what its configuration space shows ({@link #spec()}: IDs,
 * class, BARs, interrupt pin, MSI/MSI-X, capabilities), what it answers in its BARs ({@link BarHandler}), and the
 * function the bus gave it, for its interrupts and bus mastering. Plugged as a device instance at a PCI address, it
 * has the life every instance has; the instance keeps the function on the bus while models change, so a successor
 * inherits its programmed BARs, MSI-X table and INTx line.
 */
public interface PciDevice extends DeviceModel, BarHandler {
    /**
     * The function as the guest sees it, fixed for the model's life. A swap's successor must have an equal spec
     * ({@link PciFunctionSpec#equals}: what a guest could tell apart). Its capability and device-register handlers
     * are called for whichever model is in place.
     */
    PciFunctionSpec spec();

    /**
     * The function the instance attached for this device (or for its predecessor), before {@link #start()}: its
     * interrupts ({@code intx()}, {@code signalMsiX}) and what the guest programmed (BAR addresses, bus mastering).
     */
    void attach(PciFunction function);
}
