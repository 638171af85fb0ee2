package vmm.core.virtio;

import static vmm.core.virtio.RegisterFields.ones;
import static vmm.core.virtio.VirtioFeatures.NO_VECTOR;
import static vmm.core.virtio.VirtioFeatures.STATUS_DEVICE_NEEDS_RESET;
import static vmm.core.virtio.VirtioFeatures.STATUS_DRIVER_OK;
import static vmm.core.virtio.VirtioFeatures.STATUS_FEATURES_OK;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;

import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;
import vmm.core.device.SwapGate;
import vmm.core.hypervisor.EventFd;
import vmm.core.hypervisor.GsiPool;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.memory.GuestMemory;
import vmm.core.pci.BarHandler;
import vmm.core.pci.PciAddress;
import vmm.core.pci.PciBus;
import vmm.core.pci.PciFunction;

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
 *
 * <p>This class keeps the registers, the status machine and the queue
 * setup; package-private parts do the rest: {@link VirtioPciLayout} (PCI
 * identity and capabilities), {@link CommonConfig} and
 * {@link LegacyInterface} (the two register blocks a driver programs),
 * {@link PciCfgWindow}, {@link NotifyPath} (notifications to the device),
 * {@link Interrupts} (ISR, INTx, MSI-X) and {@link KernelBindings}.
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
    final SwapGate gate;
    private volatile vmm.core.device.DeviceCounters counters;
    final String owner;
    private final boolean legacy;
    private final byte[] optionRom;
    private final int deviceType, configSize;
    final int queueCount, msixVectors;
    final PciFunction function;
    private volatile VirtioDevice device;
    /** A deterministic run ({@link #useHypervisor}): notifies wait for their queue to settle, no kernel bindings. */
    volatile boolean deterministic;

    /** Readers: queueNotify, config accesses. Writer: activate and reset, which must not overlap a notify. */
    final ReentrantReadWriteLock deviceLock = new ReentrantReadWriteLock();
    /** Guards the registers below; never held while device code runs. */
    final Object lock = new Object();

    // The registers, guarded by lock; CommonConfig and LegacyInterface decode driver accesses to them.
    long offered;
    final int[] maxQueueSize;
    final QueueSlot[] queues;
    int status;
    long driverFeatures;
    int deviceFeatureSelect, driverFeatureSelect;
    int configVector = NO_VECTOR;
    int configGeneration;
    int queueSelect;
    private DriverContext context;
    private String lastError;
    private boolean detached;

    private final CommonConfig common = new CommonConfig(this);
    private final NotifyPath notifyPath = new NotifyPath(this);
    private final LegacyInterface legacyInterface = new LegacyInterface(this);
    /** The ioeventfd and irqfd bindings; guarded by lock. */
    private final KernelBindings bindings;
    private final Interrupts interrupts;
    /** Per queue: notifications that came through the bus, that is through a vCPU exit. */
    final AtomicLongArray busNotifies;

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
        this.busNotifies = new AtomicLongArray(queueCount);
        this.offered = FeatureRules.offered(device.deviceFeatures());
        PciCfgWindow window = new PciCfgWindow(owner, legacy ? configSize : -1, new Decoder());
        this.function = bus.attach(owner, address, VirtioPciLayout.spec(owner, legacy, deviceType, queueCount,
                configSize, msixVectors, optionRom, window), new Bars());
        this.bindings = new KernelBindings(owner, function, queueCount, msixVectors);
        this.interrupts = new Interrupts(function, bindings);
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
        EventFd[] fds = KernelBindings.consumerFdsOf(next, queueCount);
        DriverContext active;
        synchronized (lock) {
            for (QueueSlot s : queues)
                if (s.enabled && s.size > max[s.index])
                    throw new IllegalArgumentException(owner + ": the replacement's queue " + s.index
                            + " holds at most " + max[s.index] + " entries, the driver enabled " + s.size);
            device = next;
            System.arraycopy(max, 0, maxQueueSize, 0, queueCount);
            offered = FeatureRules.offered(next.deviceFeatures());
            active = (status & STATUS_DRIVER_OK) != 0 && (status & STATUS_DEVICE_NEEDS_RESET) == 0 ? context : null;
            bindings.consumersLocked(null);
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
            bindings.consumersLocked(fds);
            syncKernelLocked();
        }
    }

    // --- Snapshots -------------------------------------------------------------------

    /** The state type of {@link #saveState()}. */
    public static final String STATE_TYPE = "vmm.virtio.pci-transport";

    /**
     * The transport's registers and queues, for a snapshot: device status, the driver's features and the
     * feature selectors, the configuration vector and generation, the queue selector, ISR status, and for each
     * queue its size, MSI-X vector, enable, ring addresses and, when it is live, its two ring indices. Only
     * while the device model is paused (every chain it took is completed) and no vCPU runs.
     *
     * @throws IllegalStateException when a queue has chains in flight (the model was not paused)
     */
    public DeviceState saveState() {
        synchronized (lock) {
            List<DeviceState> qs = new ArrayList<>();
            for (QueueSlot s : queues) {
                VirtQueue q = s.queue;
                if (q != null && q.outstanding() != 0)
                    throw new IllegalStateException(owner + ": queue " + s.index + " has " + q.outstanding()
                            + " chains in flight; the device must be paused for a snapshot");
                qs.add(DeviceState.builder("queue", 1).put("size", s.size).put("vector", s.vector)
                        .put("enabled", s.enabled).put("desc", s.desc).put("driver", s.driver).put("device", s.device)
                        .put("live", q != null).put("last-avail", q == null ? 0 : q.lastAvailIndex())
                        .put("used", q == null ? 0 : q.usedIndex()).build());
            }
            return DeviceState.builder(STATE_TYPE, 1).put("device-id", deviceType)
                    .put("status", status).put("driver-features", driverFeatures)
                    .put("device-feature-select", deviceFeatureSelect).put("driver-feature-select", driverFeatureSelect)
                    .put("config-vector", configVector).put("config-generation", configGeneration)
                    .put("queue-select", queueSelect).put("isr", interrupts.isrLocked()).putList("queues", qs).build();
        }
    }

    /**
     * Puts back {@link #saveState()}'s state into a fresh transport (status 0) of the same device, after the PCI
     * function's configuration (MSI-X) is restored and before the vCPUs run; a device the driver had running
     * (DRIVER_OK) is activated again with its queues going on from the saved ring indices, and work the guest
     * offered meanwhile is delivered. Every value is checked first, as untrusted input.
     *
     * @throws IncompatibleStateException naming what the transport cannot hold (another device,
     *                                                    a queue the device does not have or too large, a ring
     *                                                    outside guest RAM)
     */
    public void restoreState(DeviceState st) {
        st.require(STATE_TYPE, 1);
        if (st.getLong("device-id") != deviceType)
            throw incompatible("a transport of device ID " + st.getLong("device-id") + "; this one has " + deviceType);
        List<Object> qs = st.getList("queues");
        if (qs.size() != queueCount) throw incompatible(qs.size() + " queues; the device has " + queueCount);
        int nStatus = (int) range(st, "status", 0, 0xff), nIsr = (int) range(st, "isr", 0, 3);
        long nFeatures = st.getLong("driver-features");
        int[] ints = {(int) range(st, "device-feature-select", 0, 0xffff_ffffL),
                (int) range(st, "driver-feature-select", 0, 0xffff_ffffL),
                (int) range(st, "config-vector", 0, 0xffff), (int) range(st, "config-generation", 0, 0xff),
                (int) range(st, "queue-select", 0, 0xffff)};
        List<DeviceState> q = new ArrayList<>();
        for (Object o : qs) {
            if (!(o instanceof DeviceState d)) throw incompatible("a queue is not a state");
            d.require("queue", 1);
            q.add(d);
        }
        DriverContext activate;
        synchronized (lock) {
            if (status != 0) throw new IllegalStateException(owner + ": a snapshot is restored into a fresh transport");
            long features = nFeatures;
            try {
                for (int i = 0; i < queueCount; i++) {
                    DeviceState d = q.get(i);
                    QueueSlot s = queues[i];
                    int size = (int) range(d, "size", 1, maxQueueSize[i]);
                    if (Integer.bitCount(size) != 1)
                        throw incompatible("queue " + i + ": size " + size + " is not a power of two");
                    s.size = size;
                    s.vector = vectorOrNone(range(d, "vector", 0, 0xffff));
                    s.enabled = d.getBoolean("enabled");
                    s.desc = d.getLong("desc");
                    s.driver = d.getLong("driver");
                    s.device = d.getLong("device");
                    s.queue = null;
                    if (d.getBoolean("live")) {
                        QueueLink link = new QueueLink(this, s);
                        try {
                            int lastAvail = (int) range(d, "last-avail", 0, 0xffff);
                            int used = (int) range(d, "used", 0, 0xffff);
                            link.queue = VirtQueue.restore(sessionMemoryLocked(), i, size, s.desc, s.driver, s.device,
                                    features, lastAvail, used, link, link);
                        } catch (VirtqueueException e) {
                            throw incompatible(e.getMessage());
                        }
                        link.queue.countInto(counters);
                        s.queue = link.queue;
                    }
                }
            } catch (RuntimeException e) {
                for (QueueSlot r : queues) r.reset(maxQueueSize[r.index]);
                throw e;
            }
            status = nStatus;
            driverFeatures = nFeatures;
            deviceFeatureSelect = ints[0];
            driverFeatureSelect = ints[1];
            configVector = vectorOrNone(ints[2]);
            configGeneration = ints[3];
            queueSelect = ints[4];
            interrupts.restoreIsrLocked(nIsr);
            activate = (status & STATUS_DRIVER_OK) != 0 && (status & STATUS_DEVICE_NEEDS_RESET) == 0
                    ? context = new DriverContext(this, driverFeatures, sessionMemoryLocked()) : null;
            syncKernelLocked();
        }
        if (activate == null) return;
        if (!gate.enter()) throw new IllegalStateException(owner + ": the device's gate is closed");
        try {
            deviceLock.writeLock().lock();
            try {
                activateDevice(activate);
            } finally {
                deviceLock.writeLock().unlock();
            }
        } finally {
            gate.exit();
        }
    }

    private IncompatibleStateException incompatible(String what) {
        return new IncompatibleStateException(STATE_TYPE + " state of " + owner + ": " + what);
    }

    private static long range(DeviceState s, String name, long min, long max) {
        long v = s.getLong(name);
        if (v < min || v > max)
            throw new IncompatibleStateException(String.format("%s state field '%s': %d is outside"
                    + " [%d, %d]", s.type(), name, v, min, max));
        return v;
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
        if (vm.config().deterministic()) {
            // Every notify through the bus on the vCPU, where the run waits for the queue to settle, and every
            // interrupt straight from the completing thread: no kernel thread in between to reorder them.
            deterministic = true;
            return;
        }
        EventFd[] fds = KernelBindings.consumerFdsOf(device, queueCount);
        synchronized (lock) {
            bindings.useHypervisorLocked(vm, gsis, fds);
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
            bindings.consumersLocked(null);
            syncKernelLocked();
        }
    }

    /** Where queue {@code q}'s notify address is bound to the device's eventfd, or -1 when its notifications come through the bus. */
    public long kernelNotifyAddress(int q) {
        synchronized (lock) {
            return bindings.notifyAddressLocked(q);
        }
    }

    /** The GSI whose irqfd now carries MSI-X vector {@code v}'s queue interrupts, or -1 when none does. */
    public int irqfdGsi(int v) {
        synchronized (lock) {
            return bindings.irqfdGsiLocked(v);
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
        return bindings.irqfdInterrupts();
    }

    private void syncKernel() {
        synchronized (lock) {
            syncKernelLocked();
        }
    }

    /** Brings the kernel bindings in line with the registers (see {@link KernelBindings#syncLocked}). */
    void syncKernelLocked() {
        bindings.syncLocked(!detached && context != null && (status & STATUS_DEVICE_NEEDS_RESET) == 0, queues);
    }

    /**
     * Delivers a notification for every enabled queue of the active device,
     * so work the driver offered while the gate was closed is picked up.
     * Called by the core after a swap, with the gate open; does nothing
     * while the device is not active.
     */
    public void kickEnabledQueues() {
        notifyPath.kickEnabledQueues();
    }

    /** Removes the function from the PCI bus; the device model is left to its owner. Idempotent. */
    public void detach() {
        function.detach();
        synchronized (lock) {
            if (detached) return;
            detached = true;
            syncKernelLocked();
            bindings.closeLocked();
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

    /** The BAR decoding without the guard; the PCI_CFG window handles failures itself. */
    private final class Decoder implements BarHandler {
        @Override
        public long readBar(int bar, long offset, int size) {
            return barRead(bar, offset, size);
        }

        @Override
        public void writeBar(int bar, long offset, int size, long value) {
            barWrite(bar, offset, size, value);
        }
    }

    private long barRead(int bar, long offset, int size) {
        if (bar == MODERN_BAR) {
            if (offset < ISR_CFG_OFFSET) return common.read((int) offset, size);
            if (offset < DEVICE_CFG_OFFSET) return offset == ISR_CFG_OFFSET ? readIsr() : 0;
            if (offset < NOTIFY_CFG_OFFSET) return deviceConfigRead((int) (offset - DEVICE_CFG_OFFSET), size);
            return 0; // the notify region is write-only
        }
        if (bar == LEGACY_BAR && legacy) return legacyInterface.read((int) offset, size);
        return 0;
    }

    private void barWrite(int bar, long offset, int size, long value) {
        if (bar == MODERN_BAR) {
            if (offset < ISR_CFG_OFFSET) common.write((int) offset, size, value);
            else if (offset >= NOTIFY_CFG_OFFSET) notifyQueue((int) ((offset - NOTIFY_CFG_OFFSET) / NOTIFY_OFF_MULTIPLIER));
            else if (offset >= DEVICE_CFG_OFFSET) deviceConfigWrite((int) (offset - DEVICE_CFG_OFFSET), size, value);
            // ISR is read-only
        } else if (bar == LEGACY_BAR && legacy) {
            legacyInterface.write((int) offset, size, value);
        }
    }

    QueueSlot selected() {
        return queueSelect >= 0 && queueSelect < queueCount ? queues[queueSelect] : null;
    }

    /** An MSI-X vector the driver wrote, or NO_VECTOR when the table has no such entry (4.1.5.1.2). */
    int vectorOrNone(long v) {
        return v < msixVectors ? (int) v : NO_VECTOR;
    }

    // --- Device status (2.1, 3.1.1) ---------------------------------------------

    /**
     * A driver write of device_status. Status writes may reset or activate
     * the device, so each passes the gate and excludes queue notifications.
     */
    void writeStatus(int value, boolean legacyRegister) {
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
        DriverContext activate = null;
        synchronized (lock) {
            // Only a reset clears status bits, and DEVICE_NEEDS_RESET is the device's to set.
            int added = value & ~status & ~STATUS_DEVICE_NEEDS_RESET;
            if (added == 0) return;
            int next = status | added;
            if ((added & STATUS_FEATURES_OK) != 0 && !legacyRegister) {
                String refusal = FeatureRules.refusal(driverFeatures, offered);
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

    /** A legacy driver's features take effect at DRIVER_OK; bits the device did not offer are dropped. */
    private void acceptLegacyFeaturesLocked() {
        long allowed = offered & FeatureRules.LEGACY_FEATURES;
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
    private DriverContext activateLocked() {
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
        context = new DriverContext(this, features, sessionMemoryLocked());
        return context;
    }

    /** Activates the device (gate entered, device lock held), then delivers notifies the driver sent before DRIVER_OK. */
    private void activateDevice(DriverContext ctx) {
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
        for (QueueSlot s : live) notifyPath.deliver(s);
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
            interrupts.readIsrLocked(); // clears ISR and releases INTx
            syncKernelLocked();
        }
    }

    // --- Queues ----------------------------------------------------------------

    void enableQueueLocked(QueueSlot s) {
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
        QueueLink link = new QueueLink(this, s);
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

    /** A notification from the bus or the legacy register; see {@link NotifyPath}. */
    void notifyQueue(int q) {
        notifyPath.notifyQueue(q);
    }

    /** Whether the device is active: DRIVER_OK reached and no reset since. */
    boolean activeLocked() {
        return context != null;
    }

    // --- Interrupts and errors ------------------------------------------------------

    /** ISR status (4.1.4.5): reading returns and clears the bits and releases INTx. */
    int readIsr() {
        synchronized (lock) {
            return interrupts.readIsrLocked();
        }
    }

    void queueInterruptLocked(int vector) {
        interrupts.queueLocked(vector);
    }

    void configInterruptLocked() {
        interrupts.configLocked(configVector);
    }

    /**
     * Enters DEVICE_NEEDS_RESET for {@code reason} unless already there:
     * records and logs the reason and, when DRIVER_OK is set, sends a
     * configuration interrupt (2.1.2). Before DRIVER_OK the driver is still
     * setting up and reads status back itself.
     */
    void needsResetLocked(String reason) {
        if ((status & STATUS_DEVICE_NEEDS_RESET) != 0) return;
        status |= STATUS_DEVICE_NEEDS_RESET;
        lastError = reason;
        LOG.log(Level.WARNING, "{0} at {1}: device needs reset: {2}", owner, address, reason);
        if ((status & STATUS_DRIVER_OK) != 0) configInterruptLocked();
        syncKernelLocked();
    }

    void deviceFailed(String what, RuntimeException e) {
        LOG.log(Level.WARNING, () -> owner + ": device failed in " + what, e);
        synchronized (lock) {
            needsResetLocked("device failed in " + what + ": " + e);
        }
    }

    // --- Device configuration ------------------------------------------------------

    long deviceConfigRead(int off, int size) {
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

    void deviceConfigWrite(int off, int size, long value) {
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
}
