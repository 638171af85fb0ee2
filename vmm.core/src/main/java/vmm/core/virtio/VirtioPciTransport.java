package vmm.core.virtio;

import static vmm.core.virtio.VirtioFeatures.NO_VECTOR;
import static vmm.core.virtio.VirtioFeatures.STATUS_DEVICE_NEEDS_RESET;
import static vmm.core.virtio.VirtioFeatures.STATUS_DRIVER_OK;
import static vmm.core.virtio.VirtioFeatures.STATUS_FEATURES_OK;
import static vmm.core.virtio.VirtioFeatures.bit;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;
import java.util.function.IntToLongFunction;
import java.util.function.Supplier;

import vmm.core.device.SwapGate;
import vmm.core.hypervisor.AddressSpace;
import vmm.core.hypervisor.Binding;
import vmm.core.hypervisor.EventFd;
import vmm.core.hypervisor.GsiPool;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.irq.MsiMessage;
import vmm.core.memory.GuestMemory;
import vmm.core.pci.BarHandler;
import vmm.core.pci.BarSpec;
import vmm.core.pci.Capability;
import vmm.core.pci.CapabilityHandler;
import vmm.core.pci.MsiXSpec;
import vmm.core.pci.PciAddress;
import vmm.core.pci.PciBus;
import vmm.core.pci.PciFunction;
import vmm.core.pci.PciFunctionSpec;

/**
 * The virtio-pci transport (virtio 1.2 section 4.1): one PCI function that
 * carries a {@link VirtioDevice} to the guest. It owns everything that is
 * not device-specific: PCI identity and capabilities, the common
 * configuration (feature negotiation, device status, queue setup), the
 * notify and ISR regions, MSI-X and INTx interrupts, and optionally the
 * legacy I/O BAR of a transitional device (4.1.4.10).
 *
 * <p>Layout: BAR1 (32-bit memory, 4 KiB) holds the MSI-X table at 0 and its
 * PBA at 0x800, both emulated by the {@link PciBus}; BAR4 (64-bit
 * prefetchable memory, 16 KiB) holds common configuration at 0x0000, ISR at
 * 0x1000, device configuration at 0x2000 and notifications at 0x3000
 * (queue {@code q} at {@code 0x3000 + 4q}); BAR0 (I/O) holds the legacy
 * registers when enabled.
 *
 * <p>Guest errors (a malformed chain, a bad queue setup, a notify for a queue
 * that is not there, a {@link VirtioContext#deviceError}) set
 * DEVICE_NEEDS_RESET, record {@link #lastError()}, send a configuration
 * interrupt once DRIVER_OK is set, and leave the device alone (no
 * notifications, no activation) until the driver resets it. Nothing a guest
 * does makes a bus access throw.
 *
 * <p>Threading: bus accesses arrive on vCPU threads, interrupts on device
 * threads. Every call into the device model passes the {@link SwapGate}
 * (an access that times out there reads all ones and its writes are
 * dropped); {@code activate} and {@code reset} additionally exclude
 * {@code queueNotify}, and notifications of one queue are delivered by one
 * thread at a time (a notify that arrives while another is being delivered
 * is folded into it). No lock of the transport is held while device code
 * runs.
 *
 * <p>Kernel bindings ({@link #useHypervisor}): while a device that implements
 * {@link KernelNotified} is active, each of its queues that has an eventfd gets
 * its notify address (BAR4 + 0x3000 + 4q, 2 bytes, as drivers write it) bound
 * to that eventfd by KVM ioeventfd, and each MSI-X vector an enabled queue
 * uses, while deliverable, an irqfd on a GSI routed to the vector's message.
 * The bindings follow the guest: a BAR move, a reset, DEVICE_NEEDS_RESET, a
 * legacy queue disable, a queue vector change and every MSI-X table or
 * control change re-sync them. A masked vector has no irqfd: its interrupts
 * take the bus's path, which sets the pending bit (PCI 6.8.2.9), and
 * unmasking delivers it there and binds the irqfd again. Another device in
 * place (a swap) gets the plain path back.
 */
public final class VirtioPciTransport {
    private static final System.Logger LOG = System.getLogger("vmm.virtio");

    /** PCI vendor ID of every virtio device (Red Hat, Inc.). */
    public static final int VIRTIO_PCI_VENDOR_ID = 0x1af4;
    /** PCI device ID of a modern-only device is this plus the virtio device ID. */
    public static final int VIRTIO_PCI_MODERN_DEVICE_ID_BASE = 0x1040;
    /** Capability ID of the vendor-specific capabilities that describe virtio structures. */
    public static final int PCI_CAP_ID_VNDR = 0x09;

    /** cfg_type of the capabilities, section 4.1.4. */
    public static final int VIRTIO_PCI_CAP_COMMON_CFG = 1, VIRTIO_PCI_CAP_NOTIFY_CFG = 2, VIRTIO_PCI_CAP_ISR_CFG = 3,
            VIRTIO_PCI_CAP_DEVICE_CFG = 4, VIRTIO_PCI_CAP_PCI_CFG = 5;

    /** Offsets inside a virtio capability (struct virtio_pci_cap), from its first byte. */
    public static final int VIRTIO_PCI_CAP_LEN = 2, VIRTIO_PCI_CAP_CFG_TYPE = 3, VIRTIO_PCI_CAP_BAR = 4,
            VIRTIO_PCI_CAP_ID = 5, VIRTIO_PCI_CAP_OFFSET = 8, VIRTIO_PCI_CAP_LENGTH = 12,
            VIRTIO_PCI_NOTIFY_CAP_MULT = 16, VIRTIO_PCI_CFG_DATA = 16;

    /** Common configuration registers (struct virtio_pci_common_cfg), section 4.1.4.3. */
    public static final int VIRTIO_PCI_COMMON_DFSELECT = 0, VIRTIO_PCI_COMMON_DF = 4, VIRTIO_PCI_COMMON_GFSELECT = 8,
            VIRTIO_PCI_COMMON_GF = 12, VIRTIO_PCI_COMMON_MSIX = 16, VIRTIO_PCI_COMMON_NUMQ = 18,
            VIRTIO_PCI_COMMON_STATUS = 20, VIRTIO_PCI_COMMON_CFGGENERATION = 21, VIRTIO_PCI_COMMON_Q_SELECT = 22,
            VIRTIO_PCI_COMMON_Q_SIZE = 24, VIRTIO_PCI_COMMON_Q_MSIX = 26, VIRTIO_PCI_COMMON_Q_ENABLE = 28,
            VIRTIO_PCI_COMMON_Q_NOFF = 30, VIRTIO_PCI_COMMON_Q_DESCLO = 32, VIRTIO_PCI_COMMON_Q_AVAILLO = 40,
            VIRTIO_PCI_COMMON_Q_USEDLO = 48;
    /** Bytes of the common configuration structure this transport implements. */
    public static final int VIRTIO_PCI_COMMON_CFG_LENGTH = 56;

    /** Legacy I/O registers, section 4.1.4.10 (little-endian on this platform). */
    public static final int VIRTIO_PCI_HOST_FEATURES = 0, VIRTIO_PCI_GUEST_FEATURES = 4, VIRTIO_PCI_QUEUE_PFN = 8,
            VIRTIO_PCI_QUEUE_NUM = 12, VIRTIO_PCI_QUEUE_SEL = 14, VIRTIO_PCI_QUEUE_NOTIFY = 16, VIRTIO_PCI_STATUS = 18,
            VIRTIO_PCI_ISR = 19, VIRTIO_MSI_CONFIG_VECTOR = 20, VIRTIO_MSI_QUEUE_VECTOR = 22;
    /** Where legacy device configuration starts without and with MSI-X enabled. */
    public static final int VIRTIO_PCI_CONFIG_OFF_NO_MSIX = 20, VIRTIO_PCI_CONFIG_OFF_MSIX = 24;
    /** A legacy queue PFN is the ring's guest address shifted right by this. */
    public static final int VIRTIO_PCI_QUEUE_ADDR_SHIFT = 12;
    /** Alignment of the used ring in the legacy queue layout. */
    public static final int VIRTIO_PCI_VRING_ALIGN = 4096;

    /** ISR status bits, section 4.1.4.5. */
    public static final int VIRTIO_PCI_ISR_QUEUE = 1, VIRTIO_PCI_ISR_CONFIG = 2;

    /** Which BAR holds what: the legacy registers (I/O), the MSI-X table and PBA, the modern virtio structures. */
    public static final int LEGACY_BAR = 0, MSIX_BAR = 1, MODERN_BAR = 4;
    /** Size of BAR1 and where the MSI-X table and PBA lie in it. */
    public static final long MSIX_BAR_SIZE = 0x1000, MSIX_TABLE_OFFSET = 0, MSIX_PBA_OFFSET = 0x800;
    /** Size of BAR4 and where each virtio structure lies in it (one 4 KiB page each). */
    public static final long MODERN_BAR_SIZE = 0x4000, COMMON_CFG_OFFSET = 0, ISR_CFG_OFFSET = 0x1000,
            DEVICE_CFG_OFFSET = 0x2000, NOTIFY_CFG_OFFSET = 0x3000;
    /** Bytes between the notify addresses of consecutive queues. */
    public static final int NOTIFY_OFF_MULTIPLIER = 4;

    /** MSI-X vectors the table can hold before the PBA at 0x800. */
    public static final int MAX_MSIX_VECTORS = (int) ((MSIX_PBA_OFFSET - MSIX_TABLE_OFFSET) / 16);
    /** Queues the 4 KiB notify region can address. */
    public static final int MAX_QUEUES = (int) ((MODERN_BAR_SIZE - NOTIFY_CFG_OFFSET) / NOTIFY_OFF_MULTIPLIER);
    /** Bytes of device configuration the 4 KiB device region can hold. */
    public static final int MAX_CONFIG_SIZE = (int) (NOTIFY_CFG_OFFSET - DEVICE_CFG_OFFSET);

    /** Virtio device IDs that have a transitional PCI device ID (section 4.1.2.3). */
    private static final int VIRTIO_ID_NET = 1, VIRTIO_ID_BLOCK = 2, VIRTIO_ID_CONSOLE = 3, VIRTIO_ID_RNG = 4;

    /**
     * Feature bits the transport may pass through from the device: the
     * device-specific ranges 0..23 and 50..63, and the reserved bits that
     * need nothing of the transport (ANY_LAYOUT, the two ring features this
     * library implements, IN_ORDER and ORDER_PLATFORM, which constrain only
     * the device). Bits such as ACCESS_PLATFORM, RING_PACKED,
     * NOTIFICATION_DATA or RING_RESET would need transport support and are
     * never offered.
     */
    static final long PASS_THROUGH_FEATURES = (bit(24) - 1) | (-1L << 50) | bit(27)
            | bit(VirtioFeatures.RING_INDIRECT_DESC) | bit(VirtioFeatures.RING_EVENT_IDX) | bit(35) | bit(36);

    /** Registers of the common configuration: {offset, size}. */
    private static final int[][] COMMON_FIELDS = {{0, 4}, {4, 4}, {8, 4}, {12, 4}, {16, 2}, {18, 2}, {20, 1}, {21, 1},
            {22, 2}, {24, 2}, {26, 2}, {28, 2}, {30, 2}, {32, 8}, {40, 8}, {48, 8}};
    private static final int[][] LEGACY_FIELDS = {{0, 4}, {4, 4}, {8, 4}, {12, 2}, {14, 2}, {16, 2}, {18, 1}, {19, 1}};
    private static final int[][] LEGACY_MSIX_FIELDS = {{0, 4}, {4, 4}, {8, 4}, {12, 2}, {14, 2}, {16, 2}, {18, 1},
            {19, 1}, {20, 2}, {22, 2}};

    /** Length of the PCI_CFG capability: struct virtio_pci_cap plus pci_cfg_data[4]. */
    private static final int PCI_CFG_CAP_LENGTH = 20;

    /**
     * How the transport presents itself.
     *
     * @param owner       names the device in bus listings and log messages
     * @param legacyIoBar make a transitional device with the legacy I/O BAR
     *                    (only net, block, console and entropy devices have one)
     * @param msixVectors MSI-X table size, 1..{@value #MAX_MSIX_VECTORS}, or 0
     *                    for one per queue plus one for configuration changes
     * @param optionRom   the image the expansion ROM BAR decodes (firmware runs it
     *                    at boot, for example iPXE for a network device), or null for no ROM BAR
     */
    public record Options(String owner, boolean legacyIoBar, int msixVectors, byte[] optionRom) {
        /** Checks the owner is named and the vector count fits the MSI-X table. */
        public Options {
            Objects.requireNonNull(owner, "owner");
            if (msixVectors < 0 || msixVectors > MAX_MSIX_VECTORS)
                throw new IllegalArgumentException("MSI-X vectors must be 0 (automatic) or 1.." + MAX_MSIX_VECTORS + ", was " + msixVectors);
        }

        /** Without an option ROM. */
        public Options(String owner, boolean legacyIoBar, int msixVectors) {
            this(owner, legacyIoBar, msixVectors, null);
        }

        /** A modern-only device with automatic MSI-X sizing. */
        public static Options modern(String owner) {
            return new Options(owner, false, 0);
        }
    }

    private final PciAddress address;
    private final Supplier<GuestMemory> memorySource;
    /** The memory of this driver session (see the Supplier constructor); null after reset until first needed. */
    private GuestMemory sessionMemory;
    private final SwapGate gate;
    private volatile vmm.core.device.DeviceCounters counters;
    private final String owner;
    private final boolean legacy;
    private final byte[] optionRom;
    private final int deviceType, queueCount, configSize, msixVectors;
    private final PciFunction function;
    private volatile VirtioDevice device;

    /** Readers: queueNotify, config accesses. Writer: activate and reset, which must not overlap a notify. */
    private final ReentrantReadWriteLock deviceLock = new ReentrantReadWriteLock();
    /** Guards the registers below; never held while device code runs. */
    private final Object lock = new Object();

    private long offered;
    private final int[] maxQueueSize;
    private final QueueSlot[] queues;
    private int status;
    private long driverFeatures;
    private int deviceFeatureSelect, driverFeatureSelect;
    private int configVector = NO_VECTOR;
    private int configGeneration;
    private int queueSelect;
    private int isr;
    private Context context;
    private String lastError;
    /** The driver's view of the PCI_CFG capability (bar, offset, length, data); see {@link PciCfgWindow}. */
    private final byte[] pciCfg = new byte[PCI_CFG_CAP_LENGTH];

    // Kernel bindings; all guarded by lock. vm is null on a machine without a hypervisor.
    private VirtualMachine vm;
    private GsiPool gsis;
    private boolean detached;
    /** Per queue, the eventfd the device in place waits on (null: plain path); null while the device has none. */
    private EventFd[] consumerFds;
    private final Binding[] notifyBindings;
    private final long[] notifyBoundAt;
    private final EventFd[] notifyBoundFd;
    private final VectorRoute[] vectorRoutes;
    /** Per queue: notifications that came through the bus, that is through a vCPU exit. */
    private final AtomicLongArray busNotifies;
    private final AtomicLong irqfdInterrupts = new AtomicLong();
    private boolean bindFailureLogged;

    /** One MSI-X vector's irqfd: its eventfd and GSI (kept once made), the message routed, the binding while deliverable. */
    private static final class VectorRoute {
        final EventFd fd;
        final int gsi;
        MsiMessage routed;
        Binding irqfd;

        VectorRoute(EventFd fd, int gsi) {
            this.fd = fd;
            this.gsi = gsi;
        }
    }

    /** One queue's registers, as the driver programmed them, and its VirtQueue once enabled. */
    private static final class QueueSlot {
        final int index;
        int size, vector = NO_VECTOR;
        boolean enabled;
        long desc, driver, device;
        VirtQueue queue;
        /** Notifies not yet delivered; see {@link VirtioPciTransport#deliverNotify}. */
        final AtomicInteger kicks = new AtomicInteger();

        QueueSlot(int index, int maxSize) {
            this.index = index;
            this.size = maxSize;
        }

        void reset(int maxSize) {
            size = maxSize;
            vector = NO_VECTOR;
            enabled = false;
            desc = driver = device = 0;
            queue = null;
        }
    }

    /**
     * Attaches a virtio-pci function for {@code device} at {@code address}.
     * The device must be started; it is activated when the driver sets
     * DRIVER_OK.
     *
     * @throws IllegalArgumentException when the device's shape does not fit the transport (no queues, more
     *                                  than {@value #MAX_QUEUES} queues, queue sizes not powers of two up to
     *                                  32768, config space over {@value #MAX_CONFIG_SIZE} bytes, more MSI-X
     *                                  vectors than the table holds) or a legacy BAR is asked for a device
     *                                  type that has no transitional ID
     * @throws IllegalStateException    when {@code address} is taken
     */
    public VirtioPciTransport(PciBus bus, PciAddress address, GuestMemory memory, VirtioDevice device, Options options,
                              SwapGate gate) {
        this(bus, address, constant(Objects.requireNonNull(memory, "memory")), device, options, gate);
    }

    private static Supplier<GuestMemory> constant(GuestMemory memory) {
        return () -> memory;
    }

    /**
     * Like {@link #VirtioPciTransport(PciBus, PciAddress, GuestMemory, VirtioDevice, Options, SwapGate)}
     * for memory that changes while the function exists (a vfio-user
     * client's DMA maps): {@code memory} is asked once per driver session,
     * when the first queue is enabled or at DRIVER_OK, and that memory
     * serves the queues and the device's context until the driver resets
     * the device. It is called with the transport's lock held and must not
     * call back into the transport or return null.
     *
     * @since 1.1
     */
    public VirtioPciTransport(PciBus bus, PciAddress address, Supplier<GuestMemory> memory, VirtioDevice device,
                              Options options, SwapGate gate) {
        Objects.requireNonNull(bus, "bus");
        this.address = Objects.requireNonNull(address, "address");
        this.memorySource = Objects.requireNonNull(memory, "memory");
        this.device = Objects.requireNonNull(device, "device");
        this.gate = Objects.requireNonNull(gate, "gate");
        this.owner = Objects.requireNonNull(options, "options").owner();
        this.legacy = options.legacyIoBar();
        this.optionRom = options.optionRom();
        this.deviceType = device.deviceId();
        this.queueCount = device.queueCount();
        this.configSize = device.configSize();
        if (deviceType < 1 || deviceType > 0xffff - VIRTIO_PCI_MODERN_DEVICE_ID_BASE)
            throw new IllegalArgumentException(owner + ": virtio device ID " + deviceType + " out of range");
        if (queueCount < 1 || queueCount > MAX_QUEUES)
            throw new IllegalArgumentException(owner + ": a virtio-pci device has 1.." + MAX_QUEUES + " queues, not " + queueCount);
        if (configSize < 0 || configSize > MAX_CONFIG_SIZE)
            throw new IllegalArgumentException(owner + ": device config of " + configSize + " bytes exceeds " + MAX_CONFIG_SIZE);
        this.msixVectors = options.msixVectors() == 0 ? queueCount + 1 : options.msixVectors();
        if (msixVectors > MAX_MSIX_VECTORS)
            throw new IllegalArgumentException(owner + ": " + queueCount + " queues need " + msixVectors
                    + " MSI-X vectors, more than the " + MAX_MSIX_VECTORS + " the table holds; set msixVectors");
        this.maxQueueSize = maxQueueSizes(device);
        this.queues = new QueueSlot[queueCount];
        for (int q = 0; q < queueCount; q++) queues[q] = new QueueSlot(q, maxQueueSize[q]);
        this.notifyBindings = new Binding[queueCount];
        this.notifyBoundAt = new long[queueCount];
        this.notifyBoundFd = new EventFd[queueCount];
        this.busNotifies = new AtomicLongArray(queueCount);
        this.vectorRoutes = new VectorRoute[msixVectors];
        this.offered = offeredFeatures(device.deviceFeatures());
        pciCfg[0] = (byte) PCI_CAP_ID_VNDR;
        pciCfg[VIRTIO_PCI_CAP_LEN] = PCI_CFG_CAP_LENGTH;
        pciCfg[VIRTIO_PCI_CAP_CFG_TYPE] = VIRTIO_PCI_CAP_PCI_CFG;
        this.function = bus.attach(owner, address, spec(), new Bars());
    }

    private int[] maxQueueSizes(VirtioDevice d) {
        int[] max = new int[queueCount];
        for (int q = 0; q < queueCount; q++) {
            max[q] = d.maxQueueSize(q);
            if (max[q] < 1 || max[q] > VirtQueue.MAX_SIZE || Integer.bitCount(max[q]) != 1)
                throw new IllegalArgumentException(owner + ": queue " + q + " maximum size " + max[q]
                        + " is not a power of two in 1.." + VirtQueue.MAX_SIZE);
        }
        return max;
    }

    private static long offeredFeatures(long deviceFeatures) {
        return deviceFeatures & PASS_THROUGH_FEATURES | bit(VirtioFeatures.VERSION_1);
    }

    // --- PCI identity -----------------------------------------------------------

    private PciFunctionSpec spec() {
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
        if (legacy) b.bar(BarSpec.io(LEGACY_BAR, legacyBarSize()));
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
        b.capability(new Capability(PCI_CAP_ID_VNDR, pciCfgBody, new PciCfgWindow()));
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
                    + " has no transitional PCI device ID; a legacy I/O BAR is only possible for net, block, console and entropy devices");
        };
    }

    private int legacyBarSize() {
        int need = VIRTIO_PCI_CONFIG_OFF_MSIX + configSize;
        int size = Math.max(32, Integer.highestOneBit(need - 1) << 1);
        if (size > 256)
            throw new IllegalArgumentException(owner + ": " + configSize + " bytes of device config do not fit a legacy I/O BAR");
        return size;
    }

    // --- Public state ---------------------------------------------------------------

    /** The PCI function this transport attached; for the core's bookkeeping. */
    public PciFunction function() {
        return function;
    }

    /** The device model now behind the transport. Any thread. */
    public VirtioDevice device() {
        return device;
    }

    /** The device status register as the driver reads it, DEVICE_NEEDS_RESET included. Any thread. */
    public int status() {
        synchronized (lock) {
            return status;
        }
    }

    /** Why the device last entered DEVICE_NEEDS_RESET, or null if it never did; kept across resets. */
    public String lastError() {
        synchronized (lock) {
            return lastError;
        }
    }

    /** The context the active device was given at DRIVER_OK, or null while the device is not active. */
    public VirtioContext context() {
        synchronized (lock) {
            return context;
        }
    }

    /**
     * Installs {@code next} as the device model (hot swap). Called by the
     * core with the gate closed, after the previous model was paused and
     * stopped. If the driver has the device running (DRIVER_OK, not
     * NEEDS_RESET), {@code next} is activated directly with the same
     * context, so it sees the same queues at the same ring positions; call
     * {@link #kickEnabledQueues()} once the gate is open again.
     *
     * @throws IllegalArgumentException when {@code next} differs in device ID, queue count or config size,
     *                                  or cannot hold a queue the driver enabled
     */
    public void replaceDevice(VirtioDevice next) {
        Objects.requireNonNull(next, "next");
        if (next.deviceId() != deviceType || next.queueCount() != queueCount || next.configSize() != configSize)
            throw new IllegalArgumentException(owner + ": a replacement must have device ID " + deviceType + ", "
                    + queueCount + " queues and " + configSize + " bytes of config space");
        int[] max = maxQueueSizes(next);
        EventFd[] fds = consumerFdsOf(next);
        Context active;
        synchronized (lock) {
            for (QueueSlot s : queues)
                if (s.enabled && s.size > max[s.index])
                    throw new IllegalArgumentException(owner + ": the replacement's queue " + s.index
                            + " holds at most " + max[s.index] + " entries, the driver enabled " + s.size);
            device = next;
            System.arraycopy(max, 0, maxQueueSize, 0, queueCount);
            offered = offeredFeatures(next.deviceFeatures());
            active = (status & STATUS_DRIVER_OK) != 0 && (status & STATUS_DEVICE_NEEDS_RESET) == 0 ? context : null;
            consumerFds = null;
            syncKernelLocked();
        }
        if (active != null) {
            try {
                next.activate(active);
            } catch (RuntimeException e) {
                deviceFailed("activate after a swap", e);
            }
        }
        synchronized (lock) {
            consumerFds = fds;
            syncKernelLocked();
        }
    }

    // --- Kernel bindings (ioeventfd, irqfd) -------------------------------------------

    /**
     * Lets the transport bind notify addresses and interrupts inside {@code vm}
     * (see the class comment); the machine calls it once, right after
     * attaching, when it runs on a hypervisor with an in-kernel irqchip.
     *
     * @throws IllegalStateException when called twice
     */
    public void useHypervisor(VirtualMachine vm, GsiPool gsis) {
        Objects.requireNonNull(vm, "vm");
        Objects.requireNonNull(gsis, "gsis");
        EventFd[] fds = consumerFdsOf(device);
        synchronized (lock) {
            if (this.vm != null) throw new IllegalStateException(owner + ": already bound to a hypervisor");
            this.vm = vm;
            this.gsis = gsis;
            this.consumerFds = fds;
            syncKernelLocked();
        }
        function.addChangeListener(this::syncKernel);
    }

    /**
     * Removes the ioeventfd and irqfd bindings of the device in place, which
     * is about to be stopped (its eventfds closed); until the next device is
     * installed, notifications come through the bus and interrupts through
     * the bus's MSI-X path. The core calls it before stopping a device; kicks
     * that reached the old eventfds are covered by {@link #kickEnabledQueues()}.
     */
    public void releaseKernelBindings() {
        synchronized (lock) {
            consumerFds = null;
            syncKernelLocked();
        }
    }

    /** Where queue {@code q}'s notify address is bound to the device's eventfd, or -1 when its notifications come through the bus. */
    public long kernelNotifyAddress(int q) {
        synchronized (lock) {
            return q >= 0 && q < queueCount && notifyBindings[q] != null ? notifyBoundAt[q] : -1;
        }
    }

    /** The GSI whose irqfd now carries MSI-X vector {@code v}'s queue interrupts, or -1 when none does. */
    public int irqfdGsi(int v) {
        synchronized (lock) {
            return v >= 0 && v < msixVectors && vectorRoutes[v] != null && vectorRoutes[v].irqfd != null ? vectorRoutes[v].gsi : -1;
        }
    }

    /** Notifications of queue {@code q} that reached the transport through the bus (each a vCPU exit), since attach. */
    public long busNotifies(int q) {
        return q >= 0 && q < queueCount ? busNotifies.get(q) : 0;
    }

    /**
     * Queue interrupts the transport sent by signalling an irqfd, since attach;
     * each is counted before its eventfd is signalled, so a thread that saw the
     * interrupt delivered finds it counted.
     */
    public long irqfdInterrupts() {
        return irqfdInterrupts.get();
    }

    private EventFd[] consumerFdsOf(VirtioDevice d) {
        if (!(d instanceof KernelNotified k)) return null;
        EventFd[] fds = new EventFd[queueCount];
        boolean any = false;
        for (int q = 0; q < queueCount; q++) {
            fds[q] = k.notifyEventFd(q);
            any |= fds[q] != null;
        }
        return any ? fds : null;
    }

    private void syncKernel() {
        synchronized (lock) {
            syncKernelLocked();
        }
    }

    /**
     * Brings ioeventfd and irqfd bindings in line with the registers: bound
     * only while a consuming device is active and not in DEVICE_NEEDS_RESET,
     * at the BAR's present address, for enabled queues, with irqfds for the
     * deliverable vectors of those queues. A binding the host refuses leaves
     * that queue or vector on the user-space path, which always works.
     */
    private void syncKernelLocked() {
        if (vm == null) return;
        boolean on = !detached && consumerFds != null && context != null && (status & STATUS_DEVICE_NEEDS_RESET) == 0;
        long bar = on ? function.barAddress(MODERN_BAR) : -1;
        boolean[] vectorUsed = new boolean[msixVectors];
        for (QueueSlot s : queues) {
            int q = s.index;
            EventFd want = on && bar >= 0 && s.queue != null ? consumerFds[q] : null;
            long at = want == null ? -1 : bar + NOTIFY_CFG_OFFSET + (long) NOTIFY_OFF_MULTIPLIER * q;
            if (notifyBindings[q] != null && (notifyBoundAt[q] != at || notifyBoundFd[q] != want)) {
                unbind(notifyBindings[q]);
                notifyBindings[q] = null;
                notifyBoundFd[q] = null;
                notifyBoundAt[q] = -1;
            }
            if (want != null && notifyBindings[q] == null) {
                try {
                    notifyBindings[q] = vm.bindIoEvent(want, AddressSpace.MMIO, at, 2, OptionalLong.empty());
                    notifyBoundAt[q] = at;
                    notifyBoundFd[q] = want;
                } catch (RuntimeException e) {
                    bindFailedLocked("ioeventfd for queue " + q + String.format(" at 0x%x", at), e);
                }
            }
            if (on && s.queue != null && s.vector != NO_VECTOR && s.vector < msixVectors) vectorUsed[s.vector] = true;
        }
        for (int v = 0; v < msixVectors; v++) {
            MsiMessage msg = vectorUsed[v] ? function.msixMessage(v) : null;
            VectorRoute r = vectorRoutes[v];
            if (msg == null) {
                if (r != null && r.irqfd != null) {
                    unbind(r.irqfd);
                    r.irqfd = null;
                }
                continue;
            }
            try {
                if (r == null) {
                    int gsi = gsis.allocate();
                    try {
                        r = vectorRoutes[v] = new VectorRoute(vm.createEventFd(), gsi);
                    } catch (RuntimeException e) {
                        gsis.free(gsi);
                        throw e;
                    }
                }
                if (!msg.equals(r.routed)) {
                    vm.routeMsi(r.gsi, msg);
                    r.routed = msg;
                }
                if (r.irqfd == null) r.irqfd = vm.bindIrqFd(r.fd, r.gsi);
            } catch (RuntimeException e) {
                bindFailedLocked("irqfd for MSI-X vector " + v, e);
            }
        }
    }

    /**
     * Closes a binding; a VM already destroyed (a machine closing tears the
     * VM down before its devices) took its bindings with it, so a refusal
     * then is only logged.
     */
    private void unbind(Binding b) {
        try {
            b.close();
        } catch (RuntimeException e) {
            LOG.log(Level.DEBUG, "{0}: {1} could not be removed (the VM is gone?): {2}", owner, b, e.getMessage());
        }
    }

    private void bindFailedLocked(String what, RuntimeException e) {
        if (bindFailureLogged) return;
        bindFailureLogged = true;
        LOG.log(Level.WARNING, "{0}: the host refused the {1}; it stays on the user-space path: {2}", owner, what, e.getMessage());
    }

    /**
     * Delivers a notification for every enabled queue of the active device,
     * so work the driver offered while the gate was closed is picked up.
     * Called by the core after a swap, with the gate open; does nothing
     * while the device is not active.
     */
    public void kickEnabledQueues() {
        List<QueueSlot> live = new ArrayList<>();
        synchronized (lock) {
            if (context == null || (status & STATUS_DEVICE_NEEDS_RESET) != 0) return;
            for (QueueSlot s : queues) if (s.queue != null) live.add(s);
        }
        if (!gate.enter()) return;
        try {
            deviceLock.readLock().lock();
            try {
                for (QueueSlot s : live) deliverNotify(s);
            } finally {
                deviceLock.readLock().unlock();
            }
        } finally {
            gate.exit();
        }
    }

    /** Removes the function from the PCI bus; the device model is left to its owner. Idempotent. */
    public void detach() {
        function.detach();
        synchronized (lock) {
            if (detached) return;
            detached = true;
            syncKernelLocked();
            for (int v = 0; v < msixVectors; v++) {
                VectorRoute r = vectorRoutes[v];
                if (r == null) continue;
                try {
                    r.fd.close();
                } catch (RuntimeException e) {
                    LOG.log(Level.DEBUG, "{0}: closing {1}: {2}", owner, r.fd, e.getMessage());
                }
                gsis.free(r.gsi);
                vectorRoutes[v] = null;
            }
        }
    }

    @Override
    public String toString() {
        return "virtio-pci " + owner + " at " + address;
    }

    // --- BAR dispatch ---------------------------------------------------------------

    /** The BARs as the bus sees them; guards every access so that nothing escapes to the vCPU. */
    private final class Bars implements BarHandler {
        @Override
        public long readBar(int bar, long offset, int size) {
            try {
                return barRead(bar, offset, size);
            } catch (RuntimeException e) {
                LOG.log(Level.ERROR, () -> String.format("%s: read of BAR%d at 0x%x failed", owner, bar, offset), e);
                return ones(size);
            }
        }

        @Override
        public void writeBar(int bar, long offset, int size, long value) {
            try {
                barWrite(bar, offset, size, value);
            } catch (RuntimeException e) {
                LOG.log(Level.ERROR, () -> String.format("%s: write of BAR%d at 0x%x failed", owner, bar, offset), e);
            }
        }
    }

    private long barRead(int bar, long offset, int size) {
        if (bar == MODERN_BAR) {
            if (offset < ISR_CFG_OFFSET) return commonRead((int) offset, size);
            if (offset < DEVICE_CFG_OFFSET) return offset == ISR_CFG_OFFSET ? readIsr() : 0;
            if (offset < NOTIFY_CFG_OFFSET) return deviceConfigRead((int) (offset - DEVICE_CFG_OFFSET), size);
            return 0; // the notify region is write-only
        }
        if (bar == LEGACY_BAR && legacy) return legacyRead((int) offset, size);
        return 0;
    }

    private void barWrite(int bar, long offset, int size, long value) {
        if (bar == MODERN_BAR) {
            if (offset < ISR_CFG_OFFSET) commonWrite((int) offset, size, value);
            else if (offset >= NOTIFY_CFG_OFFSET) notifyQueue((int) ((offset - NOTIFY_CFG_OFFSET) / NOTIFY_OFF_MULTIPLIER));
            else if (offset >= DEVICE_CFG_OFFSET) deviceConfigWrite((int) (offset - DEVICE_CFG_OFFSET), size, value);
            // ISR is read-only
        } else if (bar == LEGACY_BAR && legacy) {
            legacyWrite((int) offset, size, value);
        }
    }

    // --- Common configuration (4.1.4.3) -----------------------------------------

    private long commonRead(int off, int size) {
        synchronized (lock) {
            return composeRead(COMMON_FIELDS, off, size, this::commonFieldLocked);
        }
    }

    private long commonFieldLocked(int field) {
        QueueSlot s = selected();
        return switch (field) {
            case VIRTIO_PCI_COMMON_DFSELECT -> Integer.toUnsignedLong(deviceFeatureSelect);
            case VIRTIO_PCI_COMMON_DF -> featureWindow(offered, deviceFeatureSelect);
            case VIRTIO_PCI_COMMON_GFSELECT -> Integer.toUnsignedLong(driverFeatureSelect);
            case VIRTIO_PCI_COMMON_GF -> featureWindow(driverFeatures, driverFeatureSelect);
            case VIRTIO_PCI_COMMON_MSIX -> configVector;
            case VIRTIO_PCI_COMMON_NUMQ -> queueCount;
            case VIRTIO_PCI_COMMON_STATUS -> status;
            case VIRTIO_PCI_COMMON_CFGGENERATION -> configGeneration;
            case VIRTIO_PCI_COMMON_Q_SELECT -> queueSelect;
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

    private void commonWrite(int off, int size, long value) {
        for (int[] f : COMMON_FIELDS) {
            long[] mb = fieldBits(f, off, size, value);
            if (mb == null) continue;
            if (f[0] == VIRTIO_PCI_COMMON_STATUS) {
                writeStatus((int) mb[1], false);
            } else {
                synchronized (lock) {
                    commonFieldWriteLocked(f[0], mb[0], mb[1]);
                }
            }
        }
    }

    private void commonFieldWriteLocked(int field, long mask, long bits) {
        QueueSlot s = selected();
        switch (field) {
            case VIRTIO_PCI_COMMON_DFSELECT -> deviceFeatureSelect = (int) merge(deviceFeatureSelect, mask, bits);
            case VIRTIO_PCI_COMMON_GFSELECT -> driverFeatureSelect = (int) merge(driverFeatureSelect, mask, bits);
            case VIRTIO_PCI_COMMON_GF -> {
                // Once FEATURES_OK has stuck the negotiated set is final (3.1.1 step 5).
                if ((status & STATUS_FEATURES_OK) != 0 || driverFeatureSelect < 0 || driverFeatureSelect > 1) return;
                int shift = 32 * driverFeatureSelect;
                long half = merge(featureWindow(driverFeatures, driverFeatureSelect), mask, bits);
                driverFeatures = driverFeatures & ~(0xffff_ffffL << shift) | half << shift;
            }
            case VIRTIO_PCI_COMMON_MSIX -> configVector = vectorOrNone(merge(configVector, mask, bits));
            case VIRTIO_PCI_COMMON_Q_SELECT -> queueSelect = (int) merge(queueSelect, mask, bits);
            case VIRTIO_PCI_COMMON_Q_SIZE -> {
                if (s != null && !s.enabled) s.size = (int) merge(s.size, mask, bits);
            }
            case VIRTIO_PCI_COMMON_Q_MSIX -> {
                if (s != null) s.vector = vectorOrNone(merge(s.vector, mask, bits));
                syncKernelLocked();
            }
            case VIRTIO_PCI_COMMON_Q_ENABLE -> {
                // Writing 0 is not how a driver disables a queue (that is a reset), so it is ignored.
                if (s != null && !s.enabled && merge(0, mask, bits) != 0) enableQueueLocked(s);
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

    private QueueSlot selected() {
        return queueSelect >= 0 && queueSelect < queueCount ? queues[queueSelect] : null;
    }

    private static long featureWindow(long features, int select) {
        return select == 0 ? features & 0xffff_ffffL : select == 1 ? features >>> 32 : 0;
    }

    /** An MSI-X vector the driver wrote, or NO_VECTOR when the table has no such entry (4.1.5.1.2). */
    private int vectorOrNone(long v) {
        return v < msixVectors ? (int) v : NO_VECTOR;
    }

    // --- Device status (2.1, 3.1.1) ---------------------------------------------

    /**
     * A driver write of device_status. Status writes may reset or activate
     * the device, so each passes the gate and excludes queue notifications.
     */
    private void writeStatus(int value, boolean legacyRegister) {
        value &= 0xff;
        if (!gate.enter()) return;
        try {
            deviceLock.writeLock().lock();
            try {
                if (value == 0) resetDevice();
                else addStatusBits(value, legacyRegister);
            } finally {
                deviceLock.writeLock().unlock();
            }
        } finally {
            gate.exit();
        }
    }

    private void addStatusBits(int value, boolean legacyRegister) {
        Context activate = null;
        synchronized (lock) {
            // Only a reset clears status bits, and DEVICE_NEEDS_RESET is the device's to set.
            int added = value & ~status & ~STATUS_DEVICE_NEEDS_RESET;
            if (added == 0) return;
            int next = status | added;
            if ((added & STATUS_FEATURES_OK) != 0 && !legacyRegister) {
                String refusal = featuresRefusal(driverFeatures);
                if (refusal != null) {
                    // The bit does not stick; the driver reads status back and gives up (3.1.1 step 6).
                    next &= ~STATUS_FEATURES_OK;
                    LOG.log(Level.INFO, "{0}: FEATURES_OK refused: {1}", owner, refusal);
                }
            }
            status = next;
            if ((added & STATUS_DRIVER_OK) == 0) return;
            // An error found during setup is announced once the driver can take the interrupt.
            if ((next & STATUS_DEVICE_NEEDS_RESET) != 0) {
                configInterruptLocked();
                return;
            }
            if (legacyRegister) {
                acceptLegacyFeaturesLocked();
            } else if ((next & STATUS_FEATURES_OK) == 0) {
                needsResetLocked("the driver set DRIVER_OK without FEATURES_OK");
                return;
            }
            activate = activateLocked();
        }
        if (activate != null) activateDevice(activate);
    }

    private String featuresRefusal(long features) {
        long unoffered = features & ~offered;
        if (unoffered != 0)
            return String.format("driver features 0x%x include 0x%x, which the device did not offer", features, unoffered);
        if ((features & bit(VirtioFeatures.VERSION_1)) == 0)
            return String.format("driver features 0x%x lack VIRTIO_F_VERSION_1", features);
        return null;
    }

    /** A legacy driver's features take effect at DRIVER_OK; bits the device did not offer are dropped. */
    private void acceptLegacyFeaturesLocked() {
        long allowed = offered & 0xffff_ffffL;
        if ((driverFeatures & ~allowed) != 0)
            LOG.log(Level.INFO, "{0}: legacy driver asked for unoffered features 0x{1}; ignored", owner,
                    Long.toHexString(driverFeatures & ~allowed));
        driverFeatures &= allowed;
    }

    /**
     * Makes the context for DRIVER_OK. A queue enabled before the features
     * were final (possible only for a legacy driver) is remade with the
     * final ones; it cannot have been used, as the device was not active.
     */
    private Context activateLocked() {
        long features = driverFeatures;
        for (QueueSlot s : queues) {
            if (s.queue == null || s.queue.features() == features) continue;
            try {
                s.queue = newQueueLocked(s, features);
            } catch (VirtqueueException e) {
                s.queue = null;
                s.enabled = false;
                needsResetLocked(e.getMessage());
                return null;
            }
        }
        context = new Context(features, sessionMemoryLocked());
        return context;
    }

    /** Activates the device (gate entered, device lock held), then delivers notifies the driver sent before DRIVER_OK. */
    private void activateDevice(Context ctx) {
        try {
            device.activate(ctx);
        } catch (RuntimeException e) {
            deviceFailed("activate", e);
            return;
        }
        // The driver may offer buffers before DRIVER_OK (3.1.1); their notifies were not delivered then.
        List<QueueSlot> live = new ArrayList<>();
        synchronized (lock) {
            syncKernelLocked();
            for (QueueSlot s : queues) if (s.queue != null) live.add(s);
        }
        for (QueueSlot s : live) deliverNotify(s);
    }

    /**
     * A platform reset (the guest reset the machine): the same as the driver
     * writing status 0, so the device drops its work and every virtio
     * register returns to its reset value. The PCI header is the bus's to
     * reset. Called with the vCPUs paused, from any thread.
     */
    public void reset() {
        resetDevice();
    }

    /** Device reset (status 0): the device drops its work, then every register returns to its reset value. */
    private void resetDevice() {
        List<VirtQueue> old = new ArrayList<>();
        synchronized (lock) {
            // From here on, interrupts and errors of the old queues and context are stale and dropped.
            if (context != null) context.valid = false;
            context = null;
            for (QueueSlot s : queues) {
                if (s.queue != null) old.add(s.queue);
                s.queue = null;
            }
            syncKernelLocked();
        }
        try {
            device.reset();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, () -> owner + ": device failed to reset", e);
        }
        // Completions after reset would write into rings the driver may reuse.
        for (VirtQueue q : old) q.retire();
        synchronized (lock) {
            status = 0;
            driverFeatures = 0;
            deviceFeatureSelect = driverFeatureSelect = 0;
            configVector = NO_VECTOR;
            queueSelect = 0;
            for (QueueSlot s : queues) s.reset(maxQueueSize[s.index]);
            sessionMemory = null;
            isr = 0;
            function.intx().lower();
            syncKernelLocked();
        }
    }

    // --- Queues ----------------------------------------------------------------

    private void enableQueueLocked(QueueSlot s) {
        int max = maxQueueSize[s.index];
        if (s.size == 0 || Integer.bitCount(s.size) != 1) {
            needsResetLocked("queue " + s.index + ": size " + s.size + " is not a power of two");
            return;
        }
        if (s.size > max) {
            needsResetLocked("queue " + s.index + ": size " + s.size + " exceeds the maximum " + max);
            return;
        }
        try {
            s.queue = newQueueLocked(s, driverFeatures);
            s.enabled = true;
        } catch (VirtqueueException e) {
            needsResetLocked(e.getMessage());
        }
    }

    private VirtQueue newQueueLocked(QueueSlot s, long features) {
        QueueLink link = new QueueLink(s);
        link.queue = VirtQueue.create(sessionMemoryLocked(), s.index, s.size, s.desc, s.driver, s.device, features, link, link);
        link.queue.countInto(counters);
        return link.queue;
    }

    private GuestMemory sessionMemoryLocked() {
        if (sessionMemory == null) sessionMemory = Objects.requireNonNull(memorySource.get(), "memory supplier returned null");
        return sessionMemory;
    }

    /** Where queues enabled from now on count their completions (the device instance's counters); set once, before the driver runs. */
    public void countInto(vmm.core.device.DeviceCounters counters) {
        this.counters = counters;
    }

    /**
     * Connects one VirtQueue's callbacks to its slot. The queue is created
     * with the link, so the link learns its queue after creation; callbacks
     * compare it with the slot's current queue under the lock, which drops
     * interrupts and errors of a queue a reset has replaced.
     */
    private final class QueueLink implements Runnable, Consumer<String> {
        final QueueSlot slot;
        VirtQueue queue; // written and read under lock

        QueueLink(QueueSlot slot) {
            this.slot = slot;
        }

        @Override
        public void run() {
            synchronized (lock) {
                if (slot.queue != queue || context == null) return;
                if (function.msixEnabled()) {
                    if (slot.vector == NO_VECTOR) return;
                    VectorRoute r = slot.vector < msixVectors ? vectorRoutes[slot.vector] : null;
                    // Checked again here: a vector masked a moment ago must get its pending bit, not the irqfd.
                    if (r != null && r.irqfd != null && function.msixMessage(slot.vector) != null) {
                        // Counted first: once signalled, KVM may inject at once and whoever sees the
                        // interrupt arrive (the guest's handler, a test) must find it counted.
                        irqfdInterrupts.incrementAndGet();
                        r.fd.signal();
                    } else {
                        function.signalMsiX(slot.vector);
                    }
                } else {
                    isr |= VIRTIO_PCI_ISR_QUEUE;
                    function.intx().raise();
                }
            }
        }

        @Override
        public void accept(String reason) {
            synchronized (lock) {
                if (slot.queue == queue) needsResetLocked(reason);
            }
        }
    }

    /** A driver notification for queue {@code q} (modern notify region or legacy register). */
    private void notifyQueue(int q) {
        QueueSlot s;
        synchronized (lock) {
            if ((status & STATUS_DEVICE_NEEDS_RESET) != 0) return; // left alone until the driver resets
            s = q >= 0 && q < queueCount ? queues[q] : null;
            if (s == null) {
                needsResetLocked("notify for queue " + q + ", which does not exist (the device has " + queueCount + ")");
                return;
            }
            if (!s.enabled) {
                needsResetLocked("notify for queue " + q + ", which is not enabled");
                return;
            }
            busNotifies.incrementAndGet(q);
            // Before DRIVER_OK the device may not consume buffers; activation delivers this notify.
            if (context == null) return;
        }
        if (!gate.enter()) return;
        try {
            deviceLock.readLock().lock();
            try {
                deliverNotify(s);
            } finally {
                deviceLock.readLock().unlock();
            }
        } finally {
            gate.exit();
        }
    }

    /**
     * Calls queueNotify for {@code s}; the gate is entered and the device
     * lock held. One thread delivers per queue: a notify arriving meanwhile
     * only counts, and the delivering thread calls the device again for it,
     * so a vCPU never waits on another queue's work and no notify is lost.
     */
    private void deliverNotify(QueueSlot s) {
        if (s.kicks.getAndIncrement() != 0) return;
        boolean finished = false;
        try {
            deliverNotifies(s);
            finished = true;
        } finally {
            // An Error out of the device must not leave the count up, or this queue would never be notified again.
            if (!finished) s.kicks.set(0);
        }
    }

    private void deliverNotifies(QueueSlot s) {
        int seen;
        do {
            seen = s.kicks.get();
            boolean live;
            synchronized (lock) {
                live = context != null && s.queue != null && (status & STATUS_DEVICE_NEEDS_RESET) == 0;
            }
            if (live) {
                try {
                    device.queueNotify(s.index);
                } catch (VirtqueueException e) {
                    // the queue already reported it, which set DEVICE_NEEDS_RESET
                } catch (RuntimeException e) {
                    deviceFailed("queue " + s.index + " notify", e);
                }
            }
        } while (s.kicks.addAndGet(-seen) != 0);
    }

    // --- Interrupts and errors ------------------------------------------------------

    /** ISR status (4.1.4.5): reading returns and clears the bits and releases INTx. */
    private int readIsr() {
        synchronized (lock) {
            int v = isr;
            isr = 0;
            function.intx().lower();
            return v;
        }
    }

    private void configInterruptLocked() {
        // The ISR bit is set even with MSI-X, as 4.1.4.5.1 requires before any config notification.
        isr |= VIRTIO_PCI_ISR_CONFIG;
        if (function.msixEnabled()) {
            if (configVector != NO_VECTOR) function.signalMsiX(configVector);
        } else {
            function.intx().raise();
        }
    }

    /**
     * Enters DEVICE_NEEDS_RESET for {@code reason} unless already there:
     * records and logs the reason and, when DRIVER_OK is set, sends a
     * configuration interrupt (2.1.2). Before DRIVER_OK the driver is still
     * setting up and reads status back itself.
     */
    private void needsResetLocked(String reason) {
        if ((status & STATUS_DEVICE_NEEDS_RESET) != 0) return;
        status |= STATUS_DEVICE_NEEDS_RESET;
        lastError = reason;
        LOG.log(Level.WARNING, "{0} at {1}: device needs reset: {2}", owner, address, reason);
        if ((status & STATUS_DRIVER_OK) != 0) configInterruptLocked();
        syncKernelLocked();
    }

    private void deviceFailed(String what, RuntimeException e) {
        LOG.log(Level.WARNING, () -> owner + ": device failed in " + what, e);
        synchronized (lock) {
            needsResetLocked("device failed in " + what + ": " + e);
        }
    }

    /** What an active device gets: valid until the next reset, kept across hot swaps. */
    private final class Context implements VirtioContext {
        private final long features;
        private final GuestMemory memory;
        volatile boolean valid = true;

        Context(long features, GuestMemory memory) {
            this.features = features;
            this.memory = memory;
        }

        @Override
        public GuestMemory memory() {
            return memory;
        }

        @Override
        public long negotiatedFeatures() {
            return features;
        }

        @Override
        public VirtQueue queue(int index) {
            synchronized (lock) {
                return valid && index >= 0 && index < queueCount ? queues[index].queue : null;
            }
        }

        @Override
        public void configChanged() {
            synchronized (lock) {
                if (!valid) return;
                configGeneration = (configGeneration + 1) & 0xff;
                configInterruptLocked();
            }
        }

        @Override
        public void deviceError(String reason) {
            synchronized (lock) {
                if (valid) needsResetLocked("device error: " + reason);
            }
        }
    }

    // --- Device configuration ------------------------------------------------------

    private long deviceConfigRead(int off, int size) {
        if (off < 0 || off + size > configSize) return 0;
        if (!gate.enter()) return ones(size);
        try {
            deviceLock.readLock().lock();
            try {
                return device.readConfig(off, size) & ones(size);
            } finally {
                deviceLock.readLock().unlock();
            }
        } catch (RuntimeException e) {
            deviceFailed("config read", e);
            return ones(size);
        } finally {
            gate.exit();
        }
    }

    private void deviceConfigWrite(int off, int size, long value) {
        if (off < 0 || off + size > configSize) return;
        if (!gate.enter()) return;
        try {
            deviceLock.readLock().lock();
            try {
                device.writeConfig(off, size, value & ones(size));
            } finally {
                deviceLock.readLock().unlock();
            }
        } catch (RuntimeException e) {
            deviceFailed("config write", e);
        } finally {
            gate.exit();
        }
    }

    // --- Legacy I/O BAR (4.1.4.10) ----------------------------------------------------

    private long legacyRead(int off, int size) {
        boolean msix = function.msixEnabled();
        int configBase = msix ? VIRTIO_PCI_CONFIG_OFF_MSIX : VIRTIO_PCI_CONFIG_OFF_NO_MSIX;
        if (off >= configBase) return deviceConfigRead(off - configBase, size);
        return composeRead(msix ? LEGACY_MSIX_FIELDS : LEGACY_FIELDS, off, size, this::legacyField);
    }

    private long legacyField(int field) {
        if (field == VIRTIO_PCI_ISR) return readIsr();
        synchronized (lock) {
            QueueSlot s = selected();
            return switch (field) {
                case VIRTIO_PCI_HOST_FEATURES -> offered & 0xffff_ffffL;
                case VIRTIO_PCI_GUEST_FEATURES -> driverFeatures & 0xffff_ffffL;
                case VIRTIO_PCI_QUEUE_PFN -> s != null && s.enabled ? s.desc >>> VIRTIO_PCI_QUEUE_ADDR_SHIFT : 0;
                case VIRTIO_PCI_QUEUE_NUM -> s == null ? 0 : maxQueueSize[s.index];
                case VIRTIO_PCI_QUEUE_SEL -> queueSelect;
                case VIRTIO_PCI_STATUS -> status;
                case VIRTIO_MSI_CONFIG_VECTOR -> configVector;
                case VIRTIO_MSI_QUEUE_VECTOR -> s == null ? NO_VECTOR : s.vector;
                default -> 0; // queue notify reads 0
            };
        }
    }

    private void legacyWrite(int off, int size, long value) {
        boolean msix = function.msixEnabled();
        int configBase = msix ? VIRTIO_PCI_CONFIG_OFF_MSIX : VIRTIO_PCI_CONFIG_OFF_NO_MSIX;
        if (off >= configBase) {
            deviceConfigWrite(off - configBase, size, value);
            return;
        }
        for (int[] f : msix ? LEGACY_MSIX_FIELDS : LEGACY_FIELDS) {
            long[] mb = fieldBits(f, off, size, value);
            if (mb == null) continue;
            switch (f[0]) {
                case VIRTIO_PCI_STATUS -> writeStatus((int) mb[1], true);
                case VIRTIO_PCI_QUEUE_NOTIFY -> notifyQueue((int) mb[1]);
                default -> {
                    synchronized (lock) {
                        legacyFieldWriteLocked(f[0], mb[0], mb[1]);
                    }
                }
            }
        }
    }

    private void legacyFieldWriteLocked(int field, long mask, long bits) {
        QueueSlot s = selected();
        switch (field) {
            case VIRTIO_PCI_GUEST_FEATURES -> {
                // A legacy driver's features become final at DRIVER_OK.
                if ((status & STATUS_DRIVER_OK) == 0) driverFeatures = merge(driverFeatures & 0xffff_ffffL, mask, bits);
            }
            case VIRTIO_PCI_QUEUE_PFN -> {
                if (s != null) legacyQueuePfnLocked(s, merge(s.desc >>> VIRTIO_PCI_QUEUE_ADDR_SHIFT, mask, bits));
            }
            case VIRTIO_PCI_QUEUE_SEL -> queueSelect = (int) merge(queueSelect, mask, bits);
            case VIRTIO_MSI_CONFIG_VECTOR -> configVector = vectorOrNone(merge(configVector, mask, bits));
            case VIRTIO_MSI_QUEUE_VECTOR -> {
                if (s != null) s.vector = vectorOrNone(merge(s.vector, mask, bits));
                syncKernelLocked();
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
    private void legacyQueuePfnLocked(QueueSlot s, long pfn) {
        if (pfn == 0) {
            // The queue's MSI-X vector is a separate register and survives.
            s.enabled = false;
            s.queue = null;
            s.desc = s.driver = s.device = 0;
            syncKernelLocked();
            return;
        }
        if (s.enabled) return; // a driver writes 0 first to move a queue
        int size = maxQueueSize[s.index];
        long desc = pfn << VIRTIO_PCI_QUEUE_ADDR_SHIFT;
        long avail = desc + VirtQueue.descTableSize(size);
        long used = (avail + VirtQueue.availRingSize(size) + VIRTIO_PCI_VRING_ALIGN - 1) & -(long) VIRTIO_PCI_VRING_ALIGN;
        s.size = size;
        s.desc = desc;
        s.driver = avail;
        s.device = used;
        enableQueueLocked(s);
    }

    // --- VIRTIO_PCI_CAP_PCI_CFG (4.1.4.9) -----------------------------------------------

    /**
     * The PCI configuration access window: the driver writes bar, offset and
     * length into the capability, and a read or write of pci_cfg_data
     * performs that access on the BAR. Only BAR4 (and BAR0 of a transitional
     * device) are reachable: the MSI-X table belongs to the bus. Calls are
     * serialized by the bus per function; the copy here is the capability's
     * truth, and what the bus stores mirrors it.
     */
    private final class PciCfgWindow implements CapabilityHandler {
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
            long barSize = bar == MODERN_BAR ? MODERN_BAR_SIZE : bar == LEGACY_BAR && legacy ? legacyBarSize() : 0;
            if (len != 1 && len != 2 && len != 4 || off % len != 0 || off + len > barSize) return 0;
            if (read) return barRead(bar, off, len);
            barWrite(bar, off, len, data & ones(len));
            return 0;
        }
    }

    // --- Register plumbing --------------------------------------------------------

    /**
     * Reads {@code [off, off+size)} over registers {@code fields}, so that an
     * access of any width sees each register it covers (wholly or in part);
     * bytes outside every register read 0.
     */
    private static long composeRead(int[][] fields, int off, int size, IntToLongFunction value) {
        long v = 0;
        for (int[] f : fields) {
            int s = Math.max(off, f[0]), e = Math.min(off + size, f[0] + f[1]);
            if (s >= e) continue;
            long bytes = value.applyAsLong(f[0]) >>> 8 * (s - f[0]) & ones(e - s);
            v |= bytes << 8 * (s - off);
        }
        return v;
    }

    /**
     * The part of a write {@code [off, off+size) = value} that lands in
     * register {@code f}: {mask, bits} in the register's own bit positions,
     * or null when the write does not touch it.
     */
    private static long[] fieldBits(int[] f, int off, int size, long value) {
        int s = Math.max(off, f[0]), e = Math.min(off + size, f[0] + f[1]);
        if (s >= e) return null;
        long bytes = value >>> 8 * (s - off) & ones(e - s);
        return new long[] {ones(e - s) << 8 * (s - f[0]), bytes << 8 * (s - f[0])};
    }

    private static long merge(long old, long mask, long bits) {
        return old & ~mask | bits;
    }

    private static long ones(int size) {
        return size >= 8 ? -1L : (1L << 8 * size) - 1;
    }

    private static boolean overlaps(int offset, int size, int start, int length) {
        return offset < start + length && start < offset + size;
    }

    private static void putLe32(byte[] a, int at, int v) {
        for (int i = 0; i < 4; i++) a[at + i] = (byte) (v >>> 8 * i);
    }

    private static int getLe32(byte[] a, int at) {
        return (int) getLe(a, at, 4);
    }

    private static long getLe(byte[] a, int at, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) v |= (a[at + i] & 0xffL) << 8 * i;
        return v;
    }
}
