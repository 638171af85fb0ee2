package vmm.core.virtio;

import static vmm.core.virtio.RegisterFields.putLe32;
import static vmm.core.virtio.VirtioPciTransport.COMMON_CFG_OFFSET;
import static vmm.core.virtio.VirtioPciTransport.DEVICE_CFG_OFFSET;
import static vmm.core.virtio.VirtioPciTransport.ISR_CFG_OFFSET;
import static vmm.core.virtio.VirtioPciTransport.LEGACY_BAR;
import static vmm.core.virtio.VirtioPciTransport.MODERN_BAR;
import static vmm.core.virtio.VirtioPciTransport.MODERN_BAR_SIZE;
import static vmm.core.virtio.VirtioPciTransport.MSIX_BAR;
import static vmm.core.virtio.VirtioPciTransport.MSIX_BAR_SIZE;
import static vmm.core.virtio.VirtioPciTransport.MSIX_PBA_OFFSET;
import static vmm.core.virtio.VirtioPciTransport.MSIX_TABLE_OFFSET;
import static vmm.core.virtio.VirtioPciTransport.NOTIFY_CFG_OFFSET;
import static vmm.core.virtio.VirtioPciTransport.NOTIFY_OFF_MULTIPLIER;
import static vmm.core.virtio.VirtioPciTransport.PCI_CAP_ID_VNDR;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_CAP_BAR;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_CAP_CFG_TYPE;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_CAP_COMMON_CFG;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_CAP_DEVICE_CFG;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_CAP_ISR_CFG;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_CAP_LEN;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_CAP_LENGTH;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_CAP_NOTIFY_CFG;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_CAP_OFFSET;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_CAP_PCI_CFG;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_COMMON_CFG_LENGTH;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_CONFIG_OFF_MSIX;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_MODERN_DEVICE_ID_BASE;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_NOTIFY_CAP_MULT;
import static vmm.core.virtio.VirtioPciTransport.VIRTIO_PCI_VENDOR_ID;

import vmm.core.pci.BarSpec;
import vmm.core.pci.Capability;
import vmm.core.pci.CapabilityHandler;
import vmm.core.pci.MsiXSpec;
import vmm.core.pci.PciFunctionSpec;

/**
 * What a virtio-pci function looks like on the bus: its PCI identity (IDs,
 * class code, revision), its BARs and the vendor capabilities that point a
 * driver at the virtio structures (section 4.1.4). Pure: the same shape
 * always gives the same layout.
 */
final class VirtioPciLayout {
    /** Virtio device IDs that have a transitional PCI device ID (section 4.1.2.3). */
    private static final int VIRTIO_ID_NET = 1, VIRTIO_ID_BLOCK = 2, VIRTIO_ID_CONSOLE = 3, VIRTIO_ID_RNG = 4;

    /** Length of the PCI_CFG capability: struct virtio_pci_cap plus pci_cfg_data[4]. */
    static final int PCI_CFG_CAP_LENGTH = 20;

    private VirtioPciLayout() {
    }

    /**
     * The function of a device of virtio type {@code deviceType}; {@code pciCfg}
     * serves the PCI_CFG capability.
     *
     * @throws IllegalArgumentException when {@code legacy} is asked for a type without a transitional ID or a
     *                                  config space the legacy BAR cannot hold
     */
    static PciFunctionSpec spec(String owner, boolean legacy, int deviceType, int queueCount, int configSize,
                                int msixVectors, byte[] optionRom, CapabilityHandler pciCfg) {
        int pciDeviceId = legacy ? transitionalDeviceId(deviceType) : VIRTIO_PCI_MODERN_DEVICE_ID_BASE + deviceType;
        PciFunctionSpec.Builder b = PciFunctionSpec.builder(VIRTIO_PCI_VENDOR_ID, pciDeviceId);
        switch (deviceType) {
            case VIRTIO_ID_NET -> b.classCode(0x02, 0x00, 0x00); // network controller, Ethernet
            case VIRTIO_ID_BLOCK -> b.classCode(0x01, 0x80, 0x00); // mass storage, other
            case VIRTIO_ID_CONSOLE -> b.classCode(0x07, 0x80, 0x00); // communication controller, other
            default -> b.classCode(0xff, 0x00, 0x00); // unassigned class
        }
        // Revision 1 tells a driver the device is modern-only; transitional devices keep revision 0.
        b.revision(legacy ? 0 : 1).subsystem(VIRTIO_PCI_VENDOR_ID, deviceType).interruptPin(1);
        b.bar(BarSpec.mem32(MSIX_BAR, MSIX_BAR_SIZE)).bar(BarSpec.mem64(MODERN_BAR, MODERN_BAR_SIZE, true));
        b.msix(new MsiXSpec(msixVectors, MSIX_BAR, MSIX_TABLE_OFFSET, MSIX_BAR, MSIX_PBA_OFFSET));
        if (legacy) b.bar(BarSpec.io(LEGACY_BAR, legacyBarSize(owner, configSize)));
        if (optionRom != null) b.rom(optionRom);
        b.capability(new Capability(PCI_CAP_ID_VNDR, capBody(VIRTIO_PCI_CAP_COMMON_CFG, COMMON_CFG_OFFSET,
                VIRTIO_PCI_COMMON_CFG_LENGTH, -1), null));
        b.capability(new Capability(PCI_CAP_ID_VNDR, capBody(VIRTIO_PCI_CAP_NOTIFY_CFG, NOTIFY_CFG_OFFSET,
                (long) NOTIFY_OFF_MULTIPLIER * queueCount, NOTIFY_OFF_MULTIPLIER), null));
        b.capability(new Capability(PCI_CAP_ID_VNDR, capBody(VIRTIO_PCI_CAP_ISR_CFG, ISR_CFG_OFFSET, 1, -1), null));
        // A device without config space (an entropy device) has no DEVICE_CFG structure at all.
        if (configSize > 0)
            b.capability(new Capability(PCI_CAP_ID_VNDR, capBody(VIRTIO_PCI_CAP_DEVICE_CFG, DEVICE_CFG_OFFSET,
                    configSize, -1), null));
        byte[] pciCfgBody = new byte[PCI_CFG_CAP_LENGTH - 2];
        pciCfgBody[0] = PCI_CFG_CAP_LENGTH;
        pciCfgBody[1] = VIRTIO_PCI_CAP_PCI_CFG;
        b.capability(new Capability(PCI_CAP_ID_VNDR, pciCfgBody, pciCfg));
        return b.build();
    }

    /**
     * The body (bytes after ID and next pointer) of a struct virtio_pci_cap
     * in BAR4; {@code multiplier >= 0} appends notify_off_multiplier.
     */
    private static byte[] capBody(int cfgType, long offset, long length, int multiplier) {
        int capLen = multiplier >= 0 ? 20 : 16;
        byte[] body = new byte[capLen - 2];
        body[VIRTIO_PCI_CAP_LEN - 2] = (byte) capLen;
        body[VIRTIO_PCI_CAP_CFG_TYPE - 2] = (byte) cfgType;
        body[VIRTIO_PCI_CAP_BAR - 2] = MODERN_BAR;
        putLe32(body, VIRTIO_PCI_CAP_OFFSET - 2, (int) offset);
        putLe32(body, VIRTIO_PCI_CAP_LENGTH - 2, (int) length);
        if (multiplier >= 0) putLe32(body, VIRTIO_PCI_NOTIFY_CAP_MULT - 2, multiplier);
        return body;
    }

    private static int transitionalDeviceId(int type) {
        return switch (type) {
            case VIRTIO_ID_NET -> 0x1000;
            case VIRTIO_ID_BLOCK -> 0x1001;
            case VIRTIO_ID_CONSOLE -> 0x1003;
            case VIRTIO_ID_RNG -> 0x1005;
            default -> throw new IllegalArgumentException("virtio device ID " + type
                    + " has no transitional PCI device ID; a legacy I/O BAR is only possible for net, block, console"
                    + " and entropy devices");
        };
    }

    /** The legacy I/O BAR's size: registers plus device config, a power of two of at least 32 bytes. */
    static int legacyBarSize(String owner, int configSize) {
        int need = VIRTIO_PCI_CONFIG_OFF_MSIX + configSize;
        int size = Math.max(32, Integer.highestOneBit(need - 1) << 1);
        if (size > 256)
            throw new IllegalArgumentException(owner + ": " + configSize
                    + " bytes of device config do not fit a legacy I/O BAR");
        return size;
    }
}
