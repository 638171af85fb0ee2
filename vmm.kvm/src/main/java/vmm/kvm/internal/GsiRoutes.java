package vmm.kvm.internal;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static vmm.kvm.internal.abi.Kvm.*;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import vmm.core.irq.MsiMessage;
import vmm.kvm.internal.abi.KvmStructs;

/**
 * The VM's GSI routing table. {@code KVM_SET_GSI_ROUTING} replaces the whole
 * table, so this keeps the legacy routes (GSI 0–15 to the PICs and IOAPIC as
 * our MADT describes them, 16–23 to the IOAPIC; see {@link #defaultRoutes}), installed
 * when the irqchip is created, and adds the MSI routes the VMM asked for. Not thread-safe; the VM serializes changes.
 */
final class GsiRoutes {
    /** One routing entry: to an irqchip pin, or to an MSI. */
    sealed interface Route permits ChipPin, Msi {}

    record ChipPin(int gsi, int irqchip, int pin) implements Route {}

    record Msi(int gsi, MsiMessage message) implements Route {}

    /** The PICs' cascade input, which carries no device. */
    static final int CASCADE = 2;
    /** The IOAPIC input of ISA IRQ 0 (the MADT's interrupt source override). */
    static final int TIMER_IOAPIC_PIN = 2;

    private static final VarHandle NR = KvmStructs.KVM_IRQ_ROUTING.varHandle(groupElement("nr"));
    private static final VarHandle GSI = e("gsi"), TYPE = e("type");
    private static final VarHandle CHIP = KvmStructs.KVM_IRQ_ROUTING_ENTRY.varHandle(groupElement("u"), groupElement("irqchip"), groupElement("irqchip"));
    private static final VarHandle PIN = KvmStructs.KVM_IRQ_ROUTING_ENTRY.varHandle(groupElement("u"), groupElement("irqchip"), groupElement("pin"));
    private static final VarHandle ADDR_LO = m("address_lo"), ADDR_HI = m("address_hi"), DATA = m("data");

    private static final int DEFAULT_COUNT = defaultRoutes().size();

    private final int maxRoutes;
    private final Map<Integer, MsiMessage> msiRoutes = new TreeMap<>();

    /** @param maxRoutes the host's table size, from {@code KVM_CHECK_EXTENSION(KVM_CAP_IRQ_ROUTING)} */
    GsiRoutes(int maxRoutes) {
        this.maxRoutes = maxRoutes;
    }

    private static VarHandle e(String name) {
        return KvmStructs.KVM_IRQ_ROUTING_ENTRY.varHandle(groupElement(name));
    }

    private static VarHandle m(String name) {
        return KvmStructs.KVM_IRQ_ROUTING_ENTRY.varHandle(groupElement("u"), groupElement("msi"), groupElement(name));
    }

    /** Sets the MSI route of {@code gsi}. @throws IllegalArgumentException for an IOAPIC input or a GSI past the table */
    void routeMsi(int gsi, MsiMessage message) {
        if (gsi < KVM_IOAPIC_NUM_PINS)
            throw new IllegalArgumentException("GSI " + gsi + " is an IOAPIC input; MSI routes start at " + KVM_IOAPIC_NUM_PINS);
        if (gsi >= maxRoutes)
            throw new IllegalArgumentException("GSI " + gsi + " is beyond the host's " + maxRoutes + " routes");
        if (!msiRoutes.containsKey(gsi) && DEFAULT_COUNT + msiRoutes.size() >= maxRoutes)
            throw new IllegalArgumentException("the host's routing table of " + maxRoutes + " entries is full");
        msiRoutes.put(gsi, message);
    }

    /** Drops the MSI route of {@code gsi}, if any. */
    void remove(int gsi) {
        msiRoutes.remove(gsi);
    }

    /** The host's table size. */
    int maxRoutes() {
        return maxRoutes;
    }

    /** The whole table, default routes first. */
    List<Route> routes() {
        List<Route> all = new ArrayList<>(defaultRoutes());
        msiRoutes.forEach((gsi, msg) -> all.add(new Msi(gsi, msg)));
        return all;
    }

    /**
     * The legacy routes, as our MADT describes the board: ISA IRQ n is GSI n on the PIC and IOAPIC input n,
     * except that the PIT's IRQ 0 (the in-kernel PIT raises GSI 0) reaches IOAPIC input 2, which is the MADT's
     * interrupt source override for IRQ 0, and GSI 2 (the PICs' cascade) goes nowhere. KVM's own default table
     * routes GSI 0 to input 0, where a guest that follows the MADT never looks.
     */
    static List<Route> defaultRoutes() {
        List<Route> r = new ArrayList<>();
        for (int gsi = 0; gsi < 16; gsi++) {
            if (gsi == CASCADE) continue;
            r.add(new ChipPin(gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, gsi % 8));
            r.add(new ChipPin(gsi, KVM_IRQCHIP_IOAPIC, gsi == 0 ? TIMER_IOAPIC_PIN : gsi));
        }
        for (int gsi = 16; gsi < KVM_IOAPIC_NUM_PINS; gsi++) r.add(new ChipPin(gsi, KVM_IRQCHIP_IOAPIC, gsi));
        return r;
    }

    /** Bytes needed for {@link #encode}. */
    long encodedSize() {
        return KvmStructs.KVM_IRQ_ROUTING.byteSize() + routes().size() * KvmStructs.KVM_IRQ_ROUTING_ENTRY.byteSize();
    }

    /** Writes {@code struct kvm_irq_routing} with its entries into {@code buf}. */
    void encode(MemorySegment buf) {
        List<Route> all = routes();
        buf.fill((byte) 0);
        NR.set(buf, 0L, all.size());
        long size = KvmStructs.KVM_IRQ_ROUTING_ENTRY.byteSize();
        for (int i = 0; i < all.size(); i++) {
            MemorySegment e = buf.asSlice(KvmStructs.KVM_IRQ_ROUTING.byteSize() + i * size, size);
            switch (all.get(i)) {
                case ChipPin c -> {
                    GSI.set(e, 0L, c.gsi());
                    TYPE.set(e, 0L, KVM_IRQ_ROUTING_IRQCHIP);
                    CHIP.set(e, 0L, c.irqchip());
                    PIN.set(e, 0L, c.pin());
                }
                case Msi msi -> {
                    GSI.set(e, 0L, msi.gsi());
                    TYPE.set(e, 0L, KVM_IRQ_ROUTING_MSI);
                    ADDR_LO.set(e, 0L, (int) msi.message().address());
                    ADDR_HI.set(e, 0L, (int) (msi.message().address() >>> 32));
                    DATA.set(e, 0L, msi.message().data());
                }
            }
        }
    }
}
