package vmm.core.platform;

import java.lang.System.Logger.Level;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import vmm.core.internal.chipset.AcpiPm;
import vmm.core.internal.chipset.PciHotplug;
import vmm.core.machine.Hotplug;
import vmm.core.pci.PciAddress;

/**
 * A PC's {@link Hotplug}: the {@link PciHotplug} registers with the GPE of the {@link AcpiPm} block, and the
 * host's side of each hotpluggable slot (how to release its device, who waits for that). A guest's eject
 * releases the device on a thread of its own ("vm-eject-SLOT"), not on the vCPU that wrote the eject register:
 * releasing drains the device's in-flight requests, which may need that vCPU's turn (a deterministic run).
 */
final class PcHotplug implements Hotplug {
    private static final System.Logger LOG = System.getLogger("vmm.platform");

    /** A hotpluggable slot's device: how to release it, and the future its removal completes. */
    private record Slot(Runnable remove, CompletableFuture<Void> done) {}

    private final PciHotplug registers;
    private final Map<Integer, Slot> slots = new HashMap<>(); // guarded by this
    private volatile boolean live;

    PcHotplug(AcpiPm pm) {
        this.registers = new PciHotplug(() -> pm.raiseGpe(PciHotplug.GPE_BIT), this::ejected);
    }

    PciHotplug registers() {
        return registers;
    }

    /** The guest runs from now on: devices plugged are announced, devices removed are asked for. */
    void goLive() {
        live = true;
    }

    @Override
    public boolean live() {
        return live;
    }

    private static boolean hotpluggable(PciAddress a) {
        return a.bus() == 0 && a.function() == 0 && a.device() >= PciHotplug.FIRST_SLOT && a.device() < PciHotplug.SLOTS;
    }

    @Override
    public void plugged(PciAddress address, boolean removable, Runnable remove) {
        if (!hotpluggable(address)) return;
        synchronized (this) {
            slots.put(address.device(), new Slot(remove, new CompletableFuture<>()));
        }
        if (live) {
            registers.hotPlugged(address.device());
            LOG.log(Level.INFO, "slot {0}: device added; the guest was notified (GPE {1})", address, PciHotplug.GPE_BIT);
        } else {
            registers.coldPlugged(address.device(), removable);
        }
    }

    @Override
    public CompletableFuture<Void> requestRemoval(PciAddress address) {
        Slot s;
        synchronized (this) {
            s = hotpluggable(address) ? slots.get(address.device()) : null;
        }
        if (s == null) throw new IllegalStateException("slot " + address + " holds no device that can be hotplugged");
        registers.requestRemoval(address.device());
        LOG.log(Level.INFO, "slot {0}: the guest was asked to eject the device", address);
        return s.done().copy();
    }

    @Override
    public boolean removable(PciAddress address) {
        if (!hotpluggable(address)) return false;
        return registers.removable(address.device());
    }

    @Override
    public void removed(PciAddress address) {
        if (!hotpluggable(address)) return;
        Slot s;
        synchronized (this) {
            s = slots.remove(address.device());
        }
        registers.forget(address.device());
        if (s != null) s.done().complete(null);
    }

    /** The guest wrote the slot's bit to the eject register (a vCPU thread): release its device on another. */
    private void ejected(int slot) {
        Slot s;
        synchronized (this) {
            s = slots.remove(slot);
        }
        if (s == null) return;
        LOG.log(Level.INFO, "slot {0}: the guest ejected the device; releasing it", slot);
        Thread.ofPlatform().daemon().name("vm-eject-" + slot).start(() -> release(slot, s));
    }

    private static void release(int slot, Slot s) {
        try {
            s.remove().run();
            s.done().complete(null);
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "slot " + slot + ": releasing the ejected device failed", e);
            s.done().completeExceptionally(e);
        }
    }

    /**
     * A machine reset, while no vCPU runs: removals the guest was asked for are carried out now (the guest that
     * would have answered is gone); announcements are dropped, the firmware and the next OS enumerate the bus.
     */
    void reset() {
        int pending = registers.reset();
        for (int slot = 0; slot < PciHotplug.SLOTS; slot++) {
            if ((pending & 1 << slot) == 0) continue;
            Slot s;
            synchronized (this) {
                s = slots.remove(slot);
            }
            if (s != null) release(slot, s);
        }
    }
}
