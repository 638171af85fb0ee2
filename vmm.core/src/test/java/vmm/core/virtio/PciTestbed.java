package vmm.core.virtio;

import static vmm.core.virtio.VirtioPciTransport.*;

import java.util.ArrayList;
import java.util.List;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.device.SwapGate;
import vmm.core.memory.GuestMemory;
import vmm.core.pci.IntxRouting;
import vmm.core.pci.PciAddress;
import vmm.core.pci.PciBus;

/**
 * A machine without a CPU for transport tests: real buses, a PCI bus, 1 MiB
 * of guest RAM and a recording interrupt controller. {@link #driver} plays
 * firmware (places and enables the BARs) and then a virtio-pci driver that
 * finds everything through the capability list, as a guest does.
 */
final class PciTestbed implements AutoCloseable {
    static final int COMMAND = 0x04, STATUS = 0x06, REVISION = 0x08, CLASS = 0x09, BAR0 = 0x10,
            SUBSYSTEM_VENDOR = 0x2c, SUBSYSTEM_ID = 0x2e, CAP_PTR = 0x34, INTERRUPT_PIN = 0x3d;
    static final int CAP_ID_MSIX = 0x11;
    static final long MSI_ADDRESS = 0xfee0_0000L;

    final IoPortBus io = new IoPortBus();
    final MmioBus mmio = new MmioBus();
    final RecordingIrqChip irq = new RecordingIrqChip();
    final PciBus bus = new PciBus(io, mmio, irq);
    final GuestMemory memory;
    private final boolean ownsMemory;

    PciTestbed() {
        this(GuestMemory.ofSize(1 << 20), true);
    }

    /** A testbed over {@code memory} (1 MiB or more from 0), which the caller keeps and closes. */
    PciTestbed(GuestMemory memory) {
        this(memory, false);
    }

    private PciTestbed(GuestMemory memory, boolean ownsMemory) {
        this.memory = memory;
        this.ownsMemory = ownsMemory;
    }

    VirtioPciTransport plug(int slot, VirtioDevice device) {
        return plug(slot, device, false, new SwapGate());
    }

    VirtioPciTransport plug(int slot, VirtioDevice device, boolean legacy, SwapGate gate) {
        return new VirtioPciTransport(bus, PciAddress.slot(slot), memory, device,
                new VirtioPciTransport.Options("test" + slot, legacy, 0), gate);
    }

    int cfg(int slot, int offset, int size) {
        return bus.configRead(PciAddress.slot(slot), offset, size);
    }

    void cfg(int slot, int offset, int size, int value) {
        bus.configWrite(PciAddress.slot(slot), offset, size, value);
    }

    /** Places the function's BARs (per-slot addresses), enables decode and bus mastering, and walks its capabilities. */
    Driver driver(int slot) {
        return new Driver(slot);
    }

    /** The GSI that INTA# of {@code slot} is routed to. */
    static int gsi(int slot) {
        return IntxRouting.standard().gsi(PciAddress.slot(slot), 1);
    }

    @Override
    public void close() {
        if (ownsMemory) memory.close();
    }

    /** One virtio-pci function driven through config cycles and BAR accesses only. */
    final class Driver {
        final int slot;
        final long ioBase, msixBase, modernBase;
        /** Offsets of the structures in BAR4 and config-space offsets of the capabilities, as found by walking. */
        long common = -1, notify = -1, isr = -1, device = -1;
        int notifyMultiplier, deviceLength, pciCfgCap = -1, msixCap = -1;
        final List<int[]> vendorCaps = new ArrayList<>();

        Driver(int slot) {
            this.slot = slot;
            ioBase = 0xc000 + 0x100L * slot;
            msixBase = 0xc000_0000L + 0x10000L * slot;
            modernBase = 0x80_0000_0000L + 0x10000L * slot;
            cfg(slot, BAR0, 4, (int) ioBase);
            cfg(slot, BAR0 + 4, 4, (int) msixBase);
            cfg(slot, BAR0 + 16, 4, (int) modernBase);
            cfg(slot, BAR0 + 20, 4, (int) (modernBase >>> 32));
            cfg(slot, COMMAND, 2, 0x7); // I/O, memory, bus master
            for (int p = cfg(slot, CAP_PTR, 1) & 0xfc; p != 0; p = cfg(slot, p + 1, 1) & 0xfc) {
                int id = cfg(slot, p, 1);
                if (id == CAP_ID_MSIX) msixCap = p;
                if (id != PCI_CAP_ID_VNDR) continue;
                int type = cfg(slot, p + VIRTIO_PCI_CAP_CFG_TYPE, 1), bar = cfg(slot, p + VIRTIO_PCI_CAP_BAR, 1);
                long off = Integer.toUnsignedLong(cfg(slot, p + VIRTIO_PCI_CAP_OFFSET, 4));
                int len = cfg(slot, p + VIRTIO_PCI_CAP_LENGTH, 4);
                vendorCaps.add(new int[] {p, type, bar, (int) off, len, cfg(slot, p + VIRTIO_PCI_CAP_LEN, 1)});
                switch (type) {
                    case VIRTIO_PCI_CAP_COMMON_CFG -> common = off;
                    case VIRTIO_PCI_CAP_NOTIFY_CFG -> {
                        notify = off;
                        notifyMultiplier = cfg(slot, p + VIRTIO_PCI_NOTIFY_CAP_MULT, 4);
                    }
                    case VIRTIO_PCI_CAP_ISR_CFG -> isr = off;
                    case VIRTIO_PCI_CAP_DEVICE_CFG -> {
                        device = off;
                        deviceLength = len;
                    }
                    case VIRTIO_PCI_CAP_PCI_CFG -> pciCfgCap = p;
                    default -> { }
                }
            }
        }

        long read(int off, int size) {
            return mmio.read(modernBase + common + off, size);
        }

        void write(int off, int size, long v) {
            mmio.write(modernBase + common + off, size, v);
        }

        int status() {
            return (int) read(VIRTIO_PCI_COMMON_STATUS, 1);
        }

        void status(int s) {
            write(VIRTIO_PCI_COMMON_STATUS, 1, s);
        }

        boolean needsReset() {
            return (status() & VirtioFeatures.STATUS_DEVICE_NEEDS_RESET) != 0;
        }

        long deviceFeatures() {
            write(VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
            long lo = read(VIRTIO_PCI_COMMON_DF, 4);
            write(VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
            return read(VIRTIO_PCI_COMMON_DF, 4) << 32 | lo;
        }

        void driverFeatures(long f) {
            write(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
            write(VIRTIO_PCI_COMMON_GF, 4, f & 0xffff_ffffL);
            write(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
            write(VIRTIO_PCI_COMMON_GF, 4, f >>> 32);
        }

        long driverFeatures() {
            write(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
            long lo = read(VIRTIO_PCI_COMMON_GF, 4);
            write(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
            return read(VIRTIO_PCI_COMMON_GF, 4) << 32 | lo;
        }

        /** Section 3.1.1 steps 1-6; returns whether FEATURES_OK stuck. */
        boolean negotiate(long features) {
            status(0);
            status(VirtioFeatures.STATUS_ACKNOWLEDGE);
            status(VirtioFeatures.STATUS_ACKNOWLEDGE | VirtioFeatures.STATUS_DRIVER);
            driverFeatures(features);
            status(status() | VirtioFeatures.STATUS_FEATURES_OK);
            return (status() & VirtioFeatures.STATUS_FEATURES_OK) != 0;
        }

        /** Programs queue {@code q} with rings at {@code base} and enables it (4.1.5.1.3). */
        TestRing setupQueue(int q, int size, long base) {
            TestRing ring = new TestRing(memory, size, base);
            write(VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
            write(VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
            write(VIRTIO_PCI_COMMON_Q_DESCLO, 4, ring.desc);
            write(VIRTIO_PCI_COMMON_Q_DESCLO + 4, 4, 0);
            write(VIRTIO_PCI_COMMON_Q_AVAILLO, 8, ring.avail);
            write(VIRTIO_PCI_COMMON_Q_USEDLO, 8, ring.used);
            write(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
            return ring;
        }

        /**
         * MSI-X on, VERSION_1 negotiated, configuration changes on vector 0, queue 0 of 8 entries at 0x1000 on
         * {@code queueVector} (NO_VECTOR: left unset), DRIVER_OK; returns queue 0's rings.
         */
        TestRing startMsix(int queueVector) {
            enableMsix();
            negotiate(VirtioFeatures.bit(VirtioFeatures.VERSION_1));
            write(VIRTIO_PCI_COMMON_MSIX, 2, 0);
            TestRing ring = setupQueue(0, 8, 0x1000);
            if (queueVector != VirtioFeatures.NO_VECTOR) write(VIRTIO_PCI_COMMON_Q_MSIX, 2, queueVector);
            driverOk();
            return ring;
        }

        void driverOk() {
            status(status() | VirtioFeatures.STATUS_DRIVER_OK);
        }

        /** The whole sequence for one queue: VERSION_1 plus {@code features}, queue 0 of {@code size} at {@code base}, DRIVER_OK. */
        TestRing start(long features, int size, long base) {
            if (!negotiate(features | VirtioFeatures.bit(VirtioFeatures.VERSION_1)))
                throw new AssertionError("FEATURES_OK refused");
            TestRing ring = setupQueue(0, size, base);
            driverOk();
            return ring;
        }

        /** The message data this driver programs for MSI-X vector {@code v}. */
        int msiData(int v) {
            return slot << 8 | v;
        }

        /** Programs and unmasks every MSI-X entry, then enables MSI-X. */
        void enableMsix() {
            int control = cfg(slot, msixCap + 2, 2);
            int table = cfg(slot, msixCap + 4, 4);
            long base = msixBase + (table & ~7L & 0xffff_ffffL);
            for (int v = 0; v <= (control & 0x7ff); v++) {
                mmio.write(base + 16L * v, 4, MSI_ADDRESS);
                mmio.write(base + 16L * v + 4, 4, 0);
                mmio.write(base + 16L * v + 8, 4, msiData(v));
                mmio.write(base + 16L * v + 12, 4, 0);
            }
            cfg(slot, msixCap + 2, 2, control | 0x8000);
        }

        void notifyQueue(int q) {
            mmio.write(modernBase + notify + (long) q * notifyMultiplier, 2, q);
        }

        int readIsr() {
            return (int) mmio.read(modernBase + isr, 1);
        }

        long readConfig(int off, int size) {
            return mmio.read(modernBase + device + off, size);
        }

        void writeConfig(int off, int size, long v) {
            mmio.write(modernBase + device + off, size, v);
        }

        long legacyRead(int off, int size) {
            return io.read(ioBase + off, size);
        }

        void legacyWrite(int off, int size, long v) {
            io.write(ioBase + off, size, v);
        }
    }
}
