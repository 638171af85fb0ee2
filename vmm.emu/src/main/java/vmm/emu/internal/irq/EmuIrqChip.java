package vmm.emu.internal.irq;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.bus.Registration;
import vmm.core.irq.IrqChip;
import vmm.core.irq.MsiMessage;
import vmm.emu.internal.cpu.VirtualClock;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * The interrupt controllers and timer a software-CPU VM has where KVM has its
 * in-kernel irqchip: the 8259A pair (with the ELCR), the IOAPIC, one local
 * APIC per vCPU and the 8254 PIT, wired as a PC and as our MADT and DSDT tell
 * the guest (IOAPIC ID 0 at 0xFEC00000 with GSI base 0, ISA IRQ n on GSI n
 * except IRQ0 on GSI 2, the SCI level on GSI 9, PCI INTA-D on GSIs 16-19; the
 * 8259A's output reaches the BSP through LINT0). One lock guards every model;
 * the wake-up callbacks run under it.
 *
 * <p>{@link #setLevel}: GSI 0-15 drive the 8259A input of the same number (not
 * 2, the cascade) and the IOAPIC input of the same number (IRQ0 drives input
 * 2, GSI 2 drives nothing, as in QEMU's routing); 16-23 drive the IOAPIC;
 * 24 and up deliver the MSI routed to them ({@link #routeMsi}) when raised.
 * Thread-safe.
 */
public final class EmuIrqChip implements IrqChip, AutoCloseable {
    public static final int ISA_IRQS = 16, IOAPIC_PINS = IoApic.PINS;
    /** The highest GSI number plus one, as KVM's routing table (GsiPool's limit). */
    public static final int GSI_LIMIT = 4096;
    static final int TIMER_IRQ = 0, TIMER_IOAPIC_PIN = 2;

    private final Object lock = new Object();
    private final VirtualClock clock;
    private final TimerScheduler timers;
    private final DualPic pic;
    private final IoApic ioapic;
    private final Pit8254 pit;
    private final LocalApic[] apics;
    private final VcpuInterrupts[] vcpus;
    private final Map<Integer, MsiMessage> msiRoutes = new HashMap<>();
    private final Runnable[] eoiListeners = new Runnable[IoApic.PINS];

    /** @param vcpus how many vCPUs (and local APICs, IDs 0..vcpus-1 as in the MADT) the VM has */
    public EmuIrqChip(int vcpus, VirtualClock clock) {
        if (vcpus < 1 || vcpus > 0xff) throw new IllegalArgumentException("1-255 vCPUs, was " + vcpus);
        this.clock = Objects.requireNonNull(clock, "clock");
        this.timers = new TimerScheduler(clock, lock);
        this.apics = new LocalApic[vcpus];
        this.vcpus = new VcpuInterrupts[vcpus];
        this.pic = new DualPic(this::picOutputChanged);
        this.ioapic = new IoApic(m -> deliver(m, null));
        this.pit = new Pit8254(clock, this::pulseTimerIrq);
        timers.add(pit);
    }

    public VirtualClock clock() {
        return clock;
    }

    /** The scheduler of the PIT's and the APIC timers' deadlines: start its thread, or run it from a test. */
    public TimerScheduler timers() {
        return timers;
    }

    /**
     * Creates vCPU {@code index}'s local APIC, with {@code wakeup} run (under the chip's
     * lock; it must not block or call back) whenever something deliverable arrives for it.
     *
     * @throws IllegalArgumentException if {@code index} is out of range or attached before
     */
    public VcpuInterrupts attachVcpu(int index, Runnable wakeup) {
        synchronized (lock) {
            if (index < 0 || index >= apics.length)
                throw new IllegalArgumentException("vCPU " + index + " outside [0, " + apics.length + ")");
            if (apics[index] != null) throw new IllegalArgumentException("vCPU " + index + " already attached");
            LocalApic apic = new LocalApic(index, clock, this::deliver, this::endOfInterrupt, wakeup);
            if (index == 0) {
                apic.connectPic(pic::acknowledge);
                apic.picOutput(pic.output());
            }
            apics[index] = apic;
            vcpus[index] = new VcpuInterrupts(lock, apic, timers::changed);
            timers.add(apic);
            return vcpus[index];
        }
    }

    /**
     * Claims the ports and addresses KVM's in-kernel irqchip and PIT claim: 0x20-0x21,
     * 0xA0-0xA1, 0x4D0-0x4D1, 0x40-0x43, 0x61 and the IOAPIC's page. The local APICs'
     * pages are per vCPU ({@link VcpuInterrupts#mmio()}). The caller closes the
     * registrations.
     */
    public List<Registration> register(IoPortBus io, MmioBus mmio) {
        Runnable none = () -> { }, rescheduled = timers::changed;
        List<Registration> r = new ArrayList<>();
        try {
            r.add(io.register("pic-master", DualPic.MASTER_COMMAND, 2, ports(pic, DualPic.MASTER_COMMAND, none)));
            r.add(io.register("pic-slave", DualPic.SLAVE_COMMAND, 2, ports(pic, DualPic.SLAVE_COMMAND, none)));
            r.add(io.register("pic-elcr", DualPic.ELCR1, 2, ports(pic, DualPic.ELCR1, none)));
            r.add(io.register("pit", Pit8254.PORT_COUNTER0, 4, ports(pit, Pit8254.PORT_COUNTER0, rescheduled)));
            r.add(io.register("pit-speaker", Pit8254.PORT_SPEAKER, 1, ports(pit, Pit8254.PORT_SPEAKER, rescheduled)));
            r.add(mmio.register("ioapic", IoApic.BASE, IoApic.SIZE, new MmioIo(lock, ioapic, none)));
            return r;
        } catch (RuntimeException e) {
            r.forEach(Registration::close);
            throw e;
        }
    }

    private PortIo ports(PortDevice device, int base, Runnable afterWrite) {
        return new PortIo(lock, device, base, afterWrite);
    }

    @Override
    public void setLevel(int gsi, boolean level) {
        synchronized (lock) {
            if (gsi < 0) return;
            if (gsi < ISA_IRQS) {
                setIsaIrq(gsi, level);
            } else if (gsi < IOAPIC_PINS) {
                ioapic.setPin(gsi, level);
            } else if (level) {
                MsiMessage route = msiRoutes.get(gsi);
                if (route != null) deliverMsi(route);
            }
        }
    }

    private void setIsaIrq(int irq, boolean level) {
        if (irq == DualPic.CASCADE_IRQ) return;
        pic.setIrq(irq, level);
        ioapic.setPin(irq == TIMER_IRQ ? TIMER_IOAPIC_PIN : irq, level);
    }

    private void pulseTimerIrq() {
        setIsaIrq(TIMER_IRQ, true);
        setIsaIrq(TIMER_IRQ, false);
    }

    @Override
    public void signalMsi(MsiMessage message) {
        synchronized (lock) {
            deliverMsi(message);
        }
    }

    private void deliverMsi(MsiMessage message) {
        ApicMessage m = ApicMessage.fromMsi(message.address(), message.data());
        if (m != null && m.assert_()) deliver(m, null);
    }

    /**
     * Routes {@code gsi} to {@code message}: raising the GSI then delivers it.
     *
     * @throws IllegalArgumentException if {@code gsi} is an IOAPIC input or not below {@link #GSI_LIMIT}
     */
    public void routeMsi(int gsi, MsiMessage message) {
        if (gsi < IOAPIC_PINS || gsi >= GSI_LIMIT)
            throw new IllegalArgumentException(
                    "GSI " + gsi + " is not an MSI GSI [" + IOAPIC_PINS + ", " + GSI_LIMIT + ")");
        synchronized (lock) {
            msiRoutes.put(gsi, Objects.requireNonNull(message, "message"));
        }
    }

    /** Drops the MSI route of {@code gsi}; dropping one that is not there is no error. */
    public void unrouteMsi(int gsi) {
        synchronized (lock) {
            msiRoutes.remove(gsi);
        }
    }

    /**
     * Sends {@code m} to the local APICs it addresses ({@code from} is the sender for
     * shorthands, null for the IOAPIC and MSIs); returns how many accepted it. Lowest
     * priority picks the addressed APIC with the lowest arbitration priority (the lowest
     * index on a tie).
     */
    private int deliver(ApicMessage m, LocalApic from) {
        List<LocalApic> targets = new ArrayList<>();
        for (LocalApic a : apics) {
            if (a == null || !a.hardwareEnabled()) continue;
            boolean hit = switch (m.shorthand()) {
                case ApicMessage.SHORTHAND_SELF -> a == from;
                case ApicMessage.SHORTHAND_ALL -> true;
                case ApicMessage.SHORTHAND_OTHERS -> a != from;
                default -> a.matches(m);
            };
            if (hit) targets.add(a);
        }
        if (m.arbitrated() && m.shorthand() == ApicMessage.SHORTHAND_NONE && targets.size() > 1) {
            LocalApic best = targets.getFirst();
            for (LocalApic a : targets) if (a.apr() < best.apr()) best = a;
            targets = List.of(best);
        }
        int n = 0;
        for (LocalApic a : targets) if (a.accept(m)) n++;
        return n;
    }

    /**
     * Runs {@code listener} (under the chip's lock; it must not block) when the guest ends a
     * level-triggered interrupt of IOAPIC input {@code pin}, before the IOAPIC looks at the input
     * again: a resampling irqfd lowers the line there and tells its source. Null removes it.
     *
     * @throws IllegalArgumentException if {@code pin} is not an IOAPIC input
     */
    public void setEoiListener(int pin, Runnable listener) {
        if (pin < 0 || pin >= IoApic.PINS) throw new IllegalArgumentException("not an IOAPIC input: " + pin);
        synchronized (lock) {
            eoiListeners[pin] = listener;
        }
    }

    /** A local APIC's EOI broadcast of a level-triggered {@code vector} (under the lock). */
    private void endOfInterrupt(int vector) {
        for (int pin = 0; pin < IoApic.PINS; pin++) {
            Runnable l = eoiListeners[pin];
            long e = ioapic.entry(pin);
            if (l != null && (e & IoApic.RTE_VECTOR) == vector && (e & IoApic.RTE_LEVEL) != 0
                    && (e & IoApic.RTE_REMOTE_IRR) != 0) l.run();
        }
        ioapic.endOfInterrupt(vector);
    }

    /** An NMI from the platform (a front-panel NMI button): LINT1 of every local APIC, as on a PC. */
    public void nmi() {
        synchronized (lock) {
            for (LocalApic a : apics) if (a != null) a.lint1();
        }
    }

    private void picOutputChanged() {
        LocalApic bsp = apics[0];
        if (bsp != null) bsp.picOutput(pic.output());
    }

    /** Puts the PICs, the IOAPIC and the PIT in their power-on state (the local APICs are the vCPUs'). */
    public void reset() {
        synchronized (lock) {
            pic.reset();
            ioapic.reset();
            pit.reset();
        }
        timers.changed();
    }

    /** The state type of {@link #save()}. */
    public static final String STATE_TYPE = "vmm.emu.irqchip";

    /**
     * Every controller's state, for a snapshot: the 8259A pair, the IOAPIC, the PIT, each local APIC with its
     * timer, and the MSI routes. Timers are kept in the VM's time, so a VM whose clock goes on from the saved
     * time fires each of them when it was due; {@code time} is the clock's reading they were saved at. Any
     * thread; consistent under the chip's lock.
     */
    public DeviceState save() {
        synchronized (lock) {
            List<DeviceState> lapics = new ArrayList<>();
            for (LocalApic a : apics) {
                if (a == null) throw new IllegalStateException("every vCPU must be created before a snapshot");
                lapics.add(a.save());
            }
            List<Long> routes = new ArrayList<>();
            new java.util.TreeMap<>(msiRoutes).forEach((gsi, m) -> {
                routes.add((long) gsi);
                routes.add(m.address());
                routes.add(m.data() & 0xffff_ffffL);
            });
            // The time the timers' deadlines are compared with, read with them under the lock.
            return DeviceState.builder(STATE_TYPE, 1).put("time", clock.nanos()).put("pic", pic.save())
                    .put("ioapic", ioapic.save()).put("pit", pit.save()).putList("lapics", lapics)
                    .putList("msi-routes", routes).build();
        }
    }

    /**
     * Puts back {@link #save()}'s state of a chip with as many vCPUs, every one attached, before any vCPU runs.
     * A state refused part way leaves the chip unusable: the caller discards the VM.
     *
     * @throws IncompatibleStateException naming what cannot be read or held
     */
    public void restore(DeviceState s) {
        s.require(STATE_TYPE, 1);
        List<Object> lapics = s.getList("lapics");
        if (lapics.size() != apics.length)
            throw new IncompatibleStateException(STATE_TYPE + " state has " + lapics.size()
                    + " local APICs; this VM has " + apics.length + " vCPUs");
        List<Object> routes = s.getList("msi-routes");
        if (routes.size() % 3 != 0 || routes.size() / 3 > GSI_LIMIT)
            throw new IncompatibleStateException(STATE_TYPE + " state: MSI routes are GSI, address,"
                    + " data triples");
        Map<Integer, MsiMessage> newRoutes = new HashMap<>();
        for (int i = 0; i < routes.size(); i += 3) {
            if (!(routes.get(i) instanceof Long gsi) || !(routes.get(i + 1) instanceof Long address)
                    || !(routes.get(i + 2) instanceof Long data) || gsi < IOAPIC_PINS || gsi >= GSI_LIMIT
                    || data < 0 || data > 0xffff_ffffL)
                throw new IncompatibleStateException(STATE_TYPE + " state: MSI route " + i / 3
                        + " is not a GSI in [" + IOAPIC_PINS + ", " + GSI_LIMIT + ") with an address and 32-bit data");
            newRoutes.put(gsi.intValue(), new MsiMessage(address, data.intValue()));
        }
        synchronized (lock) {
            for (int i = 0; i < apics.length; i++) {
                if (apics[i] == null) throw new IllegalStateException("every vCPU must be created before a restore");
                if (!(lapics.get(i) instanceof DeviceState ls))
                    throw new IncompatibleStateException(STATE_TYPE + " state: local APIC " + i
                            + " is not a state");
                apics[i].restore(ls);
            }
            pic.restore(s.getState("pic"));
            ioapic.restore(s.getState("ioapic"));
            pit.restore(s.getState("pit"));
            msiRoutes.clear();
            msiRoutes.putAll(newRoutes);
        }
        timers.changed();
    }

    /** Stops the timer thread if it runs. */
    @Override
    public void close() {
        timers.close();
    }

    // For tests: the models, to be used under lock().
    Object lock() { return lock; }
    DualPic pic() { return pic; }
    IoApic ioapic() { return ioapic; }
    Pit8254 pit() { return pit; }
}
