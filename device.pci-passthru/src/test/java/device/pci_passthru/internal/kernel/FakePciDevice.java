package device.pci_passthru.internal.kernel;

import static device.pci_passthru.internal.ConfigBytes.put16;
import static device.pci_passthru.internal.ConfigBytes.put32;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import device.pci_passthru.internal.ConfigBytes;
import device.pci_passthru.vfio.VfioDevice;

/**
 * The PCI function behind the fake VFIO kernel: config space bytes, region
 * contents, IRQ counts. {@link #standard()} is shaped like a small NIC:
 * BAR0 32-bit memory 128 KiB (mappable), BAR2 I/O 32 bytes, BAR3 32-bit memory
 * 16 KiB holding the MSI-X table (5 vectors at 0) and PBA (at 0x2000), mappable
 * only around them (sparse areas), BAR4 64-bit prefetchable 64 KiB, a 64 KiB
 * ROM; capabilities PM at 0x40, MSI (64-bit, maskable, 4 vectors) at 0x50, VPD
 * at 0x68 (to be hidden), a vendor-specific one of 8 bytes at 0x70, MSI-X at 0xa0,
 * PCI Express v2 at 0xb0.
 */
public final class FakePciDevice {
    static final int R = VfioDevice.VFIO_REGION_INFO_FLAG_READ, W = VfioDevice.VFIO_REGION_INFO_FLAG_WRITE,
            M = VfioDevice.VFIO_REGION_INFO_FLAG_MMAP;

    /** One region: flags, size, sparse mmap areas ({offset, size}) or null, contents. */
    public static final class Region {
        public final int flags;
        public final long size;
        public final List<long[]> sparse;
        public final MemorySegment backing;

        Region(int flags, long size, List<long[]> sparse, Arena arena) {
            this.flags = flags;
            this.size = size;
            this.sparse = sparse;
            this.backing = arena.allocate(Math.max(size, 1), 4096);
        }
    }

    public String address = "0000:03:00.0";
    public final Region[] regions = new Region[VfioDevice.VFIO_PCI_NUM_REGIONS];
    public final int[] irqCounts = {1, 4, 5, 1, 1};
    public final int[] irqFlags = {
        VfioDevice.VFIO_IRQ_INFO_EVENTFD | VfioDevice.VFIO_IRQ_INFO_MASKABLE | VfioDevice.VFIO_IRQ_INFO_AUTOMASKED,
        VfioDevice.VFIO_IRQ_INFO_EVENTFD | VfioDevice.VFIO_IRQ_INFO_NORESIZE,
        VfioDevice.VFIO_IRQ_INFO_EVENTFD | VfioDevice.VFIO_IRQ_INFO_NORESIZE,
        VfioDevice.VFIO_IRQ_INFO_EVENTFD, VfioDevice.VFIO_IRQ_INFO_EVENTFD};
    public boolean canReset = true;
    public final byte[] config = new byte[256];
    private final byte[] configAtStart = new byte[256];
    public final List<String> accesses = new ArrayList<>();
    public final List<long[]> mmaps = new ArrayList<>();
    public int munmaps;
    private final Arena arena = Arena.ofShared();

    public static final int PM = 0x40, MSI = 0x50, VPD = 0x68, VNDR = 0x70, MSIX = 0xa0, EXP = 0xb0;

    public static FakePciDevice standard() {
        FakePciDevice d = new FakePciDevice();
        d.regions[0] = new Region(R | W | M, 0x20000, null, d.arena);
        d.regions[2] = new Region(R | W, 32, null, d.arena);
        d.regions[3] = new Region(R | W | M, 0x4000, new ArrayList<>(List.of(new long[] {0x1000, 0x1000}, new long[] {0x3000, 0x1000})), d.arena);
        d.regions[4] = new Region(R | W | M, 0x10000, null, d.arena);
        d.regions[6] = new Region(R, 0x10000, null, d.arena);
        d.regions[7] = new Region(R | W, 256, null, d.arena);
        byte[] c = d.config;
        put16(c, 0x00, 0x8086);
        put16(c, 0x02, 0x10d3);
        put16(c, 0x04, 0x0000);
        put16(c, 0x06, 0x0010); // capability list
        c[0x08] = 0x01;
        c[0x0b] = 0x02; // network controller
        c[0x0e] = (byte) 0x80; // the host device is function 0 of a multi-function device
        put32(c, 0x10, 0x0000_0000); // BAR0: memory, 32-bit
        put32(c, 0x18, 0x0000_0001); // BAR2: I/O
        put32(c, 0x1c, 0x0000_0000); // BAR3: memory, 32-bit
        put32(c, 0x20, 0x0000_000c); // BAR4: memory, 64-bit, prefetchable
        put16(c, 0x2c, 0x8086);
        put16(c, 0x2e, 0xa01f);
        c[0x34] = (byte) PM;
        c[0x3c] = 11; // what the host's BIOS put there: not the guest's business
        c[0x3d] = 1;
        c[PM] = 0x01; c[PM + 1] = MSI; put16(c, PM + 2, 0x0023);
        c[MSI] = 0x05; c[MSI + 1] = VPD; put16(c, MSI + 2, 0x0180 | (2 << 1)); // 64-bit, per-vector mask, 4 vectors
        c[VPD] = 0x03; c[VPD + 1] = (byte) VNDR; put16(c, VPD + 2, 0x0000); // VPD: hidden from the guest
        c[VNDR] = 0x09; c[VNDR + 1] = (byte) MSIX; c[VNDR + 2] = 8; c[VNDR + 3] = 0x5a;
        c[MSIX] = 0x11; c[MSIX + 1] = (byte) EXP; put16(c, MSIX + 2, 4); // 5 vectors
        put32(c, MSIX + 4, 0x0000_0003); // table in BAR3 at 0
        put32(c, MSIX + 8, 0x0000_2003); // PBA in BAR3 at 0x2000
        c[EXP] = 0x10; c[EXP + 1] = 0; put16(c, EXP + 2, 0x0002); // version 2, endpoint
        put16(c, EXP + 8, 0x2810); // device control: MRRS 512, relaxed ordering, no snoop
        put16(c, EXP + 12 + 6, 0x0011); // link status
        c[0xe0] = 0x42; // a device-specific register outside every capability
        System.arraycopy(c, 0, d.configAtStart, 0, 256);
        return d;
    }

    void configRead(long off, MemorySegment buf) {
        for (int i = 0; i < buf.byteSize(); i++) buf.set(JAVA_BYTE, i, config[(int) off + i]);
    }

    void configWrite(long off, MemorySegment buf) {
        for (int i = 0; i < buf.byteSize(); i++) {
            int o = (int) off + i;
            byte b = buf.get(JAVA_BYTE, i);
            if (o == 0x06 || o == 0x07) config[o] &= (byte) ~b; // RW1C
            else config[o] = b;
        }
    }

    void reset() {
        System.arraycopy(configAtStart, 0, config, 0, 256);
    }

    public int config16(int o) {
        return ConfigBytes.u16(config, o);
    }
}
