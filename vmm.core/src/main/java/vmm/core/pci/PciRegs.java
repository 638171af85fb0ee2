package vmm.core.pci;

/**
 * Register offsets and bit fields of PCI configuration space, named as in
 * the PCI Local Bus Specification 3.0 (section 6) and the MSI/MSI-X
 * chapters (6.8), spelled the way Linux's {@code pci_regs.h} spells them so
 * that a reader can cross-check against either.
 */
final class PciRegs {
    private PciRegs() {}

    /** Bytes of conventional configuration space; the rest up to 4 KiB is PCIe extended space. */
    static final int PCI_CFG_SPACE_SIZE = 0x100;
    static final int PCI_CFG_SPACE_EXP_SIZE = 0x1000;

    // --- Type 0 header (spec 6.1, figure 6-1) --------------------------------
    //
    //  31            24 23            16 15             8 7              0
    // +----------------+----------------+----------------+----------------+
    // |           Device ID             |           Vendor ID             | 0x00
    // |            Status               |            Command              | 0x04
    // |                  Class Code                      |  Revision ID   | 0x08
    // |      BIST      |  Header Type   | Latency Timer  | Cache Line Size| 0x0C
    // |                     Base Address Registers 0..5                   | 0x10..0x24
    // |                     CardBus CIS Pointer                           | 0x28
    // |         Subsystem ID            |      Subsystem Vendor ID        | 0x2C
    // |                  Expansion ROM Base Address                       | 0x30
    // |                   Reserved                       |  Cap. Pointer  | 0x34
    // |                   Reserved                                        | 0x38
    // |    Max_Lat     |   Min_Gnt      | Interrupt Pin  | Interrupt Line | 0x3C
    // +----------------+----------------+----------------+----------------+

    static final int PCI_VENDOR_ID = 0x00;
    static final int PCI_DEVICE_ID = 0x02;
    static final int PCI_COMMAND = 0x04;
    static final int PCI_STATUS = 0x06;
    static final int PCI_REVISION_ID = 0x08;
    /** Programming interface, subclass, base class: three bytes from here. */
    static final int PCI_CLASS_PROG = 0x09;
    static final int PCI_CACHE_LINE_SIZE = 0x0c;
    static final int PCI_LATENCY_TIMER = 0x0d;
    static final int PCI_HEADER_TYPE = 0x0e;
    static final int PCI_BIST = 0x0f;
    static final int PCI_BASE_ADDRESS_0 = 0x10;
    /** One past the last BAR byte (BAR 5 ends at 0x27). */
    static final int PCI_BASE_ADDRESS_END = 0x28;
    static final int PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
    static final int PCI_SUBSYSTEM_ID = 0x2e;
    static final int PCI_ROM_ADDRESS = 0x30;
    static final int PCI_CAPABILITY_LIST = 0x34;
    static final int PCI_INTERRUPT_LINE = 0x3c;
    static final int PCI_INTERRUPT_PIN = 0x3d;
    /** The first byte after the header: where capabilities may start. */
    static final int PCI_STD_HEADER_SIZEOF = 0x40;

    // Command register bits (spec 6.2.2).
    static final int PCI_COMMAND_IO = 0x0001;
    static final int PCI_COMMAND_MEMORY = 0x0002;
    static final int PCI_COMMAND_MASTER = 0x0004;
    static final int PCI_COMMAND_PARITY = 0x0040;
    static final int PCI_COMMAND_SERR = 0x0100;
    static final int PCI_COMMAND_INTX_DISABLE = 0x0400;
    /** The bits a guest can change; the rest are hardwired to 0 for an emulated device. */
    static final int PCI_COMMAND_WRITABLE = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER
            | PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE;

    // Status register bits (spec 6.2.3).
    static final int PCI_STATUS_INTERRUPT = 0x0008;
    static final int PCI_STATUS_CAP_LIST = 0x0010;

    // Header type (spec 6.2.1).
    static final int PCI_HEADER_TYPE_NORMAL = 0x00;
    static final int PCI_HEADER_TYPE_MULTIFUNCTION = 0x80;

    // Base address register low bits (spec 6.2.5.1).
    static final int PCI_BASE_ADDRESS_SPACE_IO = 0x01;
    static final int PCI_BASE_ADDRESS_MEM_TYPE_32 = 0x00;
    static final int PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x04;
    static final int PCI_BASE_ADDRESS_MEM_PREFETCH = 0x08;
    static final int PCI_BASE_ADDRESS_IO_MASK = ~0x03;
    static final int PCI_BASE_ADDRESS_MEM_MASK = ~0x0f;

    // Expansion ROM base address (spec 6.2.5.2).
    static final int PCI_ROM_ADDRESS_ENABLE = 0x01;
    static final int PCI_ROM_ADDRESS_MASK = ~0x7ff;
    /** The smallest ROM window: bits 10:1 are reserved, so 2 KiB. */
    static final int PCI_ROM_MIN_SIZE = 0x800;
    /** The largest expansion ROM the spec allows (6.3.1). */
    static final int PCI_ROM_MAX_SIZE = 16 << 20;

    /** Interrupt Line value meaning "unknown / not connected" on x86 (spec 6.2.4 footnote). */
    static final int PCI_INTERRUPT_LINE_NONE = 0xff;

    /**
     * Not a register but platform wiring: the first IOAPIC input above the
     * 16 ISA interrupts, where the chipset wires PIRQ A (B..D follow).
     */
    static final int PIRQ_A_GSI = 16;

    // --- Capability header (spec 6.7) ----------------------------------------
    static final int PCI_CAP_LIST_ID = 0;
    static final int PCI_CAP_LIST_NEXT = 1;
    /** Bytes of ID and next pointer that precede every capability's body. */
    static final int PCI_CAP_HEADER_SIZE = 2;
    static final int PCI_CAP_ID_MSI = 0x05;
    static final int PCI_CAP_ID_MSIX = 0x11;

    // --- MSI capability (spec 6.8.1) -----------------------------------------
    //
    // +0  ID | next | Message Control
    // +4  Message Address (low; bits 1:0 reserved)
    // +8  Message Upper Address            (64-bit only)
    // +8/+C  Message Data (16 bits)
    // +C/+10 Mask Bits                     (per-vector masking only)
    // +10/+14 Pending Bits                 (per-vector masking only)
    static final int PCI_MSI_FLAGS = 2;
    static final int PCI_MSI_FLAGS_ENABLE = 0x0001;
    /** Multiple Message Capable: log2 of the vectors the function asks for. */
    static final int PCI_MSI_FLAGS_QMASK = 0x000e;
    static final int PCI_MSI_FLAGS_QMASK_SHIFT = 1;
    /** Multiple Message Enable: log2 of the vectors software granted. */
    static final int PCI_MSI_FLAGS_QSIZE = 0x0070;
    static final int PCI_MSI_FLAGS_QSIZE_SHIFT = 4;
    static final int PCI_MSI_FLAGS_64BIT = 0x0080;
    static final int PCI_MSI_FLAGS_MASKBIT = 0x0100;
    static final int PCI_MSI_ADDRESS_LO = 4;
    static final int PCI_MSI_ADDRESS_HI = 8;
    static final int PCI_MSI_DATA_32 = 8;
    static final int PCI_MSI_DATA_64 = 12;
    static final int PCI_MSI_MASK_32 = 12;
    static final int PCI_MSI_MASK_64 = 16;
    static final int PCI_MSI_PENDING_32 = 16;
    static final int PCI_MSI_PENDING_64 = 20;
    /** Message Address bits 1:0 are reserved: a message address is dword aligned. */
    static final int PCI_MSI_ADDRESS_LO_MASK = ~0x03;

    // --- MSI-X capability (spec 6.8.2) ---------------------------------------
    //
    // +0  ID | next | Message Control
    // +4  Table Offset (31:3) | Table BIR (2:0)
    // +8  PBA Offset (31:3)   | PBA BIR (2:0)
    static final int PCI_MSIX_FLAGS = 2;
    static final int PCI_MSIX_FLAGS_QSIZE = 0x07ff;
    static final int PCI_MSIX_FLAGS_MASKALL = 0x4000;
    static final int PCI_MSIX_FLAGS_ENABLE = 0x8000;
    static final int PCI_MSIX_TABLE = 4;
    static final int PCI_MSIX_PBA = 8;
    static final int PCI_CAP_MSIX_SIZEOF = 12;

    // MSI-X table entry (spec 6.8.2.6..9): four dwords per vector.
    static final int PCI_MSIX_ENTRY_SIZE = 16;
    static final int PCI_MSIX_ENTRY_LOWER_ADDR = 0;
    static final int PCI_MSIX_ENTRY_UPPER_ADDR = 4;
    static final int PCI_MSIX_ENTRY_DATA = 8;
    static final int PCI_MSIX_ENTRY_VECTOR_CTRL = 12;
    static final int PCI_MSIX_ENTRY_CTRL_MASKBIT = 0x1;
}
