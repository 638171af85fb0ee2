package vmm.vfiouser;

/**
 * The numbers of the vfio-user protocol (QEMU's docs/interop/vfio-user.rst)
 * and of {@code <linux/vfio.h>} that it reuses, named as there.
 */
public final class VfioUser {
    private VfioUser() {}

    /** Protocol version this implementation speaks: 0.1, the version QEMU and libvfio-user use. */
    public static final int VERSION_MAJOR = 0, VERSION_MINOR = 1;

    // Commands.
    public static final int VFIO_USER_VERSION = 1;
    public static final int VFIO_USER_DMA_MAP = 2;
    public static final int VFIO_USER_DMA_UNMAP = 3;
    public static final int VFIO_USER_DEVICE_GET_INFO = 4;
    public static final int VFIO_USER_DEVICE_GET_REGION_INFO = 5;
    public static final int VFIO_USER_DEVICE_GET_REGION_IO_FDS = 6;
    public static final int VFIO_USER_DEVICE_GET_IRQ_INFO = 7;
    public static final int VFIO_USER_DEVICE_SET_IRQS = 8;
    public static final int VFIO_USER_REGION_READ = 9;
    public static final int VFIO_USER_REGION_WRITE = 10;
    public static final int VFIO_USER_DMA_READ = 11;
    public static final int VFIO_USER_DMA_WRITE = 12;
    public static final int VFIO_USER_DEVICE_RESET = 13;

    // Header.
    public static final int HEADER_SIZE = 16;
    public static final int FLAGS_TYPE_MASK = 0xf, FLAGS_TYPE_COMMAND = 0, FLAGS_TYPE_REPLY = 1;
    public static final int FLAGS_NO_REPLY = 1 << 4, FLAGS_ERROR = 1 << 5;

    // VFIO_USER_DEVICE_GET_INFO flags.
    public static final int VFIO_DEVICE_FLAGS_RESET = 1 << 0, VFIO_DEVICE_FLAGS_PCI = 1 << 1;

    // PCI region indexes.
    public static final int VFIO_PCI_BAR0_REGION_INDEX = 0, VFIO_PCI_BAR5_REGION_INDEX = 5;
    public static final int VFIO_PCI_ROM_REGION_INDEX = 6, VFIO_PCI_CONFIG_REGION_INDEX = 7, VFIO_PCI_VGA_REGION_INDEX = 8;
    public static final int VFIO_PCI_NUM_REGIONS = 9;

    // Region info flags.
    public static final int VFIO_REGION_INFO_FLAG_READ = 1 << 0, VFIO_REGION_INFO_FLAG_WRITE = 1 << 1,
            VFIO_REGION_INFO_FLAG_MMAP = 1 << 2, VFIO_REGION_INFO_FLAG_CAPS = 1 << 3;

    // PCI IRQ indexes.
    public static final int VFIO_PCI_INTX_IRQ_INDEX = 0, VFIO_PCI_MSI_IRQ_INDEX = 1, VFIO_PCI_MSIX_IRQ_INDEX = 2,
            VFIO_PCI_ERR_IRQ_INDEX = 3, VFIO_PCI_REQ_IRQ_INDEX = 4;
    public static final int VFIO_PCI_NUM_IRQS = 5;

    // IRQ info flags.
    public static final int VFIO_IRQ_INFO_EVENTFD = 1 << 0, VFIO_IRQ_INFO_MASKABLE = 1 << 1,
            VFIO_IRQ_INFO_AUTOMASKED = 1 << 2, VFIO_IRQ_INFO_NORESIZE = 1 << 3;

    // SET_IRQS flags: one DATA_ and one ACTION_ bit.
    public static final int VFIO_IRQ_SET_DATA_NONE = 1 << 0, VFIO_IRQ_SET_DATA_BOOL = 1 << 1, VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2;
    public static final int VFIO_IRQ_SET_ACTION_MASK = 1 << 3, VFIO_IRQ_SET_ACTION_UNMASK = 1 << 4, VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5;
    public static final int VFIO_IRQ_SET_DATA_TYPE_MASK = 0x7, VFIO_IRQ_SET_ACTION_TYPE_MASK = 0x38;

    // DMA_MAP flags.
    public static final int VFIO_USER_F_DMA_REGION_READ = 1 << 0, VFIO_USER_F_DMA_REGION_WRITE = 1 << 1;

    // Payload sizes of the fixed structures.
    public static final int DEVICE_INFO_SIZE = 16, REGION_INFO_SIZE = 32, IRQ_INFO_SIZE = 16, IRQ_SET_SIZE = 20,
            DMA_MAP_SIZE = 32, DMA_UNMAP_SIZE = 24, REGION_ACCESS_SIZE = 16;

    /** Default of the {@code max_data_xfer_size} capability when a peer names none. */
    public static final int DEFAULT_MAX_DATA_XFER_SIZE = 1 << 20;
    /** Default of the {@code max_msg_fds} capability when a peer names none. */
    public static final int DEFAULT_MAX_MSG_FDS = 1;

    // errno values put into error replies (Linux).
    public static final int EPERM = 1, ENOENT = 2, EIO = 5, EBADF = 9, EAGAIN = 11, ENOMEM = 12, EBUSY = 16,
            EEXIST = 17, EINVAL = 22, ENOSPC = 28, ERANGE = 34, ENOSYS = 38, ENOTSUP = 95;

    /** The name of a command, for messages. */
    public static String commandName(int command) {
        return switch (command) {
            case VFIO_USER_VERSION -> "VERSION";
            case VFIO_USER_DMA_MAP -> "DMA_MAP";
            case VFIO_USER_DMA_UNMAP -> "DMA_UNMAP";
            case VFIO_USER_DEVICE_GET_INFO -> "DEVICE_GET_INFO";
            case VFIO_USER_DEVICE_GET_REGION_INFO -> "DEVICE_GET_REGION_INFO";
            case VFIO_USER_DEVICE_GET_REGION_IO_FDS -> "DEVICE_GET_REGION_IO_FDS";
            case VFIO_USER_DEVICE_GET_IRQ_INFO -> "DEVICE_GET_IRQ_INFO";
            case VFIO_USER_DEVICE_SET_IRQS -> "DEVICE_SET_IRQS";
            case VFIO_USER_REGION_READ -> "REGION_READ";
            case VFIO_USER_REGION_WRITE -> "REGION_WRITE";
            case VFIO_USER_DMA_READ -> "DMA_READ";
            case VFIO_USER_DMA_WRITE -> "DMA_WRITE";
            case VFIO_USER_DEVICE_RESET -> "DEVICE_RESET";
            default -> "command " + command;
        };
    }
}
