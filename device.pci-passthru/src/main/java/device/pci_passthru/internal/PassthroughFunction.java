package device.pci_passthru.internal;

import static device.pci_passthru.internal.ConfigBytes.*;
import static device.pci_passthru.internal.PciConfig.*;
import static device.pci_passthru.vfio.VfioDevice.*;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import device.pci_passthru.vfio.DmaRegion;
import device.pci_passthru.vfio.IrqInfo;
import device.pci_passthru.vfio.MappedArea;
import device.pci_passthru.vfio.RegionInfo;
import device.pci_passthru.vfio.VfioDevice;
import device.pci_passthru.vfio.VfioException;
import vmm.core.bus.IoHandler;
import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.bus.Registration;
import vmm.core.hypervisor.Binding;
import vmm.core.hypervisor.HypervisorException;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.memory.GuestMemory;
import vmm.core.memory.RamRegion;
import vmm.core.pci.ConfigSpaceHandler;
import vmm.core.pci.PciAddress;
import vmm.core.pci.PciBus;
import vmm.core.pci.RawPciFunction;

/**
 * A host PCI function given to the guest, driven only through {@link VfioDevice}
 * (so a kernel vfio-pci device and a vfio-user peer look the same here).
 *
 * <p>The guest sees a virtualized configuration space: identity and status come
 * from the device; command, BARs, expansion ROM, interrupt line and the MSI and
 * MSI-X capabilities are emulated here; the capability list keeps power
 * management, MSI, MSI-X, PCI Express and the vendor-specific ones (the
 * device's own registers, which virtio drivers need) and skips the rest;
 * extended space reads 0. Writes the guest may not make are dropped.
 *
 * <p>Memory BARs decode on the MMIO bus (trapped, through region reads and
 * writes) and, where VFIO lets the region be mmap'd, the mapped pages are laid
 * over them as memory slots, so the guest reaches the device without exits,
 * except the pages of the MSI-X table and PBA, which stay trapped and
 * emulated. I/O BARs and the ROM go through region reads and writes.
 *
 * <p>Interrupts never pass through the VMM: INTx is an eventfd with a resample
 * eventfd on a level irqfd; MSI and MSI-X vectors are eventfds that VFIO signals,
 * each bound with an irqfd to a GSI routed to the vector's message. Masking a
 * vector unbinds its irqfd (the eventfd keeps counting, so the interrupt is
 * pending and is delivered when it is unmasked); moving it re-routes its GSI.
 * {@link GuestInterrupts} keeps that part: the MSI and MSI-X registers, the
 * emulated MSI-X table and PBA, and INTx.
 *
 * <p>Guest RAM is mapped for DMA at attach and unmapped at {@link #close()}.
 * A failure of the device at run time (a peer gone, the host refusing) disables
 * the function for the guest (it reads all ones) and is logged; the VM runs on.
 * Thread-safe: config writes, table writes and resets are serialized on one lock.
 */
public final class PassthroughFunction implements ConfigSpaceHandler, AutoCloseable {
    private static final System.Logger LOG = System.getLogger("device.pci-passthru");
    static final long PAGE = 4096;
    private static final int CONFIG = VFIO_PCI_CONFIG_REGION_INDEX;

    /** One BAR as the device has it. */
    record Bar(int index, boolean io, boolean is64, boolean prefetch, long size) {
        int typeBits() {
            return io ? PCI_BASE_ADDRESS_SPACE_IO
                    : (is64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) | (prefetch ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
        }
    }

    /** A part of a BAR mmap'd from the device. */
    private record Area(long offset, MappedArea mapping) {}

    private final Object lock = new Object();
    private final String owner;
    private final VfioDevice dev;
    private final VirtualMachine vm;
    private final IoPortBus ioBus;
    private final MmioBus mmioBus;
    private final GuestMemory memory;

    private final byte[] initial = new byte[PCI_CFG_SPACE_SIZE];
    private final byte[] shadow = new byte[PCI_CFG_SPACE_SIZE];
    /** Bytes read from the device on every access (status, PCI Express, device-specific registers). */
    private final boolean[] live = new boolean[PCI_CFG_SPACE_SIZE];
    /** Bytes of vendor-specific capabilities: guest writes go to the device as they are. */
    private final boolean[] passWrite = new boolean[PCI_CFG_SPACE_SIZE];
    private final Bar[] bars = new Bar[6];
    private final long romSize;
    private final int pmCap, msiCap, msixCap, expCap;
    private final int msiVectorsCapable;
    private final boolean msi64, msiMaskable;
    private final int msixTableSize, msixTableBar, msixPbaBar;
    private final long msixTableOffset, msixPbaOffset;
    private final int intxPin;
    /** MSI, MSI-X and INTx as the guest programs them. */
    private final GuestInterrupts irqs;

    private final List<List<Area>> areas = new ArrayList<>();
    private final Registration[] barRegs = new Registration[6];
    private final List<List<Binding>> barSlots = new ArrayList<>();
    private final long[] decodedAt = new long[6];
    private Registration romReg;
    private long romAt = -1;

    private final List<DmaRegion> dma = new ArrayList<>();
    private RawPciFunction raw;
    private volatile boolean broken;
    private boolean closed;

    private PassthroughFunction(String owner, VfioDevice dev, VirtualMachine vm, IoPortBus io, MmioBus mmio, GuestMemory memory) {
        this.owner = owner;
        this.dev = dev;
        this.vm = vm;
        this.ioBus = io;
        this.mmioBus = mmio;
        this.memory = memory;
        Arrays.fill(decodedAt, -1);
        for (int i = 0; i < 6; i++) {
            areas.add(new ArrayList<>());
            barSlots.add(new ArrayList<>());
        }

        RegionInfo cfg = dev.regionInfo(CONFIG);
        if (!cfg.readable() || cfg.size() < PCI_STD_HEADER_SIZEOF)
            throw new VfioException(dev.name() + ": its config space region (" + cfg.size() + " bytes) is not a readable PCI config space");
        int cfgLen = (int) Math.min(cfg.size(), PCI_CFG_SPACE_SIZE);
        dev.read(CONFIG, 0, initial, 0, cfgLen);
        int vendor = u16(initial, PCI_VENDOR_ID);
        if (vendor == 0xffff || vendor == 0)
            throw new VfioException(dev.name() + ": its config space reads vendor 0x" + Integer.toHexString(vendor) + " (no device answers)");
        if ((initial[PCI_HEADER_TYPE] & 0x7f) != 0)
            throw new VfioException(dev.name() + ": header type " + (initial[PCI_HEADER_TYPE] & 0x7f) + " is a bridge; only endpoints can be passed through");

        readBars();
        RegionInfo rom = dev.info().numRegions() > VFIO_PCI_ROM_REGION_INDEX ? dev.regionInfo(VFIO_PCI_ROM_REGION_INDEX) : null;
        romSize = rom != null && rom.readable() && rom.size() >= 0x800 && Long.bitCount(rom.size()) == 1 && rom.size() <= (1L << 24) ? rom.size() : 0;

        // Capabilities: walk the device's list (bounded, loop-proof), keep the ones we virtualize.
        int pm = -1, msi = -1, msix = -1, exp = -1;
        List<Integer> kept = new ArrayList<>();
        if ((u16(initial, PCI_STATUS) & PCI_STATUS_CAP_LIST) != 0) {
            boolean[] seen = new boolean[PCI_CFG_SPACE_SIZE];
            int p = initial[PCI_CAPABILITY_LIST] & 0xfc;
            for (int steps = 0; p >= PCI_STD_HEADER_SIZEOF && p < cfgLen - 1 && !seen[p] && steps < 48; steps++) {
                seen[p] = true;
                int id = initial[p] & 0xff;
                if (id == PCI_CAP_ID_PM && pm < 0 && p + PCI_PM_SIZEOF <= cfgLen) kept.add(pm = p);
                else if (id == PCI_CAP_ID_MSI && msi < 0 && p + msiLength(u16(initial, p + PCI_MSI_FLAGS)) <= cfgLen) kept.add(msi = p);
                else if (id == PCI_CAP_ID_MSIX && msix < 0 && p + PCI_CAP_MSIX_SIZEOF <= cfgLen && msixPlausible(p)) kept.add(msix = p);
                else if (id == PCI_CAP_ID_EXP && exp < 0 && p + expLength(p) <= cfgLen) kept.add(exp = p);
                else if (id == PCI_CAP_ID_VNDR && p + 3 <= cfgLen) {
                    // Vendor-specific capabilities are the device's own registers (virtio's are how its driver finds it):
                    // kept, read from the device, written through to it.
                    kept.add(p);
                    int len = initial[p + 2] & 0xff;
                    if (len < 3 || p + len > cfgLen) len = 3;
                    Arrays.fill(passWrite, p + 2, p + len, true);
                }
                p = initial[p + PCI_CAP_LIST_NEXT] & 0xfc;
            }
        }
        pmCap = pm;
        msiCap = msi;
        msixCap = msix;
        expCap = exp;

        int msiFlags = msi >= 0 ? u16(initial, msi + PCI_MSI_FLAGS) : 0;
        IrqInfo msiIrq = dev.irqInfo(VFIO_PCI_MSI_IRQ_INDEX);
        msiVectorsCapable = msi >= 0 ? Math.min(1 << Math.min(5, (msiFlags & PCI_MSI_FLAGS_QMASK) >> 1), Math.max(1, Integer.highestOneBit(Math.max(1, msiIrq.count())))) : 0;
        msi64 = (msiFlags & PCI_MSI_FLAGS_64BIT) != 0;
        msiMaskable = (msiFlags & PCI_MSI_FLAGS_MASKBIT) != 0;
        if (msix >= 0) {
            msixTableSize = (u16(initial, msix + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_QSIZE) + 1;
            int t = i32(initial, msix + PCI_MSIX_TABLE), b = i32(initial, msix + PCI_MSIX_PBA);
            msixTableBar = t & PCI_MSIX_TABLE_BIR;
            msixTableOffset = Integer.toUnsignedLong(t & ~PCI_MSIX_TABLE_BIR);
            msixPbaBar = b & PCI_MSIX_TABLE_BIR;
            msixPbaOffset = Integer.toUnsignedLong(b & ~PCI_MSIX_TABLE_BIR);
        } else {
            msixTableSize = 0;
            msixTableBar = msixPbaBar = -1;
            msixTableOffset = msixPbaOffset = 0;
        }

        IrqInfo intx = dev.irqInfo(VFIO_PCI_INTX_IRQ_INDEX);
        int pin = initial[PCI_INTERRUPT_PIN] & 0xff;
        intxPin = pin >= 1 && pin <= 4 && intx.count() >= 1 && intx.eventfd() ? pin : 0;

        irqs = new GuestInterrupts(owner, dev, vm, shadow, msiCap, msiVectorsCapable, msi64, msiMaskable, msixCap,
                msixTableSize, intxPin);
        buildShadow(kept);
        markLive(kept);
    }

    /**
     * Builds the function over {@code dev}, maps guest RAM for DMA, arms INTx, mmaps what
     * may be mapped of the BARs and attaches it to {@code pci} at {@code address}. On
     * failure nothing stays attached or mapped (the device itself is the caller's to close).
     *
     * @throws VfioException         if the device cannot be passed through (not an endpoint, no config space, DMA refused)
     * @throws IllegalStateException if {@code address} is in use
     */
    public static PassthroughFunction attach(String owner, PciAddress address, VfioDevice dev, PciBus pci, IoPortBus io,
            MmioBus mmio, VirtualMachine vm, GuestMemory memory) {
        PassthroughFunction f = new PassthroughFunction(owner, dev, vm, io, mmio, memory);
        try {
            f.mapDma();
            f.mapBars();
            f.raw = pci.attachConfigSpace(owner, address, f);
            if (f.raw.hasOtherFunctions()) f.initial[PCI_HEADER_TYPE] |= (byte) PCI_HEADER_TYPE_MULTIFUNCTION;
            else f.initial[PCI_HEADER_TYPE] &= (byte) ~PCI_HEADER_TYPE_MULTIFUNCTION;
            f.shadow[PCI_HEADER_TYPE] = f.initial[PCI_HEADER_TYPE];
            f.irqs.armIntxBinding(f.raw);
            if (dev.info().canReset()) dev.reset();
            synchronized (f.lock) {
                f.irqs.armIntx();
            }
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
        return f;
    }

    // --- Setup -------------------------------------------------------------

    private void readBars() {
        for (int i = 0; i < 6; i++) {
            RegionInfo r = dev.regionInfo(VFIO_PCI_BAR0_REGION_INDEX + i);
            if (r.size() == 0) continue;
            int reg = i32(initial, PCI_BASE_ADDRESS_0 + 4 * i);
            boolean io = (reg & PCI_BASE_ADDRESS_SPACE_IO) != 0;
            boolean is64 = !io && (reg & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64;
            boolean prefetch = !io && (reg & PCI_BASE_ADDRESS_MEM_PREFETCH) != 0;
            long size = r.size();
            boolean ok = Long.bitCount(size) == 1 && (io ? size >= 4 && size <= 0x10000 : size >= 16)
                    && (is64 ? i < 5 : size <= (1L << 31)) && r.readable();
            if (!ok) {
                LOG.log(Level.WARNING, "{0}: BAR {1} ({2} bytes, register 0x{3}) is not a BAR this VMM can decode; the guest will not see it",
                        owner, i, size, Integer.toHexString(reg));
                continue;
            }
            bars[i] = new Bar(i, io, is64, prefetch, size);
            if (is64) i++; // the upper half is no BAR of its own
        }
    }

    private boolean msixPlausible(int cap) {
        int size = (u16(initial, cap + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_QSIZE) + 1;
        int t = i32(initial, cap + PCI_MSIX_TABLE), p = i32(initial, cap + PCI_MSIX_PBA);
        Bar tb = barAt(t & PCI_MSIX_TABLE_BIR), pb = barAt(p & PCI_MSIX_TABLE_BIR);
        long to = Integer.toUnsignedLong(t & ~7), po = Integer.toUnsignedLong(p & ~7);
        boolean ok = tb != null && !tb.io() && pb != null && !pb.io() && to + 16L * size <= tb.size() && po + ((size + 63) / 64) * 8L <= pb.size();
        if (!ok) LOG.log(Level.WARNING, "{0}: the MSI-X capability places its table or PBA outside its BARs; MSI-X is hidden", owner);
        return ok;
    }

    private Bar barAt(int index) {
        return index >= 0 && index < 6 ? bars[index] : null;
    }

    private static int msiLength(int flags) {
        return 10 + ((flags & PCI_MSI_FLAGS_64BIT) != 0 ? 4 : 0) + ((flags & PCI_MSI_FLAGS_MASKBIT) != 0 ? 10 : 0);
    }

    private int expLength(int cap) {
        return (u16(initial, cap + PCI_EXP_FLAGS) & PCI_EXP_FLAGS_VERS) >= 2 ? PCI_CAP_EXP_ENDPOINT_SIZEOF_V2 : PCI_CAP_EXP_ENDPOINT_SIZEOF_V1;
    }

    private int msiLength() {
        return msiLength(u16(initial, msiCap + PCI_MSI_FLAGS));
    }

    private void buildShadow(List<Integer> kept) {
        byte[] s = initial;
        put16(s, PCI_COMMAND, 0);
        for (int i = 0; i < 6; i++) put32(s, PCI_BASE_ADDRESS_0 + 4 * i, bars[i] == null ? 0 : bars[i].typeBits());
        put32(s, PCI_CARDBUS_CIS, 0);
        put32(s, PCI_ROM_ADDRESS, 0);
        s[PCI_BIST] = 0;
        s[PCI_INTERRUPT_LINE] = 0;
        s[PCI_INTERRUPT_PIN] = (byte) intxPin;
        // The capability list as the guest sees it: the kept ones, in the device's order.
        s[PCI_CAPABILITY_LIST] = (byte) (kept.isEmpty() ? 0 : kept.getFirst());
        for (int k = 0; k < kept.size(); k++)
            s[kept.get(k) + PCI_CAP_LIST_NEXT] = (byte) (k + 1 < kept.size() ? kept.get(k + 1) : 0);
        int status = u16(s, PCI_STATUS);
        put16(s, PCI_STATUS, kept.isEmpty() ? status & ~PCI_STATUS_CAP_LIST : status | PCI_STATUS_CAP_LIST);
        if (msiCap >= 0) {
            int flags = u16(s, msiCap + PCI_MSI_FLAGS);
            int qmask = Integer.numberOfTrailingZeros(msiVectorsCapable) << 1;
            put16(s, msiCap + PCI_MSI_FLAGS, flags & (PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT) | qmask);
            for (int o = PCI_MSI_ADDRESS_LO; o < msiLength(); o++) s[msiCap + o] = 0;
        }
        if (msixCap >= 0) put16(s, msixCap + PCI_MSIX_FLAGS, u16(s, msixCap + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_QSIZE);
        if (pmCap >= 0) put16(s, pmCap + PCI_PM_CTRL, u16(s, pmCap + PCI_PM_CTRL) & ~PCI_PM_CTRL_STATE_MASK);
        System.arraycopy(s, 0, shadow, 0, shadow.length);
    }

    private void markLive(List<Integer> kept) {
        live[PCI_STATUS] = live[PCI_STATUS + 1] = true;
        boolean[] emulated = new boolean[PCI_CFG_SPACE_SIZE];
        Arrays.fill(emulated, 0, PCI_STD_HEADER_SIZEOF, true);
        if (pmCap >= 0) Arrays.fill(emulated, pmCap, pmCap + PCI_PM_SIZEOF, true);
        if (msiCap >= 0) Arrays.fill(emulated, msiCap, msiCap + msiLength(), true);
        if (msixCap >= 0) Arrays.fill(emulated, msixCap, msixCap + PCI_CAP_MSIX_SIZEOF, true);
        if (expCap >= 0) emulated[expCap] = emulated[expCap + 1] = true;
        for (int p : kept) emulated[p] = emulated[p + 1] = true; // IDs and the rewritten next pointers
        for (int o = PCI_STD_HEADER_SIZEOF; o < PCI_CFG_SPACE_SIZE; o++) live[o] = !emulated[o];
        // Hidden capabilities stay out of the list; their bytes read as the device has them.
    }

    private void mapDma() {
        for (RamRegion r : memory.regions()) {
            if (r.readOnly()) continue;
            DmaRegion d = new DmaRegion(r.guestBase(), r.size(), r.segment().address(), r.fd(), r.fdOffset(), true);
            dev.mapDma(d);
            dma.add(d);
        }
    }

    /** mmaps the pages of each memory BAR that VFIO lets us map, leaving out the MSI-X table and PBA pages. */
    private void mapBars() {
        for (Bar b : bars) {
            if (b == null || b.io() || b.size() < PAGE) continue;
            RegionInfo r = dev.regionInfo(VFIO_PCI_BAR0_REGION_INDEX + b.index());
            if (!r.mappable()) continue;
            long start = -1;
            for (long p = 0; p <= b.size(); p += PAGE) {
                boolean ok = p < b.size() && !trappedPage(b.index(), p) && (start < 0 ? r.mappable(p, PAGE) : r.mappable(start, p - start + PAGE));
                if (ok && start < 0) start = p;
                if (!ok && start >= 0) {
                    long s = start;
                    dev.map(b.index(), s, p - s).ifPresent(m -> areas.get(b.index()).add(new Area(s, m)));
                    start = -1;
                    if (p < b.size() && !trappedPage(b.index(), p) && r.mappable(p, PAGE)) start = p;
                }
            }
        }
    }

    /** Whether page {@code p} of BAR {@code bar} holds part of the MSI-X table or PBA. */
    private boolean trappedPage(int bar, long p) {
        if (msixCap < 0) return false;
        return bar == msixTableBar && overlaps(p, PAGE, msixTableOffset, 16L * msixTableSize)
                || bar == msixPbaBar && overlaps(p, PAGE, msixPbaOffset, ((msixTableSize + 63) / 64) * 8L);
    }

    private static boolean overlaps(long a, long alen, long b, long blen) {
        return a < b + blen && b < a + alen;
    }

    // --- Config space --------------------------------------------------------

    @Override
    public int configRead(int offset, int size) {
        if (broken) return (int) ones(size);
        if (offset < 0 || offset >= PCI_CFG_SPACE_SIZE || offset + size > PCI_CFG_SPACE_SIZE) return 0; // no extended capabilities
        try {
            boolean anyLive = false;
            for (int i = 0; i < size; i++) anyLive |= live[offset + i];
            long real = anyLive ? dev.read(CONFIG, offset, size) : 0;
            synchronized (lock) {
                if (msiCap >= 0 && msiMaskable && overlaps(offset, size, msiCap + irqs.msiPendingOffset(), 4))
                    irqs.refreshMsiPending();
                int v = 0;
                for (int i = 0; i < size; i++) {
                    int o = offset + i;
                    int b = live[o] ? (int) (real >>> (8 * i)) & 0xff : shadow[o] & 0xff;
                    if (o == PCI_STATUS) b = b & ~PCI_STATUS_CAP_LIST | shadow[o] & PCI_STATUS_CAP_LIST;
                    v |= b << (8 * i);
                }
                return v;
            }
        } catch (RuntimeException e) {
            fail("config read at 0x" + Integer.toHexString(offset), e);
            return (int) ones(size);
        }
    }

    @Override
    public void configWrite(int offset, int size, int value) {
        if (broken || offset < 0 || offset >= PCI_CFG_SPACE_SIZE || offset + size > PCI_CFG_SPACE_SIZE) return;
        synchronized (lock) {
            if (closed) return;
            try {
                for (int i = 0; i < size; ) {
                    int o = offset + i;
                    if (passWrite[o]) {
                        int run = 1;
                        while (i + run < size && passWrite[o + run]) run++;
                        byte[] b = new byte[run];
                        for (int j = 0; j < run; j++) b[j] = (byte) (value >>> (8 * (i + j)));
                        dev.write(CONFIG, o, b, 0, run);
                        i += run;
                        continue;
                    }
                    int[] reg = register(o);
                    if (reg == null) {
                        i++; // a byte the guest may not write
                        continue;
                    }
                    int regOff = reg[0], regLen = reg[1];
                    int old = get(shadow, regOff, regLen), written = 0, mask = 0;
                    for (int j = 0; j < regLen; j++) {
                        int byteAt = regOff + j;
                        if (byteAt >= offset && byteAt < offset + size) {
                            written |= ((value >>> (8 * (byteAt - offset))) & 0xff) << (8 * j);
                            mask |= 0xff << (8 * j);
                        }
                    }
                    writeRegister(regOff, (old & ~mask) | (written & mask), written & mask, mask);
                    i = regOff + regLen - offset;
                }
            } catch (RuntimeException e) {
                fail("config write at 0x" + Integer.toHexString(offset), e);
            }
        }
    }

    /** The writable register holding byte {@code o}, as {offset, length}, or null. */
    private int[] register(int o) {
        if (o == PCI_COMMAND || o == PCI_COMMAND + 1) return new int[] {PCI_COMMAND, 2};
        if (o == PCI_STATUS || o == PCI_STATUS + 1) return new int[] {PCI_STATUS, 2};
        if (o == PCI_CACHE_LINE_SIZE || o == PCI_LATENCY_TIMER || o == PCI_INTERRUPT_LINE) return new int[] {o, 1};
        if (o >= PCI_BASE_ADDRESS_0 && o < PCI_CARDBUS_CIS) return new int[] {o & ~3, 4};
        if (o >= PCI_ROM_ADDRESS && o < PCI_ROM_ADDRESS + 4) return new int[] {PCI_ROM_ADDRESS, 4};
        if (msiCap >= 0) {
            int r = o - msiCap;
            if (r == PCI_MSI_FLAGS || r == PCI_MSI_FLAGS + 1) return new int[] {msiCap + PCI_MSI_FLAGS, 2};
            if (r >= PCI_MSI_ADDRESS_LO && r < PCI_MSI_ADDRESS_LO + 4) return new int[] {msiCap + PCI_MSI_ADDRESS_LO, 4};
            if (msi64 && r >= PCI_MSI_ADDRESS_HI && r < PCI_MSI_ADDRESS_HI + 4) return new int[] {msiCap + PCI_MSI_ADDRESS_HI, 4};
            int data = msi64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32;
            if (r == data || r == data + 1) return new int[] {msiCap + data, 2};
            int maskAt = msi64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32;
            if (msiMaskable && r >= maskAt && r < maskAt + 4) return new int[] {msiCap + maskAt, 4};
        }
        if (msixCap >= 0 && (o == msixCap + PCI_MSIX_FLAGS || o == msixCap + PCI_MSIX_FLAGS + 1))
            return new int[] {msixCap + PCI_MSIX_FLAGS, 2};
        if (pmCap >= 0 && (o == pmCap + PCI_PM_CTRL || o == pmCap + PCI_PM_CTRL + 1)) return new int[] {pmCap + PCI_PM_CTRL, 2};
        if (expCap >= 0 && (o == expCap + PCI_EXP_DEVCTL || o == expCap + PCI_EXP_DEVCTL + 1)) return new int[] {expCap + PCI_EXP_DEVCTL, 2};
        if (expCap >= 0 && (o == expCap + PCI_EXP_DEVSTA || o == expCap + PCI_EXP_DEVSTA + 1)) return new int[] {expCap + PCI_EXP_DEVSTA, 2};
        return null;
    }

    /** Applies a guest write: {@code v} is the register's new value, {@code written} the bytes the guest wrote (under {@code mask}). */
    private void writeRegister(int reg, int v, int written, int mask) {
        if (reg == PCI_COMMAND) {
            int cmd = v & COMMAND_WRITABLE;
            put16(shadow, PCI_COMMAND, cmd);
            int real = (int) dev.read(CONFIG, PCI_COMMAND, 2);
            dev.write(CONFIG, PCI_COMMAND, 2, (real & ~COMMAND_WRITABLE) | cmd);
            updateDecode();
        } else if (reg == PCI_STATUS) {
            if ((written & PCI_STATUS_RW1C) != 0) dev.write(CONFIG, PCI_STATUS, 2, written & PCI_STATUS_RW1C);
        } else if (reg == PCI_CACHE_LINE_SIZE || reg == PCI_LATENCY_TIMER || reg == PCI_INTERRUPT_LINE) {
            shadow[reg] = (byte) v;
        } else if (reg >= PCI_BASE_ADDRESS_0 && reg < PCI_CARDBUS_CIS) {
            writeBar((reg - PCI_BASE_ADDRESS_0) / 4, v);
        } else if (reg == PCI_ROM_ADDRESS) {
            put32(shadow, PCI_ROM_ADDRESS, romSize == 0 ? 0 : v & (int) ~(romSize - 1) & PCI_ROM_ADDRESS_MASK | v & PCI_ROM_ADDRESS_ENABLE);
            updateDecode();
        } else if (msiCap >= 0 && reg >= msiCap && reg < msiCap + msiLength()) {
            irqs.writeMsi(reg - msiCap, v);
        } else if (msixCap >= 0 && reg == msixCap + PCI_MSIX_FLAGS) {
            irqs.writeMsixControl(v);
        } else if (pmCap >= 0 && reg == pmCap + PCI_PM_CTRL) {
            // The power state is virtual: a guest putting the device to D3 must not lose it for the host.
            int state = v & PCI_PM_CTRL_STATE_MASK;
            put16(shadow, reg, u16(shadow, reg) & ~PCI_PM_CTRL_STATE_MASK | (state == 1 || state == 2 ? 0 : state));
        } else if (expCap >= 0 && reg == expCap + PCI_EXP_DEVCTL) {
            if ((written & PCI_EXP_DEVCTL_BCR_FLR) != 0) {
                // A function level reset: the function is as after power-on (the guest's driver restores its config).
                teardownGuestState();
                resetDevice("function level reset by the guest");
                irqs.armIntx();
                return;
            }
            int real = (int) dev.read(CONFIG, reg, 2);
            dev.write(CONFIG, reg, 2, real & ~PCI_EXP_DEVCTL_PASSED | v & PCI_EXP_DEVCTL_PASSED);
        } else if (expCap >= 0 && reg == expCap + PCI_EXP_DEVSTA) {
            if ((written & PCI_EXP_DEVSTA_RW1C) != 0) dev.write(CONFIG, reg, 2, written & PCI_EXP_DEVSTA_RW1C);
        }
    }

    private void writeBar(int index, int v) {
        int reg = PCI_BASE_ADDRESS_0 + 4 * index;
        Bar b = bars[index];
        if (b == null && index > 0 && bars[index - 1] != null && bars[index - 1].is64()) {
            long size = bars[index - 1].size();
            put32(shadow, reg, v & (int) (~(size - 1) >>> 32));
        } else if (b != null) {
            int mask = (int) ~(b.size() - 1) & (b.io() ? ~0x3 : ~0xf);
            put32(shadow, reg, v & mask | b.typeBits());
        } else {
            return; // no BAR here: reads 0
        }
        updateDecode();
    }

    private long barAddress(Bar b) {
        long lo = Integer.toUnsignedLong(i32(shadow, PCI_BASE_ADDRESS_0 + 4 * b.index()));
        if (b.io()) return lo & ~0x3L;
        long a = lo & ~0xfL;
        if (b.is64()) a |= Integer.toUnsignedLong(i32(shadow, PCI_BASE_ADDRESS_0 + 4 * b.index() + 4)) << 32;
        return a;
    }

    /** Brings every BAR's and the ROM's decode in line with the command register and the addresses. */
    private void updateDecode() {
        int cmd = u16(shadow, PCI_COMMAND);
        for (Bar b : bars) {
            if (b == null) continue;
            long a = barAddress(b);
            boolean on = (cmd & (b.io() ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)) != 0 && a != 0
                    && (b.io() ? a + b.size() <= 0x10000 : a + b.size() <= (1L << 52) && a + b.size() > a);
            long want = on ? a : -1;
            if (want != decodedAt[b.index()]) {
                undecode(b.index());
                if (on) decode(b, a);
            }
        }
        int rom = i32(shadow, PCI_ROM_ADDRESS);
        long romAddr = Integer.toUnsignedLong(rom & PCI_ROM_ADDRESS_MASK);
        boolean romOn = romSize > 0 && (cmd & PCI_COMMAND_MEMORY) != 0 && (rom & PCI_ROM_ADDRESS_ENABLE) != 0 && romAddr != 0;
        long want = romOn ? romAddr : -1;
        if (want != romAt) {
            if (romReg != null) romReg.close();
            romReg = null;
            romAt = want;
            if (romOn) romReg = register(mmioBus, "ROM", romAddr, romSize, new RomHandler());
        }
    }

    private void decode(Bar b, long a) {
        decodedAt[b.index()] = a;
        barRegs[b.index()] = register(b.io() ? ioBus : mmioBus, "BAR " + b.index(), a, b.size(), new BarTrap(b));
        if (barRegs[b.index()] == null || b.io()) return;
        for (Area area : areas.get(b.index())) {
            try {
                barSlots.get(b.index()).add(vm.mapMemory(a + area.offset(), area.mapping().segment(), false));
            } catch (IllegalArgumentException | UnsupportedOperationException | HypervisorException e) {
                // The trap still serves these pages, only slower.
                LOG.log(Level.WARNING, "{0}: BAR {1} at 0x{2}: pages from 0x{3} stay trapped: {4}", owner, b.index(),
                        Long.toHexString(a), Long.toHexString(area.offset()), e.getMessage());
            }
        }
    }

    private Registration register(vmm.core.bus.AddressBus bus, String what, long a, long size, IoHandler h) {
        try {
            return bus.register(owner + " " + what, a, size, h);
        } catch (RuntimeException e) {
            // A guest placing a BAR over another device's range: that BAR does not decode, as on a real bus conflict.
            LOG.log(Level.WARNING, "{0}: {1} at 0x{2} not decoded: {3}", owner, what, Long.toHexString(a), e.getMessage());
            return null;
        }
    }

    private void undecode(int index) {
        for (Binding s : barSlots.get(index)) s.close();
        barSlots.get(index).clear();
        if (barRegs[index] != null) barRegs[index].close();
        barRegs[index] = null;
        decodedAt[index] = -1;
    }

    // --- BAR accesses ---------------------------------------------------------

    /** The trapped view of a BAR: MSI-X table and PBA emulated, the rest through region reads and writes. */
    private final class BarTrap implements IoHandler {
        private final Bar bar;

        BarTrap(Bar bar) {
            this.bar = bar;
        }

        @Override
        public long read(long offset, int size) {
            if (broken) return ones(size);
            try {
                if (bar.index() == msixTableBar && inside(offset, size, msixTableOffset, 16L * msixTableSize))
                    return msixTableRead(offset - msixTableOffset, size);
                if (bar.index() == msixPbaBar && inside(offset, size, msixPbaOffset, ((msixTableSize + 63) / 64) * 8L))
                    return pbaRead(offset - msixPbaOffset, size);
                if (touchesMsix(offset, size)) return 0; // straddles the table's edge: no such access on real hardware
                return dev.read(VFIO_PCI_BAR0_REGION_INDEX + bar.index(), offset, size);
            } catch (RuntimeException e) {
                fail("read of BAR " + bar.index() + " at 0x" + Long.toHexString(offset), e);
                return ones(size);
            }
        }

        @Override
        public void write(long offset, int size, long value) {
            if (broken) return;
            try {
                if (bar.index() == msixTableBar && inside(offset, size, msixTableOffset, 16L * msixTableSize)) {
                    msixTableWrite(offset - msixTableOffset, size, value);
                    return;
                }
                if (touchesMsix(offset, size)) return; // the PBA is read-only; straddling writes are dropped
                dev.write(VFIO_PCI_BAR0_REGION_INDEX + bar.index(), offset, size, value);
            } catch (RuntimeException e) {
                fail("write of BAR " + bar.index() + " at 0x" + Long.toHexString(offset), e);
            }
        }

        private boolean touchesMsix(long offset, int size) {
            return msixCap >= 0 && (bar.index() == msixTableBar && overlaps(offset, size, msixTableOffset, 16L * msixTableSize)
                    || bar.index() == msixPbaBar && overlaps(offset, size, msixPbaOffset, ((msixTableSize + 63) / 64) * 8L));
        }
    }

    private boolean inside(long offset, int size, long start, long length) {
        return msixCap >= 0 && offset >= start && offset + size <= start + length;
    }

    private final class RomHandler implements IoHandler {
        @Override
        public long read(long offset, int size) {
            if (broken) return ones(size);
            try {
                return dev.read(VFIO_PCI_ROM_REGION_INDEX, offset, size);
            } catch (RuntimeException e) {
                fail("read of the expansion ROM at 0x" + Long.toHexString(offset), e);
                return ones(size);
            }
        }

        @Override
        public void write(long offset, int size, long value) {
            // ROM: writes are dropped.
        }
    }

    // --- MSI-X table and PBA (emulated; see GuestInterrupts) ----------------------

    private long msixTableRead(long off, int size) {
        synchronized (lock) {
            return irqs.msixTableRead(off, size);
        }
    }

    private void msixTableWrite(long off, int size, long value) {
        synchronized (lock) {
            if (!closed) irqs.msixTableWrite(off, size, value);
        }
    }

    private long pbaRead(long off, int size) {
        synchronized (lock) {
            return irqs.pbaRead(off, size);
        }
    }

    // --- Reset and stop ----------------------------------------------------------------

    /** Platform reset: the guest-visible function as after attach, and the device reset through VFIO. */
    @Override
    public void reset() {
        synchronized (lock) {
            if (closed || broken) return;
            try {
                teardownGuestState();
                resetDevice("platform reset");
                irqs.armIntx();
            } catch (RuntimeException e) {
                fail("reset", e);
            }
        }
    }

    private void teardownGuestState() {
        irqs.disableMsix();
        irqs.disableMsi();
        irqs.disarmIntx();
        System.arraycopy(initial, 0, shadow, 0, shadow.length);
        irqs.resetMsixTable();
        updateDecode();
    }

    /** Resets the device through VFIO (FLR or whatever reset the host has for it); its interrupts are off afterwards. */
    private void resetDevice(String why) {
        if (!dev.info().canReset()) {
            LOG.log(Level.WARNING, "{0}: {1}: the device cannot be reset through VFIO; it keeps its state", owner, why);
            return;
        }
        dev.reset();
    }

    /**
     * Detaches the function, turns its interrupts off, resets the device, removes the BAR
     * mappings and the DMA mappings. Does not close the {@link VfioDevice}. Idempotent.
     */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) return;
            closed = true;
            if (raw != null) raw.detach();
            try {
                irqs.releaseMsiVectors();
                irqs.disarmIntx();
            } catch (RuntimeException e) {
                LOG.log(Level.DEBUG, "{0}: turning interrupts off at stop: {1}", owner, e.getMessage());
            }
            irqs.closeIntx();
            for (int i = 0; i < 6; i++) undecode(i);
            if (romReg != null) romReg.close();
            romReg = null;
            for (List<Area> l : areas) {
                for (Area a : l) a.mapping().close();
                l.clear();
            }
            if (!broken && dev.info().canReset()) {
                try {
                    dev.reset();
                } catch (RuntimeException e) {
                    LOG.log(Level.WARNING, "{0}: reset at stop failed: {1}", owner, e.getMessage());
                }
            }
            for (DmaRegion d : dma) {
                try {
                    dev.unmapDma(d.iova(), d.size());
                } catch (RuntimeException e) {
                    LOG.log(Level.DEBUG, "{0}: DMA unmap at stop: {1}", owner, e.getMessage());
                }
            }
            dma.clear();
        }
    }

    /** The device failed at run time: the guest loses it (reads all ones), the VMM and the VM go on. */
    private void fail(String what, RuntimeException e) {
        if (e instanceof IllegalStateException && closed) return;
        if (broken) return;
        broken = true;
        LOG.log(Level.ERROR, "{0}: {1} failed: {2}; the device is disabled for the guest (it reads all ones), the VM keeps running",
                owner, what, e.getMessage());
        synchronized (lock) {
            try {
                irqs.releaseMsiVectors();
            } catch (RuntimeException ignored) {
                // the device is gone; what is ours is released below
            }
            for (int i = 0; i < 6; i++) undecode(i);
        }
    }

    /** Whether the function was disabled by a device failure. */
    public boolean broken() {
        return broken;
    }
}
