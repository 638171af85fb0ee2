package vmm.testing;

import java.util.ArrayList;
import java.util.List;

import vmm.core.bus.AddressBus;
import vmm.core.pci.BarKind;
import vmm.core.pci.PciAddress;
import vmm.core.virtio.VirtioFeatures;

/**
 * A virtio-pci driver for tests, written from the virtio 1.2
 * specification: it finds the transport's capabilities, follows the
 * driver-initialization sequence of section 3.1.1 (reset, ACKNOWLEDGE,
 * DRIVER, feature negotiation, FEATURES_OK and its check, queue setup,
 * DRIVER_OK), programs MSI-X so that each vector's message data is
 * recognisable ({@link #msiData(int)}), and exposes the registers for
 * tests that misbehave on purpose. Not thread-safe.
 */
public final class VirtioDriver {
    public static final int VIRTIO_PCI_CAP_COMMON_CFG = 1, VIRTIO_PCI_CAP_NOTIFY_CFG = 2, VIRTIO_PCI_CAP_ISR_CFG = 3,
            VIRTIO_PCI_CAP_DEVICE_CFG = 4, VIRTIO_PCI_CAP_PCI_CFG = 5;
    /** Common configuration offsets, section 4.1.4.3. */
    public static final int DEVICE_FEATURE_SELECT = 0, DEVICE_FEATURE = 4, DRIVER_FEATURE_SELECT = 8, DRIVER_FEATURE = 12,
            CONFIG_MSIX_VECTOR = 16, NUM_QUEUES = 18, DEVICE_STATUS = 20, CONFIG_GENERATION = 21, QUEUE_SELECT = 22,
            QUEUE_SIZE = 24, QUEUE_MSIX_VECTOR = 26, QUEUE_ENABLE = 28, QUEUE_NOTIFY_OFF = 30, QUEUE_DESC = 32,
            QUEUE_DRIVER = 40, QUEUE_DEVICE = 48;
    /** The x86 MSI address the driver programs into every MSI-X entry. */
    public static final long MSI_ADDRESS = 0xfee0_0000L;

    private final TestMachine machine;
    private final PciHarness.Function function;
    private final long common, notify, isr, device;
    private final int notifyMultiplier, deviceLength;
    private final List<DriverQueue> queues = new ArrayList<>();
    private boolean msix;

    VirtioDriver(TestMachine machine, PciHarness.Function function) {
        this.machine = machine;
        this.function = function;
        long c = -1, n = -1, i = -1, d = -1;
        int mult = 0, dlen = 0;
        PciAddress a = function.address();
        PciHarness pci = machine.pci();
        for (PciHarness.Cap cap : function.capabilities()) {
            if (cap.id() != PciHarness.CAP_ID_VENDOR) continue;
            int p = cap.offset();
            int type = pci.read8(a, p + 3), bar = pci.read8(a, p + 4);
            long off = Integer.toUnsignedLong(pci.read32(a, p + 8));
            int len = pci.read32(a, p + 12);
            if (type == VIRTIO_PCI_CAP_PCI_CFG) continue;
            long base = function.bar(bar).address() + off;
            switch (type) {
                case VIRTIO_PCI_CAP_COMMON_CFG -> c = c < 0 ? base : c;
                case VIRTIO_PCI_CAP_NOTIFY_CFG -> { if (n < 0) { n = base; mult = pci.read32(a, p + 16); } }
                case VIRTIO_PCI_CAP_ISR_CFG -> i = i < 0 ? base : i;
                case VIRTIO_PCI_CAP_DEVICE_CFG -> { if (d < 0) { d = base; dlen = len; } }
                default -> { }
            }
        }
        if (c < 0 || n < 0 || i < 0) throw new AssertionError(a + " lacks a virtio common, notify or ISR capability");
        common = c;
        notify = n;
        isr = i;
        device = d;
        notifyMultiplier = mult;
        deviceLength = dlen;
    }

    public PciHarness.Function function() { return function; }

    private AddressBus busFor(long address) {
        for (PciHarness.Bar b : function.bars().values())
            if (address >= b.address() && address < b.address() + b.size())
                return b.kind() == BarKind.IO ? machine.machine().ioPorts() : machine.machine().mmio();
        return machine.machine().mmio();
    }

    public long commonRead(int off, int size) { return busFor(common).read(common + off, size); }
    public void commonWrite(int off, int size, long v) { busFor(common).write(common + off, size, v); }

    public int status() { return (int) commonRead(DEVICE_STATUS, 1); }
    public void writeStatus(int s) { commonWrite(DEVICE_STATUS, 1, s); }
    public boolean needsReset() { return (status() & VirtioFeatures.STATUS_DEVICE_NEEDS_RESET) != 0; }
    public int numQueues() { return (int) commonRead(NUM_QUEUES, 2); }
    public int configGeneration() { return (int) commonRead(CONFIG_GENERATION, 1); }

    /** The 64 feature bits the device offers. */
    public long deviceFeatures() {
        commonWrite(DEVICE_FEATURE_SELECT, 4, 0);
        long lo = commonRead(DEVICE_FEATURE, 4);
        commonWrite(DEVICE_FEATURE_SELECT, 4, 1);
        long hi = commonRead(DEVICE_FEATURE, 4);
        return hi << 32 | lo;
    }

    /** Step 1: writes 0 to device_status and waits (reads back) until the device reports 0. */
    public void reset() {
        writeStatus(0);
        for (int i = 0; i < 1000 && status() != 0; i++) Thread.onSpinWait();
        if (status() != 0) throw new AssertionError("device did not complete reset, status 0x" + Integer.toHexString(status()));
        queues.clear();
    }

    /**
     * Steps 1 to 6: reset, ACKNOWLEDGE, DRIVER, write {@code wanted} ∩
     * offered features, FEATURES_OK, and check it stuck. Returns whether it
     * did; on false the device refused the features (the driver should then
     * give up, as section 3.1.1 says).
     */
    public boolean tryNegotiate(long features) {
        reset();
        writeStatus(VirtioFeatures.STATUS_ACKNOWLEDGE);
        writeStatus(VirtioFeatures.STATUS_ACKNOWLEDGE | VirtioFeatures.STATUS_DRIVER);
        commonWrite(DRIVER_FEATURE_SELECT, 4, 0);
        commonWrite(DRIVER_FEATURE, 4, features & 0xffff_ffffL);
        commonWrite(DRIVER_FEATURE_SELECT, 4, 1);
        commonWrite(DRIVER_FEATURE, 4, features >>> 32);
        writeStatus(VirtioFeatures.STATUS_ACKNOWLEDGE | VirtioFeatures.STATUS_DRIVER | VirtioFeatures.STATUS_FEATURES_OK);
        return (status() & VirtioFeatures.STATUS_FEATURES_OK) != 0;
    }

    /**
     * Negotiates {@code wanted} ∩ offered (always including VERSION_1) and
     * returns the accepted set.
     *
     * @throws AssertionError when the device refuses a subset of its own offer
     */
    public long negotiate(long wanted) {
        long accepted = (wanted | VirtioFeatures.bit(VirtioFeatures.VERSION_1)) & deviceFeatures();
        if (!tryNegotiate(accepted))
            throw new AssertionError("device refused FEATURES_OK for 0x" + Long.toHexString(accepted) + " it offered");
        return accepted;
    }

    /** The message data this driver programs for MSI-X vector {@code v} of this function. */
    public int msiData(int v) {
        return function.address().bdf() << 12 | v;
    }

    /** Programs every MSI-X table entry with {@link #msiData}, unmasks them and enables MSI-X. */
    public void enableMsix() {
        PciAddress a = function.address();
        PciHarness pci = machine.pci();
        PciHarness.Cap cap = function.capabilities().stream().filter(c -> c.id() == PciHarness.CAP_ID_MSIX).findFirst()
                .orElseThrow(() -> new AssertionError(a + " has no MSI-X capability"));
        int control = pci.read16(a, cap.offset() + 2);
        int tableSize = (control & 0x7ff) + 1;
        int tableReg = pci.read32(a, cap.offset() + 4);
        long table = function.bar(tableReg & 7).address() + (tableReg & ~7L & 0xffff_ffffL);
        for (int v = 0; v < tableSize; v++) {
            long e = table + 16L * v;
            machine.machine().mmio().write(e, 4, MSI_ADDRESS);
            machine.machine().mmio().write(e + 4, 4, 0);
            machine.machine().mmio().write(e + 8, 4, msiData(v));
            machine.machine().mmio().write(e + 12, 4, 0);
        }
        pci.write16(a, cap.offset() + 2, control | 0x8000);
        msix = true;
    }

    /** Selects {@code q} and returns its maximum size. */
    public int queueMaxSize(int q) {
        commonWrite(QUEUE_SELECT, 2, q);
        return (int) commonRead(QUEUE_SIZE, 2);
    }

    /**
     * Sets up queue {@code q} with {@code size} entries (section 4.1.5.1.3):
     * allocates rings, writes size, MSI-X vector q+1 (when MSI-X is on) and
     * addresses, and enables it.
     */
    public DriverQueue setupQueue(int q, int size) {
        DriverQueue dq = new DriverQueue(this, machine.memory(), machine.allocator(), q, size);
        commonWrite(QUEUE_SELECT, 2, q);
        commonWrite(QUEUE_SIZE, 2, size);
        if (msix) {
            commonWrite(QUEUE_MSIX_VECTOR, 2, q + 1);
            if (commonRead(QUEUE_MSIX_VECTOR, 2) != q + 1) throw new AssertionError("device refused MSI-X vector " + (q + 1) + " for queue " + q);
        }
        commonWrite(QUEUE_DESC, 8, dq.descriptorTableAddress());
        commonWrite(QUEUE_DRIVER, 8, dq.availRingAddress());
        commonWrite(QUEUE_DEVICE, 8, dq.usedRingAddress());
        commonWrite(QUEUE_ENABLE, 2, 1);
        while (queues.size() <= q) queues.add(null);
        queues.set(q, dq);
        return dq;
    }

    /** Step 8: sets DRIVER_OK. */
    public void driverOk() {
        writeStatus(status() | VirtioFeatures.STATUS_DRIVER_OK);
    }

    /**
     * The whole sequence: negotiate {@code wanted}, enable MSI-X with the
     * config vector 0, set up queues 0..n-1 with the given sizes, DRIVER_OK.
     * Returns this driver; its queues are at {@link #queue(int)}.
     */
    public VirtioDriver initialize(long wanted, int... queueSizes) {
        negotiate(wanted);
        enableMsix();
        commonWrite(CONFIG_MSIX_VECTOR, 2, 0);
        for (int q = 0; q < queueSizes.length; q++) setupQueue(q, queueSizes[q]);
        driverOk();
        if ((status() & VirtioFeatures.STATUS_DRIVER_OK) == 0 || needsReset())
            throw new AssertionError("device did not accept DRIVER_OK, status 0x" + Integer.toHexString(status()));
        return this;
    }

    /** Queue {@code q} as set up by this driver. */
    public DriverQueue queue(int q) {
        return queues.get(q);
    }

    /** Writes the notify register of queue {@code q} (its notify offset times the multiplier). */
    public void notifyQueue(int q) {
        commonWrite(QUEUE_SELECT, 2, q);
        long off = commonRead(QUEUE_NOTIFY_OFF, 2) * notifyMultiplier;
        busFor(notify).write(notify + off, 2, q);
    }

    /** Writes the notify register at queue offset {@code q} without selecting it first (for hostile tests). */
    public void notifyRaw(int q) {
        busFor(notify).write(notify + (long) q * notifyMultiplier, 2, q);
    }

    /** Reads (and so clears) the ISR status byte. */
    public int readIsr() {
        return (int) busFor(isr).read(isr, 1);
    }

    /** Reads {@code size} bytes of device-specific config at {@code off}. */
    public long readConfig(int off, int size) {
        if (device < 0) throw new AssertionError("device has no device-specific config capability");
        return busFor(device).read(device + off, size);
    }

    public void writeConfig(int off, int size, long v) {
        busFor(device).write(device + off, size, v);
    }

    /** Length of the device-config region the capability announces. */
    public int deviceConfigLength() {
        return deviceLength;
    }
}
