package vmm.vfiouser.internal.server;

import static vmm.vfiouser.VfioUser.*;

import java.lang.System.Logger.Level;
import java.util.Arrays;
import java.util.Map;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.device.DeviceProvider;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;
import vmm.core.device.SwapGate;
import vmm.core.irq.IrqChip;
import vmm.core.irq.MsiMessage;
import vmm.core.linux.Native;
import vmm.core.linux.PeerMemoryFault;
import vmm.core.pci.BarKind;
import vmm.core.pci.BarSpec;
import vmm.core.pci.MsiXSpec;
import vmm.core.pci.PciAddress;
import vmm.core.pci.PciBus;
import vmm.core.pci.PciFunctionSpec;
import vmm.core.virtio.VirtioDevice;
import vmm.core.virtio.VirtioFeatures;
import vmm.core.virtio.VirtioPciTransport;
import vmm.vfiouser.DeviceInfo;
import vmm.vfiouser.IrqInfo;
import vmm.vfiouser.RegionInfo;
import vmm.vfiouser.internal.protocol.Codec;
import vmm.vfiouser.internal.protocol.ProtocolException;

/**
 * The PCI function a vfio-user socket serves, as VFIO regions and IRQs: the
 * device model behind the core's {@link VirtioPciTransport} on a private
 * {@link PciBus}, whose BARs this server places itself (the client owns the
 * guest's placement, so the BAR and ROM registers the client sees are
 * virtual) and whose interrupts go to the client's eventfds.
 *
 * <p>Regions: 0..5 the BARs (an offset in the region is an offset in the
 * BAR, dispatched through the bus so the MSI-X table the bus emulates
 * answers too), 6 the expansion ROM if the function has one, 7 the
 * configuration space (256 bytes). MSI-X belongs to the server: the
 * client's writes to the capability's control bits and to the table are
 * kept apart from the function, and SET_IRQS decides which vectors reach
 * which eventfds (the server's table sends vector {@code v} as data
 * {@code v}).
 *
 * <p>The model can be {@linkplain #swapTo swapped} under a connected client
 * as a device instance's is (gate closed, pause, save, restore into the
 * successor, same transport and queues, kick), and {@linkplain #detach held}
 * while no provider is there: its state saved, the gate kept closed, so the
 * client's accesses to the device wait (bounded) as a guest's would.
 *
 * <p>Called from one connection thread at a time, and from a configuration
 * thread for swaps; the device's own threads signal interrupts concurrently.
 */
public final class ServedFunction implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("vmm.vfio-user");
    static final PciAddress ADDRESS = new PciAddress(0, 0, 0);
    static final int CONFIG_SIZE = 256;
    /** Where this server decodes the function's BARs on its private bus (nothing else lives there). */
    static final long IO_BASE = 0xc000, MEM32_BASE = 0xe000_0000L, MEM64_BASE = 0x80_0000_0000L;
    /** pci_regs.h names. */
    static final int PCI_COMMAND = 0x04, PCI_COMMAND_IO = 0x1, PCI_COMMAND_MEMORY = 0x2, PCI_BASE_ADDRESS_0 = 0x10,
            PCI_ROM_ADDRESS = 0x30, PCI_CAPABILITY_LIST = 0x34, PCI_STATUS = 0x06, PCI_STATUS_CAP_LIST = 0x10,
            PCI_CAP_ID_MSIX = 0x11, PCI_MSIX_FLAGS = 2, PCI_MSIX_FLAGS_ENABLE = 0x8000, PCI_MSIX_FLAGS_MASKALL = 0x4000,
            PCI_MSIX_ENTRY_SIZE = 16, PCI_MSIX_ENTRY_DATA = 8, PCI_MSIX_ENTRY_VECTOR_CTRL = 12, PCI_MSIX_ENTRY_CTRL_MASKBIT = 1;
    /** The address the server's MSI-X table names; only its data (the vector) matters to {@link ClientInterrupts}. */
    static final long MSI_ADDRESS = 0xfee0_0000L;

    private final String owner;
    private final IoPortBus io = new IoPortBus();
    private final MmioBus mmio = new MmioBus();
    private final ClientInterrupts irqs;
    private final PciBus bus;
    private final DmaSpace dma;
    private final Map<String, Object> config;
    private final SwapGate gate = new SwapGate();
    /** Serializes changes of model with resets from the connection thread. */
    private final Object models = new Object();
    /** The model in place (the last one, stopped, while held). */
    private volatile VirtioDevice device;
    private volatile boolean held;
    private DeviceState heldState;
    private boolean resetWhileHeld;
    private final int[] firstMaxQueueSizes;
    private final VirtioPciTransport transport;
    private final PciFunctionSpec spec;
    private final long[] barBase = new long[6];
    private final int msixCap;
    private final byte[] rom;
    private final long romSize;
    /** The client's view of the registers it owns: BARs, ROM BAR, the command register's decode bits, MSI-X control bits. */
    private final int[] barView = new int[6];
    private int romView, commandView, msixControlView;
    private final boolean[] msixMasked;
    private boolean msixEnabled;

    /**
     * Creates the model from {@code provider} and its PCI function.
     *
     * @throws IllegalArgumentException when the configuration is refused or the model is not a virtio device
     */
    public ServedFunction(String instanceId, Map<String, Object> configuration, DeviceProvider provider) {
        this.owner = instanceId;
        this.dma = new DmaSpace(instanceId);
        this.config = Map.copyOf(configuration);
        this.device = create(provider);
        firstMaxQueueSizes = new int[device.queueCount()];
        for (int q = 0; q < firstMaxQueueSizes.length; q++) firstMaxQueueSizes[q] = device.maxQueueSize(q);
        device.start();
        boolean legacy = Boolean.parseBoolean(String.valueOf(configuration.getOrDefault("legacy", "false")));
        int vectors;
        try {
            // The bus needs its IRQ chip before the function exists, the chip needs the function's vector count: forward.
            ClientInterrupts[] chip = new ClientInterrupts[1];
            this.bus = new PciBus(io, mmio, new IrqChip() {
                @Override public void setLevel(int gsi, boolean level) { if (chip[0] != null) chip[0].setLevel(gsi, level); }
                @Override public void signalMsi(MsiMessage message) { if (chip[0] != null) chip[0].signalMsi(message); }
            });
            this.transport = new VirtioPciTransport(bus, ADDRESS, dma::snapshot, device,
                    new VirtioPciTransport.Options(instanceId, legacy, 0), gate);
            this.spec = transport.function().spec();
            vectors = spec.msix() == null ? 0 : spec.msix().tableSize();
            chip[0] = new ClientInterrupts(instanceId, vectors);
            this.irqs = chip[0];
        } catch (RuntimeException e) {
            device.stop();
            throw e;
        }
        this.msixMasked = new boolean[vectors];
        this.rom = spec.rom();
        this.romSize = rom == null ? 0 : Math.max(0x800, Long.highestOneBit(Math.max(1, rom.length - 1)) << 1);
        this.msixCap = findCapability(PCI_CAP_ID_MSIX);
        resetView();
        place();
    }

    private VirtioDevice create(DeviceProvider provider) {
        return VirtioDevice.createServed(provider, owner, config, "vfio-user");
    }

    /**
     * Moves the function to a model from {@code provider}, carrying the state: from the model in place (under a
     * connected client: its queues and ring positions stay), or out of {@link #detach()}. On failure nothing changes.
     *
     * @throws IllegalArgumentException when the new model does not match the function the client sees
     */
    public void swapTo(DeviceProvider provider) {
        synchronized (models) {
            if (!held) gate.close();
            VirtioDevice old = held ? null : device;
            try {
                if (old != null) old.pause();
                VirtioDevice next;
                try {
                    next = build(provider, old != null ? old.saveState() : heldState);
                } catch (RuntimeException e) {
                    if (old != null) old.resume();
                    throw e;
                }
                transport.releaseKernelBindings();
                if (old != null) old.stop();
                transport.replaceDevice(next);
                device = next;
                held = false;
                heldState = null;
            } finally {
                if (!held) gate.open();
            }
        }
        transport.kickEnabledQueues();
    }

    /** Creates, checks, restores and starts a successor; stops it again on failure. */
    private VirtioDevice build(DeviceProvider provider, DeviceState state) {
        VirtioDevice next = create(provider);
        try {
            VirtioDevice now = device;
            String why = "";
            if (next.deviceId() != now.deviceId()) why += " device ID " + next.deviceId() + " != " + now.deviceId();
            if (next.queueCount() != now.queueCount())
                why += " queue count " + next.queueCount() + " != " + now.queueCount();
            if (next.configSize() != now.configSize())
                why += " config size " + next.configSize() + " != " + now.configSize();
            for (int q = 0; q < Math.min(next.queueCount(), firstMaxQueueSizes.length); q++)
                if (next.maxQueueSize(q) < firstMaxQueueSizes[q]) why += " queue " + q + " smaller";
            var ctx = transport.context();
            long missing = ctx == null ? 0
                    : ctx.negotiatedFeatures() & ~next.deviceFeatures() & ~VirtioFeatures.bit(VirtioFeatures.VERSION_1);
            if (missing != 0) why += String.format(" lacks negotiated features 0x%x", missing);
            if (!why.isEmpty())
                throw new IncompatibleStateException("device " + owner
                        + ": the new implementation does not match the served function:" + why);
            if (state != null) next.restoreState(state);
            next.start();
            if (resetWhileHeld) next.reset(); // the client reset the function while no model was there
            resetWhileHeld = false;
            return next;
        } catch (RuntimeException e) {
            next.stop();
            throw e;
        }
    }

    /**
     * The provider left and none is there: the model finishes what it took, its state is saved and it stops; the
     * gate stays closed, so the client's accesses to the device wait (bounded) until {@link #swapTo} brings a
     * successor. The socket and the client stay. Does nothing while held.
     */
    public void detach() {
        synchronized (models) {
            if (held) return;
            gate.close();
            VirtioDevice old = device;
            try {
                old.pause();
                heldState = old.saveState();
            } finally {
                try {
                    transport.releaseKernelBindings();
                    old.stop();
                } finally {
                    held = true;
                }
            }
        }
    }

    /** Whether the function is held with no model (see {@link #detach()}). */
    public boolean held() {
        return held;
    }

    /** The client's registers as after reset: BARs at 0 with their type bits, decode off, MSI-X off. */
    private void resetView() {
        for (int i = 0; i < 6; i++) barView[i] = barRegister(i, 0);
        romView = commandView = msixControlView = 0;
    }

    private int findCapability(int id) {
        if ((bus.configRead(ADDRESS, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST) == 0) return -1;
        int at = bus.configRead(ADDRESS, PCI_CAPABILITY_LIST, 1) & 0xfc;
        for (int n = 0; at >= 0x40 && n < 48; n++) {
            if ((bus.configRead(ADDRESS, at, 1) & 0xff) == id) return at;
            at = bus.configRead(ADDRESS, at + 1, 1) & 0xfc;
        }
        return -1;
    }

    /** Programs the server's own BAR placement and turns decoding on, as firmware would; the client's view is separate. */
    private void place() {
        long io = IO_BASE, m32 = MEM32_BASE, m64 = MEM64_BASE;
        for (BarSpec b : spec.bars()) {
            long base;
            switch (b.kind()) {
                case IO -> { base = align(io, b.size()); io = base + b.size(); }
                case MEMORY32 -> { base = align(m32, b.size()); m32 = base + b.size(); }
                default -> { base = align(m64, b.size()); m64 = base + b.size(); }
            }
            barBase[b.index()] = base;
            int reg = PCI_BASE_ADDRESS_0 + 4 * b.index();
            bus.configWrite(ADDRESS, reg, 4, (int) base);
            if (b.kind() == BarKind.MEMORY64) bus.configWrite(ADDRESS, reg + 4, 4, (int) (base >>> 32));
        }
        writeCommand(bus.configRead(ADDRESS, PCI_COMMAND, 2));
    }

    private static long align(long at, long size) {
        return (at + size - 1) & -size;
    }

    private void writeCommand(int value) {
        bus.configWrite(ADDRESS, PCI_COMMAND, 2, (value & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY)) | PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    }

    public DeviceInfo deviceInfo() {
        return new DeviceInfo(VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET, VFIO_PCI_NUM_REGIONS, VFIO_PCI_NUM_IRQS);
    }

    /** @throws ProtocolException EINVAL for an index outside the device's regions */
    public RegionInfo regionInfo(int index) throws ProtocolException {
        int rw = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
        if (index >= VFIO_PCI_BAR0_REGION_INDEX && index <= VFIO_PCI_BAR5_REGION_INDEX) {
            BarSpec b = spec.bar(index);
            return b == null ? new RegionInfo(index, 0, 0, 0, -1) : new RegionInfo(index, rw, b.size(), 0, -1);
        }
        return switch (index) {
            case VFIO_PCI_ROM_REGION_INDEX -> new RegionInfo(index, rom == null ? 0 : VFIO_REGION_INFO_FLAG_READ, romSize, 0, -1);
            case VFIO_PCI_CONFIG_REGION_INDEX -> new RegionInfo(index, rw, CONFIG_SIZE, 0, -1);
            case VFIO_PCI_VGA_REGION_INDEX -> new RegionInfo(index, 0, 0, 0, -1);
            default -> throw ProtocolException.invalid("region " + Integer.toUnsignedString(index) + " does not exist (0.." + (VFIO_PCI_NUM_REGIONS - 1) + ")");
        };
    }

    /** @throws ProtocolException EINVAL for an index outside 0..4 */
    public IrqInfo irqInfo(int index) throws ProtocolException {
        return switch (index) {
            case VFIO_PCI_INTX_IRQ_INDEX -> new IrqInfo(index, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED,
                    spec.interruptPin() == 0 ? 0 : 1);
            case VFIO_PCI_MSI_IRQ_INDEX -> new IrqInfo(index, VFIO_IRQ_INFO_EVENTFD, spec.msi() == null ? 0 : spec.msi().vectors());
            case VFIO_PCI_MSIX_IRQ_INDEX -> new IrqInfo(index, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_NORESIZE,
                    msixMasked.length);
            case VFIO_PCI_ERR_IRQ_INDEX, VFIO_PCI_REQ_IRQ_INDEX -> new IrqInfo(index, VFIO_IRQ_INFO_EVENTFD, 0);
            default -> throw ProtocolException.invalid("IRQ type " + Integer.toUnsignedString(index) + " does not exist (0.." + (VFIO_PCI_NUM_IRQS - 1) + ")");
        };
    }

    // --- Region access --------------------------------------------------------------------

    private void checkRange(int index, long offset, int count, boolean write) throws ProtocolException {
        RegionInfo r = regionInfo(index);
        if (write ? !r.writable() : !r.readable())
            throw ProtocolException.invalid("region " + index + " cannot be " + (write ? "written" : "read"));
        if (offset > r.size() || count > r.size() - offset)
            throw ProtocolException.invalid(String.format("region %d: [0x%x, +0x%x) is outside its 0x%x bytes", index, offset, count, r.size()));
    }

    /** REGION_READ: {@code count} bytes from {@code offset}, split into the naturally aligned accesses a CPU would make. */
    public byte[] read(int index, long offset, int count) throws ProtocolException {
        checkRange(index, offset, count, false);
        byte[] out = new byte[count];
        if (index == VFIO_PCI_ROM_REGION_INDEX) {
            for (int i = 0; i < count; i++) {
                long at = offset + i;
                out[i] = at < rom.length ? rom[(int) at] : 0;
            }
            return out;
        }
        int widest = index == VFIO_PCI_CONFIG_REGION_INDEX || spec.bar(index).kind() == BarKind.IO ? 4 : 8;
        for (int done = 0, n; done < count; done += n) {
            long at = offset + done;
            n = accessSize(at, count - done, widest);
            long v = index == VFIO_PCI_CONFIG_REGION_INDEX ? configRead((int) at, n) & 0xffffffffL : barRead(index, at, n);
            for (int i = 0; i < n; i++) out[done + i] = (byte) (v >>> (8 * i));
        }
        return out;
    }

    /** REGION_WRITE of {@code data} at {@code offset}, split as reads are. */
    public void write(int index, long offset, byte[] data) throws ProtocolException {
        checkRange(index, offset, data.length, true);
        int widest = index == VFIO_PCI_CONFIG_REGION_INDEX || spec.bar(index).kind() == BarKind.IO ? 4 : 8;
        for (int done = 0, n; done < data.length; done += n) {
            long at = offset + done;
            n = accessSize(at, data.length - done, widest);
            long v = 0;
            for (int i = 0; i < n; i++) v |= (data[done + i] & 0xffL) << (8 * i);
            if (index == VFIO_PCI_CONFIG_REGION_INDEX) configWrite((int) at, n, (int) v);
            else barWrite(index, at, n, v);
        }
    }

    private static int accessSize(long at, int left, int widest) {
        for (int n = widest; n > 1; n >>= 1) if (at % n == 0 && left >= n) return n;
        return 1;
    }

    private long barRead(int index, long offset, int size) {
        BarSpec b = spec.bar(index);
        return b.kind() == BarKind.IO ? io.read(barBase[index] + offset, size) : mmio.read(barBase[index] + offset, size);
    }

    private void barWrite(int index, long offset, int size, long value) {
        BarSpec b = spec.bar(index);
        if (inMsixStructures(index, offset, size)) return; // the server's table: the client emulates its own
        if (b.kind() == BarKind.IO) io.write(barBase[index] + offset, size, value);
        else mmio.write(barBase[index] + offset, size, value);
    }

    private boolean inMsixStructures(int index, long offset, int size) {
        MsiXSpec x = spec.msix();
        if (x == null) return false;
        return index == x.tableBar() && offset < x.tableOffset() + x.tableLength() && x.tableOffset() < offset + size
                || index == x.pbaBar() && offset < x.pbaOffset() + x.pbaLength() && x.pbaOffset() < offset + size;
    }

    // --- Configuration space: what the client owns is virtual ----------------------------------------

    private int configRead(int offset, int size) {
        int dword = offset & ~3, shift = 8 * (offset & 3);
        long mask = size == 4 ? 0xffffffffL : (1L << (8 * size)) - 1;
        int v;
        if (dword >= PCI_BASE_ADDRESS_0 && dword < PCI_BASE_ADDRESS_0 + 24) v = barView[(dword - PCI_BASE_ADDRESS_0) / 4];
        else if (dword == PCI_ROM_ADDRESS) v = romView;
        else {
            v = bus.configRead(ADDRESS, dword, 4);
            if (dword == PCI_COMMAND) v = (v & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY)) | commandView;
            if (msixCap >= 0 && dword == msixCap) v = (v & ~((PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) << 16)) | (msixControlView << 16);
        }
        return (int) ((v >>> shift) & mask);
    }

    private void configWrite(int offset, int size, int value) {
        int dword = offset & ~3, shift = 8 * (offset & 3);
        int mask = size == 4 ? -1 : ((1 << (8 * size)) - 1) << shift;
        int bits = value << shift;
        if (dword >= PCI_BASE_ADDRESS_0 && dword < PCI_BASE_ADDRESS_0 + 24) {
            int i = (dword - PCI_BASE_ADDRESS_0) / 4;
            barView[i] = barRegister(i, (barView[i] & ~mask) | (bits & mask));
            return;
        }
        if (dword == PCI_ROM_ADDRESS) {
            int v = (romView & ~mask) | (bits & mask);
            romView = romSize == 0 ? 0 : v & ((int) -romSize | 1);
            return;
        }
        if (dword == PCI_COMMAND && (mask & 0xffff) != 0) {
            int cmd = bits & mask & 0xffff;
            commandView = (commandView & ~(mask & 3)) | (cmd & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
            int real = bus.configRead(ADDRESS, PCI_COMMAND, 2);
            writeCommand((real & ~mask) | cmd);
            if ((mask & 0xffff0000) != 0) bus.configWrite(ADDRESS, PCI_STATUS, 2, (bits & mask) >>> 16); // write-1-to-clear status bits
            return;
        }
        if (msixCap >= 0 && dword == msixCap) {
            if ((mask & 0xffff0000) != 0)
                msixControlView = ((msixControlView << 16 & ~mask) | (bits & mask)) >>> 16 & (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
            return; // ID and next pointer are read-only; control is the client's
        }
        if (size == 4) bus.configWrite(ADDRESS, offset, 4, value);
        else bus.configWrite(ADDRESS, offset, size, value & ((1 << (8 * size)) - 1));
    }

    /** A BAR register as the client wrote it, with the size mask and type bits of the function's BAR. */
    private int barRegister(int i, int written) {
        BarSpec b = spec.bar(i);
        if (b == null) {
            BarSpec lower = i > 0 ? spec.bar(i - 1) : null;
            if (lower != null && lower.kind() == BarKind.MEMORY64) return (int) ((written & 0xffffffffL) & ~((lower.size() - 1) >>> 32));
            return 0;
        }
        return switch (b.kind()) {
            case IO -> (written & (int) -b.size() & ~3) | 1;
            case MEMORY32 -> (written & (int) -b.size() & ~0xf) | (b.prefetchable() ? 8 : 0);
            case MEMORY64 -> (written & (int) -b.size() & ~0xf) | 4 | (b.prefetchable() ? 8 : 0);
        };
    }

    // --- Interrupts -------------------------------------------------------------------------------------

    /**
     * DEVICE_SET_IRQS; takes ownership of {@code fds} (closed on refusal).
     *
     * @throws ProtocolException EINVAL for an index, range or action the IRQ type does not have
     */
    public void setIrqs(Codec.IrqSet s, int[] fds) throws ProtocolException {
        try {
            IrqInfo info = irqInfo(s.index());
            boolean disableAll = s.count() == 0 && s.dataType() == VFIO_IRQ_SET_DATA_NONE && s.action() == VFIO_IRQ_SET_ACTION_TRIGGER;
            if (!disableAll && ((long) s.start() + s.count() > info.count() || s.count() == 0))
                throw ProtocolException.invalid("DEVICE_SET_IRQS: vectors " + s.start() + ".." + ((long) s.start() + s.count() - 1)
                        + " of IRQ type " + s.index() + ", which has " + info.count());
            switch (s.index()) {
                case VFIO_PCI_MSIX_IRQ_INDEX -> setMsix(s, fds, disableAll);
                case VFIO_PCI_INTX_IRQ_INDEX -> setIntx(s, fds, disableAll);
                default -> {
                    if (!disableAll) throw ProtocolException.refuse(ENOTSUP, "DEVICE_SET_IRQS: IRQ type " + s.index() + " is not supported by this server");
                }
            }
        } catch (ProtocolException | RuntimeException e) {
            for (int f : fds) Native.close(f);
            throw e;
        }
    }

    private boolean selected(Codec.IrqSet s, int i) {
        return s.dataType() != VFIO_IRQ_SET_DATA_BOOL || s.bools()[i] != 0;
    }

    private void setMsix(Codec.IrqSet s, int[] fds, boolean disableAll) {
        if (disableAll) {
            for (int v = 0; v < msixMasked.length; v++) irqs.setMsix(v, -1);
            enableMsix(false);
            return;
        }
        switch (s.action()) {
            case VFIO_IRQ_SET_ACTION_TRIGGER -> {
                if (s.dataType() == VFIO_IRQ_SET_DATA_EVENTFD) {
                    for (int i = 0; i < s.count(); i++) irqs.setMsix(s.start() + i, fds.length == 0 ? -1 : fds[i]);
                    enableMsix(irqs.anyMsix());
                } else {
                    for (int i = 0; i < s.count(); i++) if (selected(s, i)) irqs.triggerMsix(s.start() + i);
                }
            }
            case VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_UNMASK -> {
                if (s.dataType() == VFIO_IRQ_SET_DATA_EVENTFD) {
                    for (int f : fds) Native.close(f); // mask notifications are not produced by this server
                    return;
                }
                boolean mask = s.action() == VFIO_IRQ_SET_ACTION_MASK;
                for (int i = 0; i < s.count(); i++)
                    if (selected(s, i)) {
                        msixMasked[s.start() + i] = mask;
                        if (msixEnabled) writeVectorControl(s.start() + i, mask);
                    }
            }
            default -> throw new AssertionError();
        }
    }

    private void setIntx(Codec.IrqSet s, int[] fds, boolean disableAll) {
        if (disableAll) {
            irqs.setIntx(-1);
            return;
        }
        switch (s.action()) {
            case VFIO_IRQ_SET_ACTION_TRIGGER -> {
                if (s.dataType() == VFIO_IRQ_SET_DATA_EVENTFD) irqs.setIntx(fds.length == 0 ? -1 : fds[0]);
                else if (selected(s, 0)) irqs.triggerIntx();
            }
            case VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_UNMASK -> {
                if (s.dataType() == VFIO_IRQ_SET_DATA_EVENTFD) {
                    for (int f : fds) Native.close(f);
                    return;
                }
                if (selected(s, 0)) irqs.maskIntx(s.action() == VFIO_IRQ_SET_ACTION_MASK);
            }
            default -> throw new AssertionError();
        }
    }

    /** Programs the server's MSI-X table (vector v sends data v) and enables or disables MSI-X in the function. */
    private void enableMsix(boolean on) {
        if (msixCap < 0 || on == msixEnabled) return;
        MsiXSpec x = spec.msix();
        if (on) {
            long table = barBase[x.tableBar()] + x.tableOffset();
            for (int v = 0; v < x.tableSize(); v++) {
                long e = table + (long) PCI_MSIX_ENTRY_SIZE * v;
                mmio.write(e, 4, MSI_ADDRESS);
                mmio.write(e + 4, 4, 0);
                mmio.write(e + PCI_MSIX_ENTRY_DATA, 4, v);
                mmio.write(e + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, msixMasked[v] ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);
            }
        }
        irqs.msixActive(on);
        bus.configWrite(ADDRESS, msixCap + PCI_MSIX_FLAGS, 2, on ? PCI_MSIX_FLAGS_ENABLE : 0);
        msixEnabled = on;
    }

    private void writeVectorControl(int v, boolean masked) {
        MsiXSpec x = spec.msix();
        long e = barBase[x.tableBar()] + x.tableOffset() + (long) PCI_MSIX_ENTRY_SIZE * v;
        mmio.write(e + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, masked ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);
    }

    // --- DMA, reset, disconnect -----------------------------------------------------------------------

    public void dmaMap(Codec.DmaMap m, int fd) throws ProtocolException {
        dma.map(m, fd);
    }

    public void dmaUnmap(Codec.DmaUnmap u) throws ProtocolException {
        dma.unmap(u);
    }

    /** Why the client's DMA memory can no longer be used (it shrank an unsealable file under us), or null. */
    public String dmaShrunk() {
        return dma.shrunk();
    }

    /** Live DMA mappings. */
    public int dmaMappings() {
        return dma.mappings();
    }

    /**
     * A function-level reset: the device finishes what it took (so nothing
     * touches client memory afterwards), the driver's virtio state and the
     * function's config space return to their reset values, the server's
     * placement is restored and MSI-X routing is re-armed as the client set it.
     */
    public void reset() {
        synchronized (models) {
            resetLocked();
        }
    }

    private void resetLocked() {
        if (held) resetWhileHeld = true; // nothing to drain: the next model starts from the saved state, then resets
        else try {
            device.pause();
            device.resume();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "vfio-user " + owner + ": the device failed to drain before reset", e);
        } catch (InternalError e) {
            // The model looked at its queues again as it resumed, and the client's memory was gone: reset all the same.
            if (!PeerMemoryFault.is(e)) throw e;
            LOG.log(Level.WARNING, "vfio-user {0}: client memory fault while draining before reset", owner);
        }
        transport.reset();
        dma.deviceReset();
        bus.resetAll();
        resetView();
        boolean wasEnabled = msixEnabled;
        msixEnabled = false;
        Arrays.fill(msixMasked, false);
        place();
        if (wasEnabled) enableMsix(true);
    }

    /** The client left: reset the function, close its eventfds and unmap its memory. The device stays for the next client. */
    public void disconnect() {
        irqs.closeAll();
        reset();
        enableMsix(false);
        dma.close();
    }

    /** Eventfd writes and dropped interrupts so far (tests and logs). */
    public long[] interruptCounts() {
        return irqs.counts();
    }

    public VirtioPciTransport transport() {
        return transport;
    }

    /** Stops the device model; the function is gone. */
    @Override
    public void close() {
        disconnect();
        transport.detach();
        synchronized (models) {
            if (!held) device.stop();
            held = true;
            gate.open(); // nothing is served any more: let waiting accesses through to the detached transport
        }
    }
}
