package vmm.core.pci;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentSkipListMap;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.irq.IrqChip;
import vmm.core.device.IncompatibleStateException;

/**
 * The PCI segment of the VM: which function sits at which address, and the
 * configuration-space mechanics every function shares (type 0 header,
 * capability list, BAR sizing and relocation, expansion ROM, MSI, MSI-X and
 * INTx), so that a device only describes itself with a
 * {@link PciFunctionSpec} and answers its BARs with a {@link BarHandler}.
 *
 * <p>The bus does not decode a configuration mechanism itself (port
 * 0xCF8/0xCFC or ECAM); whatever does calls {@link #configRead} and
 * {@link #configWrite} with a decoded address, offset and size.
 *
 * <p>Thread-safe: configuration accesses may come from several vCPU threads
 * and signals from device threads at the same time. Each function serializes
 * its own state; no lock of the bus is held while a {@link BarHandler} runs.
 * Guest mistakes (a BAR placed over another device, writes to read-only
 * registers) are absorbed and at most logged on the {@code vmm.pci} logger;
 * only mistakes of the VMM's own code throw.
 */
public final class PciBus {
    private final IoPortBus io;
    private final MmioBus mmio;
    private final IrqChip irq;
    private final IntxRouting routing;
    private final ConcurrentSkipListMap<PciAddress, AttachedFunction> functions = new ConcurrentSkipListMap<>();
    /** Functions whose owners answer config space themselves; an address is in at most one of the two maps. */
    private final ConcurrentSkipListMap<PciAddress, RawFunction> rawFunctions = new ConcurrentSkipListMap<>();
    /** How many functions drive each GSI; INTx lines are wire-ORed, as open-drain PIRQ lines are. */
    private final Map<Integer, Integer> gsiDrivers = new HashMap<>();

    /** A bus with {@link IntxRouting#standard()} INTx routing. */
    public PciBus(IoPortBus io, MmioBus mmio, IrqChip irq) {
        this(io, mmio, irq, IntxRouting.standard());
    }

    /** A bus whose BARs decode on {@code io} and {@code mmio} and whose interrupts go to {@code irq}. */
    public PciBus(IoPortBus io, MmioBus mmio, IrqChip irq, IntxRouting routing) {
        this.io = Objects.requireNonNull(io, "io");
        this.mmio = Objects.requireNonNull(mmio, "mmio");
        this.irq = Objects.requireNonNull(irq, "irq");
        this.routing = Objects.requireNonNull(routing, "routing");
    }

    /**
     * Places a function at {@code address}. It starts as after reset: no
     * decode, MSI and MSI-X disabled, INTx low. Called by the device's
     * lifecycle, on any thread. {@code handler} may be null only when the
     * spec has no BARs; {@code owner} names the device in bus listings and
     * messages.
     *
     * @throws IllegalStateException    when {@code address} is already used
     * @throws IllegalArgumentException when the capabilities do not fit in
     *                                  configuration space, or the ROM or MSI-X
     *                                  offsets are too large to be decoded
     */
    public PciFunction attach(String owner, PciAddress address, PciFunctionSpec spec, BarHandler handler) {
        Objects.requireNonNull(owner, "owner");
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(spec, "spec");
        if (handler == null && !spec.bars().isEmpty())
            throw new NullPointerException(owner + " at " + address + ": a function with BARs needs a BarHandler");
        AttachedFunction f = new AttachedFunction(this, irq, routing, owner, address, spec, handler);
        synchronized (rawFunctions) {
            RawFunction raw = rawFunctions.get(address);
            if (raw != null)
                throw new IllegalStateException(address + " is already used by " + raw.owner + "; cannot attach " + owner + " there");
            AttachedFunction there = functions.putIfAbsent(address, f);
            if (there != null)
                throw new IllegalStateException(address + " is already used by " + there.owner()
                        + "; cannot attach " + owner + " there");
        }
        return f;
    }

    /**
     * Places a function whose whole configuration space {@code handler} answers
     * (header, BARs, capabilities): the bus only routes config accesses and platform
     * resets to it and tells it its INTx routing. The owner decodes its BARs on the
     * I/O and MMIO buses itself.
     *
     * @throws IllegalStateException when {@code address} is already used
     */
    public RawPciFunction attachConfigSpace(String owner, PciAddress address, ConfigSpaceHandler handler) {
        Objects.requireNonNull(owner, "owner");
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(handler, "handler");
        RawFunction f = new RawFunction(owner, address, handler);
        synchronized (rawFunctions) {
            String there = functions.containsKey(address) ? functions.get(address).owner()
                    : rawFunctions.containsKey(address) ? rawFunctions.get(address).owner : null;
            if (there != null)
                throw new IllegalStateException(address + " is already used by " + there + "; cannot attach " + owner + " there");
            rawFunctions.put(address, f);
        }
        return f;
    }

    private final class RawFunction implements RawPciFunction {
        final String owner;
        final PciAddress address;
        final ConfigSpaceHandler handler;

        RawFunction(String owner, PciAddress address, ConfigSpaceHandler handler) {
            this.owner = owner;
            this.address = address;
            this.handler = handler;
        }

        @Override
        public PciAddress address() {
            return address;
        }

        @Override
        public int intxGsi(int pin) {
            if (pin < 1 || pin > 4) throw new IllegalArgumentException("interrupt pin must be 1..4, was " + pin);
            return routing.gsi(address, pin);
        }

        @Override
        public boolean hasOtherFunctions() {
            PciAddress fn0 = new PciAddress(address.bus(), address.device(), 0);
            return PciBus.this.hasOtherFunctions(fn0) || (address.function() != 0 && isAttached(fn0));
        }

        @Override
        public void detach() {
            rawFunctions.remove(address, this);
        }

        @Override
        public String toString() {
            return owner + "@" + address;
        }
    }

    private boolean isAttached(PciAddress a) {
        return functions.containsKey(a) || rawFunctions.containsKey(a);
    }

    /**
     * A guest configuration read of {@code size} bytes at {@code offset}.
     * An absent function reads all ones (the master abort a probing OS looks
     * for); a present one reads 0 in PCIe extended space (0x100 and up).
     *
     * @throws IllegalArgumentException when size is not 1, 2 or 4, or offset
     *                                  is unaligned or not below 4096
     */
    public int configRead(PciAddress address, int offset, int size) {
        checkAccess(offset, size);
        AttachedFunction f = functions.get(address);
        if (f != null) return f.configRead(offset, size);
        RawFunction raw = rawFunctions.get(address);
        return raw == null ? (int) AttachedFunction.ones(size) : raw.handler.configRead(offset, size);
    }

    /**
     * A guest configuration write of the low {@code size} bytes of
     * {@code value}. Writes to absent functions, read-only bits and extended
     * space are dropped; a write never throws because of what the guest wrote.
     *
     * @throws IllegalArgumentException as for {@link #configRead}
     */
    public void configWrite(PciAddress address, int offset, int size, int value) {
        checkAccess(offset, size);
        AttachedFunction f = functions.get(address);
        if (f != null) f.configWrite(offset, size, value);
        else {
            RawFunction raw = rawFunctions.get(address);
            if (raw != null) raw.handler.configWrite(offset, size, value);
        }
    }

    /** The addresses in use, in bus/device/function order; a snapshot. */
    public List<PciAddress> addresses() {
        java.util.TreeSet<PciAddress> all = new java.util.TreeSet<>(functions.keySet());
        all.addAll(rawFunctions.keySet());
        return List.copyOf(all);
    }

    /** The function at {@code address} attached with a spec, or null (also for one attached with {@link #attachConfigSpace}). */
    public PciFunction function(PciAddress address) {
        return functions.get(address);
    }

    /** The configuration of every function the bus emulates, in address order, for a snapshot. */
    public List<PciConfigState> saveConfig() {
        List<PciConfigState> out = new java.util.ArrayList<>();
        for (AttachedFunction f : functions.values()) out.add(f.saveConfig());
        return out;
    }

    /**
     * Puts back {@link #saveConfig()}'s states into the functions at the same addresses, before any vCPU runs.
     * Functions the bus emulates but the list does not hold keep their configuration.
     *
     * @throws IncompatibleStateException when a saved function is not on this bus or is another
     *                                                    device
     */
    public void restoreConfig(List<PciConfigState> states) {
        for (PciConfigState s : states) {
            if (!functions.containsKey(s.address()))
                throw new IncompatibleStateException("the snapshot has PCI function " + s.address()
                        + " (" + s.identity() + "), which this machine does not have");
        }
        for (PciConfigState s : states) functions.get(s.address()).restoreConfig(s);
    }

    /**
     * Platform reset of every function: command register 0 (so nothing
     * decodes), BARs and ROM BAR 0, MSI and MSI-X disabled with every MSI-X
     * entry masked and no bit pending, INTx low, Interrupt Line and the
     * other writable registers back to their attach-time values. Devices
     * reset their own state separately; a device that raised INTx must raise
     * it again.
     */
    public void resetAll() {
        for (AttachedFunction f : functions.values()) f.reset();
        for (RawFunction f : rawFunctions.values()) f.handler.reset();
    }

    @Override
    public String toString() {
        return "PciBus" + functions.values();
    }

    // --- For AttachedFunction -------------------------------------------------

    IoPortBus io() {
        return io;
    }

    MmioBus mmio() {
        return mmio;
    }

    /** Whether a function other than function 0 of {@code fn0}'s slot is attached. */
    boolean hasOtherFunctions(PciAddress fn0) {
        PciAddress from = new PciAddress(fn0.bus(), fn0.device(), 1), to = new PciAddress(fn0.bus(), fn0.device(), 7);
        return !functions.subMap(from, true, to, true).isEmpty() || !rawFunctions.subMap(from, true, to, true).isEmpty();
    }

    void remove(PciAddress address, AttachedFunction f) {
        functions.remove(address, f);
    }

    /**
     * One function starts or stops driving {@code gsi}. The chip sees only
     * the OR of all drivers, so it is told on 0-to-1 and 1-to-0 changes only;
     * holding the lock across the call keeps those edges in order.
     */
    void driveGsi(int gsi, boolean drive) {
        synchronized (gsiDrivers) {
            int before = gsiDrivers.getOrDefault(gsi, 0);
            int after = drive ? before + 1 : before - 1;
            if (after < 0) throw new IllegalStateException("GSI " + gsi + " lowered more often than raised");
            if (after == 0) gsiDrivers.remove(gsi);
            else gsiDrivers.put(gsi, after);
            if ((before == 0) != (after == 0)) irq.setLevel(gsi, after > 0);
        }
    }

    private static void checkAccess(int offset, int size) {
        if (size != 1 && size != 2 && size != 4)
            throw new IllegalArgumentException("config access size must be 1, 2 or 4, was " + size);
        if (offset < 0 || offset >= PciRegs.PCI_CFG_SPACE_EXP_SIZE || offset % size != 0)
            throw new IllegalArgumentException("config access of " + size + " bytes at offset 0x"
                    + Integer.toHexString(offset) + " is unaligned or outside 0..0xfff");
    }
}
