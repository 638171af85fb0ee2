package vmm.core.virtio;

import static vmm.core.virtio.VirtioPciTransport.*;

import org.junit.jupiter.api.AfterAll;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import vmm.core.device.SwapGate;
import vmm.core.memory.GuestMemory;

/**
 * A hostile virtio-pci driver: any sequence of (region, offset, size,
 * value) accesses to the common configuration, notify, ISR and device
 * configuration structures, the MSI-X table, the legacy I/O BAR and
 * configuration space (the PCI_CFG window included), mixed with the steps
 * of a correct driver so the fuzzer reaches live queues, and with the
 * rings' memory scribbled over. The device (an entropy device ID, so the
 * transitional layout is possible) echoes every chain on a notify, as a
 * real one pops and completes them. Every access returns to the vCPU: a
 * guest error puts the device in DEVICE_NEEDS_RESET, it never throws.
 */
class VirtioPciTransportFuzzTest {
    private static final int[] SIZES = {1, 2, 4, 8}, PIO_SIZES = {1, 2, 4};
    private static final long RING = 0x4000;

    private static final GuestMemory MEMORY = GuestMemory.ofSize(1 << 20);

    @AfterAll
    static void release() {
        MEMORY.close();
    }

    @FuzzTest(maxDuration = "5m")
    void anyDriverAccessSequence(FuzzedDataProvider data) {
        MEMORY.fill(0, 1 << 20, (byte) 0);
        try (PciTestbed bed = new PciTestbed(MEMORY)) {
            boolean legacy = data.consumeBoolean();
            TestDevice device = new TestDevice(4, 2, 16, TestRing.F_INDIRECT | TestRing.F_EVENT_IDX
                    | VirtioFeatures.bit(VirtioFeatures.VERSION_1), 8, 'f');
            bed.plug(1, device, legacy, new SwapGate());
            PciTestbed.Driver d = bed.driver(1);
            while (data.remainingBytes() > 0) {
                int op = data.consumeInt(0, 10);
                int size = SIZES[data.consumeInt(0, 3)];
                long value = data.consumeBoolean() ? data.consumeInt(0, 0xff) : data.consumeLong();
                boolean write = data.consumeBoolean();
                switch (op) {
                    case 0 -> access(bed, d.modernBase + d.common + data.consumeInt(0, 63), size, value, write);
                    case 1 -> bed.mmio.write(d.modernBase + d.notify + (long) data.consumeInt(0, 3) * d.notifyMultiplier
                            + data.consumeInt(0, 3), PIO_SIZES[data.consumeInt(0, 2)], value);
                    case 2 -> access(bed, d.modernBase + d.isr + data.consumeInt(0, 3), size, value, write);
                    case 3 -> access(bed, d.modernBase + d.device + data.consumeInt(0, 15), size, value, write);
                    case 4 -> access(bed, d.msixBase + data.consumeInt(0, 0x1000), size, value, write);
                    case 5 -> {
                        // Config cycles arrive aligned (0xCFC and ECAM align them), at any offset of the page.
                        int n = PIO_SIZES[data.consumeInt(0, 2)], offset = data.consumeInt(0, 0xfff) & -n;
                        if (write) bed.cfg(1, offset, n, (int) value);
                        else bed.cfg(1, offset, n);
                    }
                    case 6 -> {
                        long port = d.ioBase + data.consumeInt(0, 0x3f);
                        int n = PIO_SIZES[data.consumeInt(0, 2)];
                        if (write) bed.io.write(port, n, value);
                        else bed.io.read(port, n);
                    }
                    case 7 -> { // the driver's memory: descriptors, rings, indirect tables
                        long at = RING + data.consumeInt(0, 0x1fff);
                        byte[] bytes = data.consumeBytes(data.consumeInt(0, 32));
                        bed.memory.write(at, bytes, 0, bytes.length);
                    }
                    case 8 -> { // a correct driver's setup steps, so live queues are reached
                        if (legacy) {
                            bed.io.write(d.ioBase + VIRTIO_PCI_QUEUE_SEL, 2, data.consumeInt(0, 2));
                            bed.io.write(d.ioBase + VIRTIO_PCI_QUEUE_PFN, 4, RING >>> VIRTIO_PCI_QUEUE_ADDR_SHIFT);
                            bed.io.write(d.ioBase + VIRTIO_PCI_STATUS, 1, 0x7);
                        } else {
                            d.negotiate(data.consumeLong());
                            d.setupQueue(data.consumeInt(0, 2), 1 << data.consumeInt(0, 5), RING);
                            d.driverOk();
                        }
                    }
                    case 9 -> d.enableMsix();
                    default -> {
                        if (legacy) bed.io.write(d.ioBase + VIRTIO_PCI_QUEUE_NOTIFY, 2, data.consumeInt(0, 2));
                        else d.notifyQueue(data.consumeInt(0, 2));
                    }
                }
            }
        }
    }

    private static void access(PciTestbed bed, long at, int size, long value, boolean write) {
        if (write) bed.mmio.write(at, size, value);
        else bed.mmio.read(at, size);
    }
}
