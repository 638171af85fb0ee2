package device.pci_passthru.internal;

/** Type 0 configuration header and capability registers (PCI Local Bus 3.0, PCI Express Base 4.0), named as Linux's pci_regs.h. */
final class PciConfig {
    private PciConfig() {}

    static final int PCI_CFG_SPACE_SIZE = 0x100;
    static final int PCI_VENDOR_ID = 0x00, PCI_DEVICE_ID = 0x02, PCI_COMMAND = 0x04, PCI_STATUS = 0x06, PCI_REVISION_ID = 0x08,
            PCI_CACHE_LINE_SIZE = 0x0c, PCI_LATENCY_TIMER = 0x0d, PCI_HEADER_TYPE = 0x0e, PCI_BIST = 0x0f,
            PCI_BASE_ADDRESS_0 = 0x10, PCI_CARDBUS_CIS = 0x28, PCI_SUBSYSTEM_VENDOR_ID = 0x2c, PCI_ROM_ADDRESS = 0x30,
            PCI_CAPABILITY_LIST = 0x34, PCI_INTERRUPT_LINE = 0x3c, PCI_INTERRUPT_PIN = 0x3d, PCI_STD_HEADER_SIZEOF = 0x40;

    static final int PCI_COMMAND_IO = 0x1, PCI_COMMAND_MEMORY = 0x2, PCI_COMMAND_MASTER = 0x4, PCI_COMMAND_PARITY = 0x40,
            PCI_COMMAND_SERR = 0x100, PCI_COMMAND_INTX_DISABLE = 0x400;
    /** The command bits a guest may set on a passed-through function; the rest read 0 and are not written. */
    static final int COMMAND_WRITABLE = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY
            | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE;

    static final int PCI_STATUS_CAP_LIST = 0x10;
    /** Status bits that are write-one-to-clear errors: parity, target/master abort, SERR, parity error. */
    static final int PCI_STATUS_RW1C = 0xf900;

    static final int PCI_HEADER_TYPE_MULTIFUNCTION = 0x80;
    static final int PCI_BASE_ADDRESS_SPACE_IO = 0x1, PCI_BASE_ADDRESS_MEM_TYPE_MASK = 0x6, PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x4,
            PCI_BASE_ADDRESS_MEM_PREFETCH = 0x8;
    static final int PCI_ROM_ADDRESS_ENABLE = 0x1, PCI_ROM_ADDRESS_MASK = ~0x7ff;

    static final int PCI_CAP_LIST_ID = 0, PCI_CAP_LIST_NEXT = 1;
    static final int PCI_CAP_ID_PM = 0x01, PCI_CAP_ID_MSI = 0x05, PCI_CAP_ID_VNDR = 0x09, PCI_CAP_ID_EXP = 0x10, PCI_CAP_ID_MSIX = 0x11;

    static final int PCI_PM_CTRL = 4, PCI_PM_SIZEOF = 8, PCI_PM_CTRL_STATE_MASK = 0x3;

    static final int PCI_MSI_FLAGS = 2, PCI_MSI_FLAGS_ENABLE = 0x1, PCI_MSI_FLAGS_QMASK = 0xe, PCI_MSI_FLAGS_QSIZE = 0x70,
            PCI_MSI_FLAGS_64BIT = 0x80, PCI_MSI_FLAGS_MASKBIT = 0x100;
    static final int PCI_MSI_ADDRESS_LO = 4, PCI_MSI_ADDRESS_HI = 8, PCI_MSI_DATA_32 = 8, PCI_MSI_DATA_64 = 12,
            PCI_MSI_MASK_32 = 12, PCI_MSI_MASK_64 = 16, PCI_MSI_PENDING_32 = 16, PCI_MSI_PENDING_64 = 20;

    static final int PCI_MSIX_FLAGS = 2, PCI_MSIX_FLAGS_QSIZE = 0x7ff, PCI_MSIX_FLAGS_MASKALL = 0x4000, PCI_MSIX_FLAGS_ENABLE = 0x8000,
            PCI_MSIX_TABLE = 4, PCI_MSIX_PBA = 8, PCI_MSIX_TABLE_BIR = 0x7, PCI_CAP_MSIX_SIZEOF = 12;
    static final int PCI_MSIX_ENTRY_SIZE = 16, PCI_MSIX_ENTRY_LOWER_ADDR = 0, PCI_MSIX_ENTRY_UPPER_ADDR = 4, PCI_MSIX_ENTRY_DATA = 8,
            PCI_MSIX_ENTRY_VECTOR_CTRL = 12, PCI_MSIX_ENTRY_CTRL_MASKBIT = 0x1;

    static final int PCI_EXP_FLAGS = 2, PCI_EXP_FLAGS_VERS = 0xf, PCI_EXP_DEVCTL = 8, PCI_EXP_DEVSTA = 10;
    /** Device Control bits passed to the device: error reporting enables, relaxed ordering, no snoop. */
    static final int PCI_EXP_DEVCTL_PASSED = 0x000f | 0x0010 | 0x0800;
    static final int PCI_EXP_DEVCTL_BCR_FLR = 0x8000;
    /** Device Status error bits, write-one-to-clear. */
    static final int PCI_EXP_DEVSTA_RW1C = 0x000f;
    /** Length of the PCI Express capability: version 1 ends after the link registers, version 2 after Link Control 2. */
    static final int PCI_CAP_EXP_ENDPOINT_SIZEOF_V1 = 0x14, PCI_CAP_EXP_ENDPOINT_SIZEOF_V2 = 0x3c;
}
