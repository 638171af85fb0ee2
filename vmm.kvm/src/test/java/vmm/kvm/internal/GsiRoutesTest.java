package vmm.kvm.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.junit.jupiter.api.Test;

import vmm.core.irq.MsiMessage;
import vmm.kvm.internal.abi.Kvm;

/** The routing table keeps KVM's irqchip routes when MSI routes are added, since KVM replaces it whole. */
class GsiRoutesTest {

    @Test
    void theDefaultTableRoutesLegacyGsisToBothPicAndIoapic() {
        var routes = GsiRoutes.defaultRoutes();
        assertThat(routes).contains(
                new GsiRoutes.ChipPin(3, Kvm.KVM_IRQCHIP_PIC_MASTER, 3),
                new GsiRoutes.ChipPin(3, Kvm.KVM_IRQCHIP_IOAPIC, 3),
                new GsiRoutes.ChipPin(12, Kvm.KVM_IRQCHIP_PIC_SLAVE, 4),
                new GsiRoutes.ChipPin(23, Kvm.KVM_IRQCHIP_IOAPIC, 23));
        assertThat(routes).hasSize(15 * 2 + 8);
    }

    @Test
    void thePitsIrq0ReachesIoapicInput2AsTheMadtSaysAndTheCascadeGoesNowhere() {
        var routes = GsiRoutes.defaultRoutes();
        assertThat(routes).contains(new GsiRoutes.ChipPin(0, Kvm.KVM_IRQCHIP_PIC_MASTER, 0),
                new GsiRoutes.ChipPin(0, Kvm.KVM_IRQCHIP_IOAPIC, 2));
        assertThat(routes).filteredOn(r -> r instanceof GsiRoutes.ChipPin p && (p.gsi() == 2
                || p.irqchip() == Kvm.KVM_IRQCHIP_IOAPIC && p.pin() == 0)).isEmpty();
    }

    @Test
    void anMsiRouteIsAddedAfterTheDefaultsAndReplacedByALaterOne() {
        GsiRoutes r = new GsiRoutes(4096);
        r.routeMsi(30, new MsiMessage(0xFEE00000L, 0x41));
        r.routeMsi(30, new MsiMessage(0xFEE01000L, 0x42));
        assertThat(r.routes()).hasSize(39).last().isEqualTo(new GsiRoutes.Msi(30, new MsiMessage(0xFEE01000L, 0x42)));
    }

    @Test
    void ioapicInputsAndGsisBeyondTheTableCannotBecomeMsis() {
        GsiRoutes r = new GsiRoutes(64);
        assertThatThrownBy(() -> r.routeMsi(23, new MsiMessage(0xFEE00000L, 1))).hasMessageContaining("IOAPIC input");
        assertThatThrownBy(() -> r.routeMsi(64, new MsiMessage(0xFEE00000L, 1))).hasMessageContaining("beyond the host's 64 routes");
    }

    @Test
    void aFullTableRefusesANewRoute() {
        GsiRoutes r = new GsiRoutes(39);
        r.routeMsi(24, new MsiMessage(0xFEE00000L, 1));
        assertThatThrownBy(() -> r.routeMsi(25, new MsiMessage(0xFEE00000L, 2))).hasMessageContaining("full");
        r.routeMsi(24, new MsiMessage(0xFEE00000L, 3)); // replacing still fits
    }

    @Test
    void encodingWritesTheHeaderAndEachEntryInTheKernelsLayout() {
        GsiRoutes r = new GsiRoutes(4096);
        r.routeMsi(40, new MsiMessage(0x1_FEE0_0000L, 0x4041));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(r.encodedSize(), 8);
            r.encode(buf);
            assertThat(buf.get(ValueLayout.JAVA_INT, 0)).isEqualTo(39);
            long first = 8, last = 8 + 38 * 48L;
            // entry 0: GSI 0 to the master PIC, pin 0
            assertThat(buf.get(ValueLayout.JAVA_INT, first)).isEqualTo(0);
            assertThat(buf.get(ValueLayout.JAVA_INT, first + 4)).isEqualTo(Kvm.KVM_IRQ_ROUTING_IRQCHIP);
            assertThat(buf.get(ValueLayout.JAVA_INT, first + 16)).isEqualTo(Kvm.KVM_IRQCHIP_PIC_MASTER);
            // the MSI: gsi, type, then address_lo, address_hi, data in the union at 16
            assertThat(buf.get(ValueLayout.JAVA_INT, last)).isEqualTo(40);
            assertThat(buf.get(ValueLayout.JAVA_INT, last + 4)).isEqualTo(Kvm.KVM_IRQ_ROUTING_MSI);
            assertThat(buf.get(ValueLayout.JAVA_INT, last + 16)).isEqualTo(0xFEE00000);
            assertThat(buf.get(ValueLayout.JAVA_INT, last + 20)).isEqualTo(1);
            assertThat(buf.get(ValueLayout.JAVA_INT, last + 24)).isEqualTo(0x4041);
        }
    }
}
