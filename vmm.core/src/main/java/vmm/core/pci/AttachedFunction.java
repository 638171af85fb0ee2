package vmm.core.pci;

import static vmm.core.pci.PciRegs.*;

import java.lang.System.Logger.Level;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantLock;

import vmm.core.bus.AddressBus;
import vmm.core.bus.BusConflictException;
import vmm.core.bus.IoHandler;
import vmm.core.bus.Registration;
import vmm.core.irq.InterruptLine;
import vmm.core.irq.IrqChip;
import vmm.core.irq.MsiMessage;
import vmm.core.device.IncompatibleStateException;

/**
 * One function on a {@link PciBus}: its 256 bytes of configuration space,
 * the BAR and ROM windows it has registered, its MSI-X table and its INTx
 * state.
 *
 * <p>Configuration space is a byte image plus a parallel mask of the bits a
 * guest may write (the scheme QEMU uses): BAR sizing then falls out of the
 * mask, and sub-dword or unaligned writes merge byte by byte without special
 * cases. Only a few bits are computed on read (interrupt status, the
 * multifunction bit) because they depend on state outside the image.
 *
 * <p>Locking: {@link #lock} guards all state and is held only briefly; under
 * it the function talks to the buses (registration) and the {@link IrqChip},
 * both leaves, but never to device code. {@link #configLock} serializes whole
 * guest configuration cycles, including the calls into a
 * {@link CapabilityHandler}, so that a handler's read-modify-write of its
 * stored bytes is not interleaved with another cycle, while signal paths
 * (which take only {@link #lock}) stay free to run from inside the handler.
 * Order: configLock, then lock, then the bus's GSI lock.
 */
final class AttachedFunction implements PciFunction {
    private static final System.Logger LOG = System.getLogger("vmm.pci");

    private static final int BAR_COUNT = 6;
    /** Index of the expansion ROM in {@link #mapped}, after the six BARs. */
    private static final int ROM_SLOT = BAR_COUNT;
    private static final long IO_SPACE_LIMIT = 0x10000L;
    private static final long MEM32_LIMIT = 1L << 32;

    private final PciBus bus;
    private final IrqChip irq;
    private final String owner;
    private final PciAddress address;
    private final PciFunctionSpec spec;
    private final BarHandler handler;
    private final int pin;
    private final int gsi;
    private final InterruptLine intx;
    /** Indexed by BAR register; null for unused registers and the upper half of a 64-bit BAR. */
    private final BarSpec[] bars = new BarSpec[BAR_COUNT];
    private final byte[] rom;
    private final long romSize;

    private final MsiXSpec msix;
    private final int msixCap;
    private final MsiSpec msi;
    private final int msiCap, msiData, msiMask, msiPending;
    private final int[] capOffsets, capLengths;
    private final PciFunctionSpec.DeviceRegisters deviceRegisters;
    private final CapabilityHandler[] capHandlers;

    private final ReentrantLock configLock = new ReentrantLock();
    private final Object lock = new Object();

    // Guarded by lock.
    private final byte[] config = new byte[PCI_CFG_SPACE_SIZE];
    private final byte[] wmask = new byte[PCI_CFG_SPACE_SIZE];
    private final byte[] initial;
    /** MSI-X table as dwords, four per vector, in guest layout. */
    /** The MSI-X table and PBA; null without MSI-X. */
    private final MsiXTable msixTable;
    /** What each BAR (and, at ROM_SLOT, the ROM) is registered as, or null. */
    private final Registration[] mapped = new Registration[BAR_COUNT + 1];
    /** The base a conflict was last logged for, so a guest retrying the same bad address logs once. */
    private final long[] conflictLogged = new long[BAR_COUNT + 1];
    private boolean intxWanted, intxDriven, detached;
    private final List<Runnable> changeListeners = new CopyOnWriteArrayList<>();

    AttachedFunction(PciBus bus, IrqChip irq, IntxRouting routing, String owner, PciAddress address,
            PciFunctionSpec spec, BarHandler handler) {
        this.bus = bus;
        this.irq = irq;
        this.owner = owner;
        this.address = address;
        this.spec = spec;
        this.handler = handler;
        this.pin = spec.interruptPin();
        this.gsi = pin == 0 ? -1 : routing.gsi(address, pin);
        this.intx = pin == 0 ? NoLine.INSTANCE : new IntxLine();
        for (BarSpec b : spec.bars()) bars[b.index()] = b;
        this.rom = spec.rom();
        if (rom != null && rom.length > PCI_ROM_MAX_SIZE)
            throw new IllegalArgumentException(owner + ": option ROM of " + rom.length + " bytes exceeds the "
                    + PCI_ROM_MAX_SIZE + " the expansion ROM BAR can decode");
        this.romSize = rom == null ? 0 : Math.max(PCI_ROM_MIN_SIZE, nextPowerOfTwo(rom.length));
        this.msix = spec.msix();
        this.msi = spec.msi();

        // Capabilities are laid out from 0x40 in a fixed order (MSI-X, MSI,
        // then the device's own) so that the layout is a function of the
        // spec alone: a hot-swapped implementation with an equal spec lands
        // every capability at the same offset the guest already knows.
        List<Capability> caps = spec.capabilities();
        int at = PCI_STD_HEADER_SIZEOF;
        this.msixCap = msix == null ? 0 : at;
        if (msix != null) at += align4(PCI_CAP_MSIX_SIZEOF);
        this.msiCap = msi == null ? 0 : at;
        if (msi != null) at += align4(msiLength(msi));
        capOffsets = new int[caps.size()];
        capLengths = new int[caps.size()];
        capHandlers = new CapabilityHandler[caps.size()];
        for (int i = 0; i < caps.size(); i++) {
            capOffsets[i] = at;
            capLengths[i] = PCI_CAP_HEADER_SIZE + caps.get(i).body().length;
            capHandlers[i] = caps.get(i).handler();
            at += align4(capLengths[i]);
        }
        if (at > PCI_CFG_SPACE_SIZE)
            throw new IllegalArgumentException(String.format(
                    "%s: capabilities need 0x%x bytes from 0x40, but configuration space ends at 0x100",
                    owner, at - PCI_STD_HEADER_SIZEOF));
        this.deviceRegisters = spec.deviceRegisters();
        if (deviceRegisters != null && at > PCI_STD_HEADER_SIZEOF && deviceRegisters.offset() < at)
            throw new IllegalArgumentException(String.format(
                    "%s: device registers at 0x%x overlap the capabilities, which end at 0x%x", owner, deviceRegisters.offset(), at));
        if (msix != null && (msix.tableOffset() >= MEM32_LIMIT || msix.pbaOffset() >= MEM32_LIMIT))
            throw new IllegalArgumentException(owner + ": MSI-X table and PBA offsets must fit in 32 bits");
        msiData = msi == null ? 0 : msiCap + (msi.address64() ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32);
        msiMask = msi == null ? 0 : msiCap + (msi.address64() ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32);
        msiPending = msi == null ? 0 : msiCap + (msi.address64() ? PCI_MSI_PENDING_64 : PCI_MSI_PENDING_32);

        msixTable = msix == null ? null : new MsiXTable(msix);
        buildConfigSpace(caps);
        initial = config.clone();
        Arrays.fill(conflictLogged, -1);
    }

    private void buildConfigSpace(List<Capability> caps) {
        put(config, PCI_VENDOR_ID, 2, spec.vendorId());
        put(config, PCI_DEVICE_ID, 2, spec.deviceId());
        put(wmask, PCI_COMMAND, 2, PCI_COMMAND_WRITABLE);
        boolean anyCapability = msix != null || msi != null || !caps.isEmpty();
        put(config, PCI_STATUS, 2, anyCapability ? PCI_STATUS_CAP_LIST : 0);
        put(config, PCI_REVISION_ID, 1, spec.revision());
        put(config, PCI_CLASS_PROG, 1, spec.classCode() & 0xff);
        put(config, PCI_CLASS_PROG + 1, 2, spec.classCode() >>> 8);
        put(wmask, PCI_CACHE_LINE_SIZE, 1, 0xff);
        put(wmask, PCI_LATENCY_TIMER, 1, 0xff);
        put(config, PCI_HEADER_TYPE, 1, PCI_HEADER_TYPE_NORMAL);

        for (BarSpec b : spec.bars()) {
            int reg = barRegister(b.index());
            long addressBits = ~(b.size() - 1);
            switch (b.kind()) {
                case IO -> {
                    put(config, reg, 4, PCI_BASE_ADDRESS_SPACE_IO);
                    put(wmask, reg, 4, (int) addressBits & PCI_BASE_ADDRESS_IO_MASK);
                }
                case MEMORY32 -> {
                    put(config, reg, 4, PCI_BASE_ADDRESS_MEM_TYPE_32 | prefetchBit(b));
                    put(wmask, reg, 4, (int) addressBits & PCI_BASE_ADDRESS_MEM_MASK);
                }
                case MEMORY64 -> {
                    put(config, reg, 4, PCI_BASE_ADDRESS_MEM_TYPE_64 | prefetchBit(b));
                    put(wmask, reg, 4, (int) addressBits & PCI_BASE_ADDRESS_MEM_MASK);
                    put(wmask, reg + 4, 4, (int) (addressBits >>> 32));
                }
            }
        }
        put(config, PCI_SUBSYSTEM_VENDOR_ID, 2, spec.subsystemVendorId());
        put(config, PCI_SUBSYSTEM_ID, 2, spec.subsystemId());
        if (rom != null)
            put(wmask, PCI_ROM_ADDRESS, 4, (int) ~(romSize - 1) & PCI_ROM_ADDRESS_MASK | PCI_ROM_ADDRESS_ENABLE);

        // Firmware would program Interrupt Line with the IOAPIC input it routed
        // the pin to; starting with that value lets a guest that boots without
        // such firmware (direct kernel boot) find its interrupt anyway.
        put(config, PCI_INTERRUPT_LINE, 1, pin == 0 ? PCI_INTERRUPT_LINE_NONE : gsi & 0xff);
        put(wmask, PCI_INTERRUPT_LINE, 1, 0xff);
        put(config, PCI_INTERRUPT_PIN, 1, pin);

        int[] chain = new int[(msix != null ? 1 : 0) + (msi != null ? 1 : 0) + caps.size()];
        int n = 0;
        if (msix != null) chain[n++] = msixCap;
        if (msi != null) chain[n++] = msiCap;
        for (int off : capOffsets) chain[n++] = off;
        put(config, PCI_CAPABILITY_LIST, 1, chain.length == 0 ? 0 : chain[0]);
        for (int i = 0; i < chain.length; i++)
            put(config, chain[i] + PCI_CAP_LIST_NEXT, 1, i + 1 < chain.length ? chain[i + 1] : 0);

        if (msix != null) {
            put(config, msixCap + PCI_CAP_LIST_ID, 1, PCI_CAP_ID_MSIX);
            put(config, msixCap + PCI_MSIX_FLAGS, 2, msix.tableSize() - 1);
            put(wmask, msixCap + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_MASKALL | PCI_MSIX_FLAGS_ENABLE);
            put(config, msixCap + PCI_MSIX_TABLE, 4, (int) msix.tableOffset() | msix.tableBar());
            put(config, msixCap + PCI_MSIX_PBA, 4, (int) msix.pbaOffset() | msix.pbaBar());
        }
        if (msi != null) {
            put(config, msiCap + PCI_CAP_LIST_ID, 1, PCI_CAP_ID_MSI);
            int capable = Integer.numberOfTrailingZeros(msi.vectors()) << PCI_MSI_FLAGS_QMASK_SHIFT;
            put(config, msiCap + PCI_MSI_FLAGS, 2, capable | (msi.address64() ? PCI_MSI_FLAGS_64BIT : 0)
                    | (msi.perVectorMasking() ? PCI_MSI_FLAGS_MASKBIT : 0));
            put(wmask, msiCap + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
            put(wmask, msiCap + PCI_MSI_ADDRESS_LO, 4, PCI_MSI_ADDRESS_LO_MASK);
            if (msi.address64()) put(wmask, msiCap + PCI_MSI_ADDRESS_HI, 4, -1);
            put(wmask, msiData, 2, 0xffff);
            // Mask bits beyond the vectors the function can have are reserved (read-only zero).
            if (msi.perVectorMasking()) put(wmask, msiMask, 4, lowBits(msi.vectors()));
        }
        for (int i = 0; i < caps.size(); i++) {
            put(config, capOffsets[i] + PCI_CAP_LIST_ID, 1, caps.get(i).id());
            byte[] body = caps.get(i).body();
            System.arraycopy(body, 0, config, capOffsets[i] + PCI_CAP_HEADER_SIZE, body.length);
        }
    }

    // --- PciFunction --------------------------------------------------------

    @Override
    public PciAddress address() {
        return address;
    }

    @Override
    public PciFunctionSpec spec() {
        return spec;
    }

    @Override
    public InterruptLine intx() {
        return intx;
    }

    @Override
    public boolean signalMsiX(int vector) {
        synchronized (lock) {
            if (detached || msix == null || !msixEnabledLocked() || vector < 0 || vector >= msix.tableSize())
                return false;
            if ((msixControl() & PCI_MSIX_FLAGS_MASKALL) != 0 || msixTable.masked(vector)) {
                msixTable.setPending(vector);
                return true;
            }
            irq.signalMsi(msixTable.message(vector));
            return true;
        }
    }

    @Override
    public boolean signalMsi(int vector) {
        synchronized (lock) {
            if (detached || msi == null || !msiEnabledLocked() || vector < 0 || vector >= msiVectorsEnabled())
                return false;
            if (msi.perVectorMasking() && (get(config, msiMask, 4) & 1 << vector) != 0) {
                put(config, msiPending, 4, get(config, msiPending, 4) | 1 << vector);
                return true;
            }
            irq.signalMsi(msiMessage(vector));
            return true;
        }
    }

    @Override
    public MsiMessage msixMessage(int vector) {
        synchronized (lock) {
            if (detached || msix == null || !msixEnabledLocked() || vector < 0 || vector >= msix.tableSize()
                    || (msixControl() & PCI_MSIX_FLAGS_MASKALL) != 0 || msixTable.masked(vector))
                return null;
            return msixTable.message(vector);
        }
    }

    @Override
    public void addChangeListener(Runnable listener) {
        changeListeners.add(Objects.requireNonNull(listener, "listener"));
    }

    /** Tells the listeners; called with configLock held and lock released. A failing listener is logged, not the guest's problem. */
    private void fireChanged() {
        for (Runnable r : changeListeners) {
            try {
                r.run();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, () -> owner + ": change listener failed", e);
            }
        }
    }

    @Override
    public boolean msixEnabled() {
        synchronized (lock) {
            return msixEnabledLocked();
        }
    }

    @Override
    public boolean msiEnabled() {
        synchronized (lock) {
            return msiEnabledLocked();
        }
    }

    @Override
    public boolean busMasterEnabled() {
        synchronized (lock) {
            return (command() & PCI_COMMAND_MASTER) != 0;
        }
    }

    /** @throws IllegalArgumentException when {@code index} is not 0..5 */
    @Override
    public long barAddress(int index) {
        if (index < 0 || index >= BAR_COUNT) throw new IllegalArgumentException("BAR index must be 0..5, was " + index);
        synchronized (lock) {
            Registration r = mapped[index];
            return r == null ? -1 : r.base();
        }
    }

    /** @throws IndexOutOfBoundsException when the spec has no capability {@code i} */
    @Override
    public int capabilityOffset(int i) {
        Objects.checkIndex(i, capOffsets.length);
        return capOffsets[i];
    }

    @Override
    public void detach() {
        configLock.lock();
        try {
            synchronized (lock) {
                if (detached) return;
                detached = true;
                for (int i = 0; i < mapped.length; i++) unmap(i);
                intxWanted = false;
                updateIntx();
            }
            bus.remove(address, this);
        } finally {
            configLock.unlock();
        }
    }

    @Override
    public String toString() {
        return owner + " at " + address;
    }

    // --- Called by PciBus ---------------------------------------------------

    String owner() {
        return owner;
    }

    /** A guest configuration read; offset and size are already checked by the bus. */
    int configRead(int offset, int size) {
        if (offset >= PCI_CFG_SPACE_SIZE) return 0;
        configLock.lock();
        try {
            int cap = handlerCapability(offset, size);
            if (cap >= 0)
                return capHandlers[cap].read(offset - capOffsets[cap], size, stored(offset, size)) & (int) ones(size);
            if (inDeviceRegisters(offset, size))
                return deviceRegisters.handler().read(offset - deviceRegisters.offset(), size, stored(offset, size))
                        & (int) ones(size);
            synchronized (lock) {
                int v = get(config, offset, size);
                if (covers(offset, size, PCI_STATUS) && intxWanted)
                    v |= PCI_STATUS_INTERRUPT << 8 * (PCI_STATUS - offset);
                if (covers(offset, size, PCI_HEADER_TYPE) && address.function() == 0 && bus.hasOtherFunctions(address))
                    v |= PCI_HEADER_TYPE_MULTIFUNCTION << 8 * (PCI_HEADER_TYPE - offset);
                return v;
            }
        } finally {
            configLock.unlock();
        }
    }

    /** The stored configuration bytes a handler's read starts from. */
    private int stored(int offset, int size) {
        synchronized (lock) {
            return get(config, offset, size);
        }
    }

    /** A guest configuration write; offset and size are already checked by the bus. */
    void configWrite(int offset, int size, int value) {
        if (offset >= PCI_CFG_SPACE_SIZE) return;
        configLock.lock();
        try {
            int cap = handlerCapability(offset, size);
            if (cap >= 0) {
                int stored;
                synchronized (lock) {
                    if (detached) return;
                    stored = get(config, offset, size);
                }
                int result = capHandlers[cap].write(offset - capOffsets[cap], size, value & (int) ones(size), stored);
                synchronized (lock) {
                    if (!detached) put(config, offset, size, result);
                }
                return;
            }
            if (inDeviceRegisters(offset, size)) {
                int stored;
                synchronized (lock) {
                    if (detached) return;
                    stored = get(config, offset, size);
                }
                int result = deviceRegisters.handler().write(offset - deviceRegisters.offset(), size, value & (int) ones(size), stored);
                synchronized (lock) {
                    if (!detached) put(config, offset, size, result);
                }
                return;
            }
            synchronized (lock) {
                if (detached) return;
                for (int i = 0; i < size; i++) {
                    int m = wmask[offset + i];
                    config[offset + i] = (byte) (config[offset + i] & ~m | (value >>> 8 * i) & m);
                }
                afterConfigWrite(offset, offset + size);
            }
            fireChanged();
        } finally {
            configLock.unlock();
        }
    }

    /** The guest-visible configuration, for a snapshot; any thread. */
    PciConfigState saveConfig() {
        configLock.lock();
        try {
            synchronized (lock) {
                return new PciConfigState(address, config.clone(),
                        msixTable == null ? new int[0] : msixTable.saveTable(),
                        msixTable == null ? new long[0] : msixTable.savePba());
            }
        } finally {
            configLock.unlock();
        }
    }

    /**
     * Puts back a configuration saved from a function of the same identity: the bits a guest can write (BARs,
     * command, interrupt line, MSI and MSI-X control) and the registers of capability handlers as saved, every
     * read-only bit as this function has it; then the BARs are mapped where they were and INTx follows.
     * Only while no vCPU runs.
     *
     * @throws IncompatibleStateException when the saved function is another device (vendor,
     *                                                    device, class, revision) or its MSI-X table another size
     */
    void restoreConfig(PciConfigState s) {
        byte[] saved = s.config();
        configLock.lock();
        try {
            synchronized (lock) {
                if (detached) throw new IllegalStateException(address + " is detached");
                // Vendor, device, revision and class: the identity a driver bound to.
                if (!Arrays.equals(saved, 0, 4, config, 0, 4) || !Arrays.equals(saved, 8, 12, config, 8, 12))
                    throw new IncompatibleStateException("PCI function " + address + " is "
                            + identityOf(config) + " here, but " + identityOf(saved) + " in the snapshot");
                if (msixTable != null) msixTable.restore(s.msixTable(), s.msixPba());
                else if (s.msixTable().length != 0)
                    throw new IncompatibleStateException("PCI function " + address
                            + " has no MSI-X here, but a table in the snapshot");
                for (int i = 0; i < config.length; i++)
                    config[i] = (byte) (config[i] & ~wmask[i] | saved[i] & wmask[i]);
                // A handler's registers (after the capability's ID and next pointer) are as it last answered.
                for (int c = 0; c < capHandlers.length; c++)
                    if (capHandlers[c] != null)
                        System.arraycopy(saved, capOffsets[c] + PCI_CAP_HEADER_SIZE, config,
                                capOffsets[c] + PCI_CAP_HEADER_SIZE, capLengths[c] - PCI_CAP_HEADER_SIZE);
                if (deviceRegisters != null)
                    System.arraycopy(saved, deviceRegisters.offset(), config, deviceRegisters.offset(),
                            deviceRegisters.length());
                if (msi != null) clampMsiEnable();
                Arrays.fill(conflictLogged, -1);
                updateMappings();
                updateIntx();
            }
            fireChanged();
        } finally {
            configLock.unlock();
        }
    }

    private static String identityOf(byte[] c) {
        return String.format("%04x:%04x", get(c, PCI_VENDOR_ID, 2), get(c, PCI_DEVICE_ID, 2));
    }

    /** Platform reset: the state the function had right after attach. */
    void reset() {
        configLock.lock();
        try {
            synchronized (lock) {
                if (detached) return;
                System.arraycopy(initial, 0, config, 0, config.length);
                if (msixTable != null) msixTable.reset();
                Arrays.fill(conflictLogged, -1);
                intxWanted = false;
                updateMappings();
                updateIntx();
            }
            fireChanged();
        } finally {
            configLock.unlock();
        }
    }

    // --- Effects of configuration writes (all with lock held) ----------------

    private void afterConfigWrite(int start, int end) {
        if (msi != null && overlaps(start, end, msiCap + PCI_MSI_FLAGS, 2)) clampMsiEnable();
        if (overlaps(start, end, PCI_COMMAND, 2)
                || overlaps(start, end, PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_END - PCI_BASE_ADDRESS_0)
                || overlaps(start, end, PCI_ROM_ADDRESS, 4))
            updateMappings();
        // Enabling MSI or MSI-X, or toggling Interrupt Disable, changes who drives INTx.
        updateIntx();
        deliverPendingMsi();
        deliverPendingMsiX();
    }

    /** Software must not grant more MSI vectors than capable; if it tries, it gets what the function has. */
    private void clampMsiEnable() {
        int ctrl = get(config, msiCap + PCI_MSI_FLAGS, 2);
        int capable = (ctrl & PCI_MSI_FLAGS_QMASK) >>> PCI_MSI_FLAGS_QMASK_SHIFT;
        int enabled = (ctrl & PCI_MSI_FLAGS_QSIZE) >>> PCI_MSI_FLAGS_QSIZE_SHIFT;
        if (enabled > capable)
            put(config, msiCap + PCI_MSI_FLAGS, 2, ctrl & ~PCI_MSI_FLAGS_QSIZE | capable << PCI_MSI_FLAGS_QSIZE_SHIFT);
    }

    /**
     * Brings the bus registrations in line with the command register, BARs
     * and ROM BAR. Stale ones are all closed before new ones are made, so
     * that a guest swapping two BARs' addresses in one step does not collide
     * with itself.
     */
    private void updateMappings() {
        long[] want = new long[mapped.length];
        for (int i = 0; i < mapped.length; i++) {
            want[i] = detached ? -1 : decodedBase(i);
            if (mapped[i] != null && mapped[i].base() != want[i]) unmap(i);
        }
        for (int i = 0; i < mapped.length; i++) {
            if (mapped[i] != null || want[i] < 0) continue;
            boolean io = i != ROM_SLOT && bars[i].kind() == BarKind.IO;
            AddressBus target = io ? bus.io() : bus.mmio();
            long size = i == ROM_SLOT ? romSize : bars[i].size();
            String name = owner + (i == ROM_SLOT ? " ROM" : " BAR" + i);
            IoHandler window = i == ROM_SLOT ? new RomWindow() : new BarWindow(i);
            long base = want[i];
            try {
                mapped[i] = target.register(name, base, size, window);
                conflictLogged[i] = -1;
            } catch (BusConflictException e) {
                // A guest error (or a firmware one), not ours: real hardware would
                // decode both and the cycles would collide; we keep the first owner.
                if (conflictLogged[i] != base) {
                    conflictLogged[i] = base;
                    LOG.log(Level.WARNING, () -> String.format("%s: guest placed %s at 0x%x, leaving it unmapped: %s",
                            address, name, base, e.getMessage()));
                }
            }
        }
    }

    private void unmap(int i) {
        if (mapped[i] != null) {
            mapped[i].close();
            mapped[i] = null;
        }
    }

    /** Where BAR {@code i} (or the ROM) should decode now, or -1 when it should not. */
    private long decodedBase(int i) {
        int cmd = command();
        if (i == ROM_SLOT) {
            if (rom == null || (cmd & PCI_COMMAND_MEMORY) == 0) return -1;
            int reg = get(config, PCI_ROM_ADDRESS, 4);
            long base = Integer.toUnsignedLong(reg & PCI_ROM_ADDRESS_MASK);
            return (reg & PCI_ROM_ADDRESS_ENABLE) != 0 && base != 0 ? base : -1;
        }
        BarSpec b = bars[i];
        if (b == null) return -1;
        int low = get(config, barRegister(i), 4);
        return switch (b.kind()) {
            case IO -> {
                long base = Integer.toUnsignedLong(low & PCI_BASE_ADDRESS_IO_MASK);
                yield (cmd & PCI_COMMAND_IO) != 0 && base != 0 && base + b.size() <= IO_SPACE_LIMIT ? base : -1;
            }
            case MEMORY32 -> {
                long base = Integer.toUnsignedLong(low & PCI_BASE_ADDRESS_MEM_MASK);
                yield (cmd & PCI_COMMAND_MEMORY) != 0 && base != 0 && base + b.size() <= MEM32_LIMIT ? base : -1;
            }
            case MEMORY64 -> {
                long base = Integer.toUnsignedLong(low & PCI_BASE_ADDRESS_MEM_MASK)
                        | (long) get(config, barRegister(i) + 4, 4) << 32;
                // The bus itself refuses ranges past its end (a conflict, logged).
                yield (cmd & PCI_COMMAND_MEMORY) != 0 && base != 0 ? base : -1;
            }
        };
    }

    private void updateIntx() {
        if (pin == 0) return;
        boolean drive = !detached && intxWanted && (command() & PCI_COMMAND_INTX_DISABLE) == 0
                && !msiEnabledLocked() && !msixEnabledLocked();
        if (drive != intxDriven) {
            intxDriven = drive;
            bus.driveGsi(gsi, drive);
        }
    }

    private void setIntx(boolean level) {
        synchronized (lock) {
            if (detached) return;
            intxWanted = level;
            updateIntx();
        }
    }

    // --- MSI ------------------------------------------------------------------

    private boolean msiEnabledLocked() {
        return msi != null && (get(config, msiCap + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_ENABLE) != 0;
    }

    private int msiVectorsEnabled() {
        return 1 << ((get(config, msiCap + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_QSIZE) >>> PCI_MSI_FLAGS_QSIZE_SHIFT);
    }

    private MsiMessage msiMessage(int vector) {
        long addr = Integer.toUnsignedLong(get(config, msiCap + PCI_MSI_ADDRESS_LO, 4));
        if (msi.address64()) addr |= (long) get(config, msiCap + PCI_MSI_ADDRESS_HI, 4) << 32;
        // With n vectors granted the function owns the low log2(n) bits of the data.
        int n = msiVectorsEnabled();
        int data = get(config, msiData, 2) & ~(n - 1) | vector;
        return new MsiMessage(addr, data);
    }

    private void deliverPendingMsi() {
        if (msi == null || !msi.perVectorMasking() || !msiEnabledLocked()) return;
        int pending = get(config, msiPending, 4);
        int ready = pending & ~get(config, msiMask, 4) & lowBits(msiVectorsEnabled());
        if (ready == 0) return;
        put(config, msiPending, 4, pending & ~ready);
        for (int bits = ready; bits != 0; bits &= bits - 1)
            irq.signalMsi(msiMessage(Integer.numberOfTrailingZeros(bits)));
    }

    // --- MSI-X ----------------------------------------------------------------

    private int msixControl() {
        return get(config, msixCap + PCI_MSIX_FLAGS, 2);
    }

    private boolean msixEnabledLocked() {
        return msix != null && (msixControl() & PCI_MSIX_FLAGS_ENABLE) != 0;
    }

    private void deliverPendingMsiX() {
        if (msix == null || !msixEnabledLocked() || (msixControl() & PCI_MSIX_FLAGS_MASKALL) != 0) return;
        msixTable.deliverPending(irq::signalMsi);
    }

    private boolean touchesMsix(int bar, long offset, int size) {
        return msix != null && msixTable.touches(bar, offset, size);
    }

    private long msixRead(int bar, long offset, int size) {
        synchronized (lock) {
            return msixTable.read(bar, offset, size);
        }
    }

    /** A table write (see {@link MsiXTable#write}); an unmasked entry with its bit pending fires at once. */
    private void msixWrite(int bar, long offset, int size, long value) {
        configLock.lock();
        try {
            synchronized (lock) {
                if (!detached && msixTable.write(bar, offset, size, value)) deliverPendingMsiX();
            }
            fireChanged();
        } finally {
            configLock.unlock();
        }
    }

    // --- Windows registered on the buses --------------------------------------

    /** A decoded BAR. Holds no lock while calling the device: its handler may signal interrupts. */
    private final class BarWindow implements IoHandler {
        private final int bar;

        BarWindow(int bar) {
            this.bar = bar;
        }

        @Override
        public long read(long offset, int size) {
            return touchesMsix(bar, offset, size) ? msixRead(bar, offset, size) : handler.readBar(bar, offset, size);
        }

        @Override
        public void write(long offset, int size, long value) {
            if (touchesMsix(bar, offset, size)) msixWrite(bar, offset, size, value);
            else handler.writeBar(bar, offset, size, value);
        }
    }

    /** The decoded expansion ROM: the image, then zeros to the end of the window; writes are ignored. */
    private final class RomWindow implements IoHandler {
        @Override
        public long read(long offset, int size) {
            long v = 0;
            for (int i = 0; i < size; i++) {
                long o = offset + i;
                if (o < rom.length) v |= (rom[(int) o] & 0xffL) << 8 * i;
            }
            return v;
        }

        @Override
        public void write(long offset, int size, long value) {
        }
    }

    private final class IntxLine implements InterruptLine {
        @Override
        public void raise() {
            setIntx(true);
        }

        @Override
        public void lower() {
            setIntx(false);
        }

        @Override
        public boolean isRaised() {
            synchronized (lock) {
                return intxWanted;
            }
        }
    }

    /** The INTx of a function with interrupt pin 0: there is no wire. */
    private enum NoLine implements InterruptLine {
        INSTANCE;

        @Override public void raise() {}
        @Override public void lower() {}
        @Override public boolean isRaised() { return false; }
    }

    // --- Helpers --------------------------------------------------------------

    private int command() {
        return get(config, PCI_COMMAND, 2);
    }

    /** Whether an access lies wholly inside the device-specific register window. */
    private boolean inDeviceRegisters(int offset, int size) {
        return deviceRegisters != null && offset >= deviceRegisters.offset()
                && offset + size <= deviceRegisters.offset() + deviceRegisters.length();
    }

    /** The user capability whose handler answers an access wholly inside its body, or -1. */
    private int handlerCapability(int offset, int size) {
        for (int i = 0; i < capOffsets.length; i++)
            if (capHandlers[i] != null && offset >= capOffsets[i] + PCI_CAP_HEADER_SIZE
                    && offset + size <= capOffsets[i] + capLengths[i])
                return i;
        return -1;
    }

    private static int msiLength(MsiSpec m) {
        if (m.perVectorMasking()) return (m.address64() ? PCI_MSI_PENDING_64 : PCI_MSI_PENDING_32) + 4;
        return (m.address64() ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32) + 2;
    }

    private static int barRegister(int index) {
        return PCI_BASE_ADDRESS_0 + 4 * index;
    }

    private static int prefetchBit(BarSpec b) {
        return b.prefetchable() ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0;
    }

    private static int align4(int n) {
        return n + 3 & ~3;
    }

    private static long nextPowerOfTwo(int n) {
        return n <= 1 ? 1 : Long.highestOneBit(n - 1L) << 1;
    }

    /** The low {@code n} bits set, for n in 1..32. */
    private static int lowBits(int n) {
        return n >= 32 ? -1 : (1 << n) - 1;
    }

    static long ones(int size) {
        return size >= 8 ? -1L : (1L << 8 * size) - 1;
    }

    private static boolean covers(int offset, int size, int register) {
        return register >= offset && register < offset + size;
    }

    private static boolean overlaps(long start, long end, long regionStart, long regionLength) {
        return start < regionStart + regionLength && regionStart < end;
    }

    private static int get(byte[] a, int offset, int size) {
        int v = 0;
        for (int i = 0; i < size; i++) v |= (a[offset + i] & 0xff) << 8 * i;
        return v;
    }

    private static void put(byte[] a, int offset, int size, int value) {
        for (int i = 0; i < size; i++) a[offset + i] = (byte) (value >>> 8 * i);
    }
}
