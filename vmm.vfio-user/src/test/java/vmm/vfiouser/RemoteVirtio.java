package vmm.vfiouser;

import static vmm.vfiouser.VfioUser.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import vmm.core.linux.Native;
import vmm.core.memory.GuestMemory;
import vmm.core.memory.RamRegion;
import vmm.testing.DriverQueue;
import vmm.testing.GuestAllocator;

/**
 * A virtio-pci driver that reaches its device only through a
 * {@link VfioUserClient}, as a passthrough VMM's guest would: it reads the
 * capabilities from the config region, maps its memory (a memfd) for DMA,
 * routes MSI-X vectors to eventfds and follows the virtio 1.2
 * initialization sequence (3.1.1) with region writes. Not thread-safe.
 */
final class RemoteVirtio implements AutoCloseable {
    static final int COMMON_DF_SELECT = 0, COMMON_DF = 4, COMMON_GF_SELECT = 8, COMMON_GF = 12, COMMON_MSIX = 16,
            COMMON_NUMQ = 18, COMMON_STATUS = 20, COMMON_Q_SELECT = 22, COMMON_Q_SIZE = 24, COMMON_Q_MSIX = 26,
            COMMON_Q_ENABLE = 28, COMMON_Q_DESC = 32, COMMON_Q_DRIVER = 40, COMMON_Q_DEVICE = 48;
    static final int ACKNOWLEDGE = 1, DRIVER = 2, DRIVER_OK = 4, FEATURES_OK = 8, NEEDS_RESET = 64;

    final VfioUserClient client;
    final GuestMemory memory;
    final GuestAllocator allocator;
    final List<Integer> eventfds = new ArrayList<>();
    int commonBar = -1, notifyBar = -1, deviceBar = -1;
    long common, notify, device;
    int notifyMultiplier;

    RemoteVirtio(VfioUserClient client, long ramBytes) {
        this(client, GuestMemory.ofSize(ramBytes));
    }

    /** A driver over memory the test made (one region from address 0, such as a memfd it may shrink). */
    RemoteVirtio(VfioUserClient client, GuestMemory memory) {
        this.client = client;
        this.memory = memory;
        this.allocator = new GuestAllocator(memory, 1 << 20, memory.regions().getFirst().size());
    }

    int config(int off, int size) throws VfioUserException {
        byte[] b = client.regionRead(VFIO_PCI_CONFIG_REGION_INDEX, off, size);
        int v = 0;
        for (int i = 0; i < size; i++) v |= (b[i] & 0xff) << (8 * i);
        return v;
    }

    void configWrite(int off, int size, int v) throws VfioUserException {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) b[i] = (byte) (v >>> (8 * i));
        client.regionWrite(VFIO_PCI_CONFIG_REGION_INDEX, off, b);
    }

    long read(int bar, long off, int size) throws VfioUserException {
        byte[] b = client.regionRead(bar, off, size);
        return ByteBuffer.wrap(java.util.Arrays.copyOf(b, 8)).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    void write(int bar, long off, int size, long v) throws VfioUserException {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) b[i] = (byte) (v >>> (8 * i));
        client.regionWrite(bar, off, b);
    }

    /** Walks the vendor capabilities (virtio 4.1.4) in the config region. */
    void findCapabilities() throws VfioUserException {
        for (int at = config(0x34, 1) & 0xfc, n = 0; at != 0 && n < 48; at = config(at + 1, 1) & 0xfc, n++) {
            if (config(at, 1) != 0x09) continue;
            int type = config(at + 3, 1), bar = config(at + 4, 1);
            long off = Integer.toUnsignedLong(config(at + 8, 4));
            switch (type) {
                case 1 -> { if (commonBar < 0) { commonBar = bar; common = off; } }
                case 2 -> { if (notifyBar < 0) { notifyBar = bar; notify = off; notifyMultiplier = config(at + 16, 4); } }
                case 4 -> { if (deviceBar < 0) { deviceBar = bar; device = off; } }
                default -> { }
            }
        }
        if (commonBar < 0 || notifyBar < 0) throw new AssertionError("no virtio common/notify capability in the config region");
    }

    /** Hands the whole of guest memory to the device (IOVA = guest-physical address). */
    void mapMemory() throws VfioUserException {
        RamRegion r = memory.regions().get(0);
        client.dmaMap(r.guestBase(), r.size(), r.fd(), r.fdOffset(), true);
    }

    /** One eventfd per MSI-X vector, routed with SET_IRQS. */
    void routeMsix(int vectors) throws Exception {
        int[] fds = new int[vectors];
        for (int i = 0; i < vectors; i++) eventfds.add(fds[i] = Native.eventfd(true));
        client.setIrqEventfds(VFIO_PCI_MSIX_IRQ_INDEX, 0, fds);
    }

    long common(int off, int size) throws VfioUserException { return read(commonBar, common + off, size); }

    void common(int off, int size, long v) throws VfioUserException { write(commonBar, common + off, size, v); }

    /** Virtio 3.1.1 up to DRIVER_OK with one queue of {@code size} on MSI-X vector 1 (config on 0); the result is not checked. */
    DriverQueue initialize0(long features, int size) throws Exception {
        configWrite(0x04, 2, config(0x04, 2) | 0x6); // memory decode and bus master
        common(COMMON_STATUS, 1, 0);
        common(COMMON_STATUS, 1, ACKNOWLEDGE);
        common(COMMON_STATUS, 1, ACKNOWLEDGE | DRIVER);
        common(COMMON_GF_SELECT, 4, 0);
        common(COMMON_GF, 4, features);
        common(COMMON_GF_SELECT, 4, 1);
        common(COMMON_GF, 4, features >>> 32);
        common(COMMON_STATUS, 1, ACKNOWLEDGE | DRIVER | FEATURES_OK);
        if ((common(COMMON_STATUS, 1) & FEATURES_OK) == 0) throw new AssertionError("device refused the features");
        common(COMMON_MSIX, 2, 0);
        DriverQueue q = DriverQueue.standalone(memory, allocator, 0, size, () -> kick(0));
        common(COMMON_Q_SELECT, 2, 0);
        common(COMMON_Q_SIZE, 2, size);
        common(COMMON_Q_MSIX, 2, 1);
        common(COMMON_Q_DESC, 8, q.descriptorTableAddress());
        common(COMMON_Q_DRIVER, 8, q.availRingAddress());
        common(COMMON_Q_DEVICE, 8, q.usedRingAddress());
        common(COMMON_Q_ENABLE, 2, 1);
        common(COMMON_STATUS, 1, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
        return q;
    }

    /** {@link #initialize0} and a check that the device took DRIVER_OK without needing a reset. */
    DriverQueue initialize(long features, int size) throws Exception {
        DriverQueue q = initialize0(features, size);
        if ((common(COMMON_STATUS, 1) & (DRIVER_OK | NEEDS_RESET)) != DRIVER_OK) throw new AssertionError("device did not take DRIVER_OK");
        return q;
    }

    /**
     * What most tests start with: the capabilities found, all memory mapped for DMA, two MSI-X vectors routed, and
     * queue 0 of 16 entries live with VERSION_1.
     */
    DriverQueue start() throws Exception {
        findCapabilities();
        mapMemory();
        routeMsix(2);
        return initialize(VfioUserServerTest.VIRTIO_F_VERSION_1, 16);
    }

    void kick(int queue) {
        try {
            write(notifyBar, notify + (long) queue * notifyMultiplier, 2, queue);
        } catch (VfioUserException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Waits (bounded) for the eventfd of {@code vector} and returns its count. */
    long awaitInterrupt(int vector, int timeoutMillis) throws Exception {
        int fd = eventfds.get(vector);
        if (Native.pollReadable(new int[] {fd}, timeoutMillis) < 0) return 0;
        return Native.drain(fd);
    }

    @Override
    public void close() {
        eventfds.forEach(Native::close);
        memory.close();
    }
}
