package vmm.core.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static vmm.core.pci.PciRegs.*;

import org.junit.jupiter.api.Test;

import vmm.core.irq.InterruptLine;
import vmm.core.pci.RecordingIrqChip.LevelChange;

class IntxTest extends PciFixture {
    private PciFunction withPin(PciAddress at, int pin) {
        return attach(at, spec().interruptPin(pin).build());
    }

    @Test
    void standardRoutingSwizzlesSlotPinsOntoPirqAToD() {
        IntxRouting r = IntxRouting.standard();

        assertThat(r.gsi(PciAddress.slot(0), 1)).isEqualTo(16);
        assertThat(r.gsi(PciAddress.slot(0), 4)).isEqualTo(19);
        assertThat(r.gsi(PciAddress.slot(1), 1)).isEqualTo(17);
        assertThat(r.gsi(PciAddress.slot(3), 2)).isEqualTo(16);
        assertThat(r.gsi(new PciAddress(0, 6, 3), 3)).isEqualTo(16);
        assertThatThrownBy(() -> r.gsi(PciAddress.slot(0), 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void raisedLineDrivesTheRoutedGsiAndShowsInStatus() {
        PciAddress at = PciAddress.slot(2);
        InterruptLine line = withPin(at, 1).intx();

        line.raise();
        assertThat(irq.level(18)).isTrue();
        assertThat(line.isRaised()).isTrue();
        assertThat(read16(at, PCI_STATUS) & PCI_STATUS_INTERRUPT).isNotZero();

        line.lower();
        assertThat(irq.level(18)).isFalse();
        assertThat(read16(at, PCI_STATUS) & PCI_STATUS_INTERRUPT).isZero();
        assertThat(irq.levelChanges()).containsExactly(new LevelChange(18, true), new LevelChange(18, false));
    }

    @Test
    void customRoutingDecidesTheGsi() {
        PciFixture custom = new PciFixture((address, pin) -> 40 + address.device());
        PciAddress at = PciAddress.slot(3);
        custom.attach(at, spec().interruptPin(1).build()).intx().raise();

        assertThat(custom.irq.levelChanges()).containsExactly(new LevelChange(43, true));
        assertThat(custom.read8(at, PCI_INTERRUPT_LINE)).isEqualTo(43);
    }

    @Test
    void functionsSharingAGsiAreWireOred() {
        InterruptLine a = withPin(PciAddress.slot(0), 1).intx(); // GSI 16
        InterruptLine b = withPin(PciAddress.slot(4), 1).intx(); // GSI 16 as well

        a.raise();
        b.raise();
        a.raise();
        assertThat(irq.levelChanges()).containsExactly(new LevelChange(16, true));

        a.lower();
        assertThat(irq.level(16)).as("b still drives it").isTrue();

        b.lower();
        assertThat(irq.levelChanges()).containsExactly(new LevelChange(16, true), new LevelChange(16, false));
    }

    @Test
    void interruptDisableStopsDrivingButStatusStillShowsTheDevicesLevel() {
        PciAddress at = PciAddress.slot(1);
        InterruptLine line = withPin(at, 1).intx(); // GSI 17
        line.raise();

        write16(at, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE);
        assertThat(irq.level(17)).isFalse();
        assertThat(read16(at, PCI_STATUS) & PCI_STATUS_INTERRUPT).isNotZero();

        line.lower();
        line.raise();
        assertThat(irq.level(17)).isFalse();

        write16(at, PCI_COMMAND, 0);
        assertThat(irq.level(17)).isTrue();
    }

    @Test
    void enabledMsiXSuppressesIntx() {
        PciAddress at = PciAddress.slot(1);
        PciFunction f = attach(at, spec().interruptPin(1).bar(BarSpec.mem32(0, 0x1000))
                .msix(new MsiXSpec(1, 0, 0, 0, 0x800)).build());
        int flags = findCapability(at, PCI_CAP_ID_MSIX) + PCI_MSIX_FLAGS;
        f.intx().raise();

        write16(at, flags, PCI_MSIX_FLAGS_ENABLE);
        assertThat(irq.level(17)).isFalse();
        f.intx().lower();
        f.intx().raise();
        assertThat(irq.level(17)).isFalse();

        write16(at, flags, 0);
        assertThat(irq.level(17)).isTrue();
    }

    @Test
    void enabledMsiSuppressesIntx() {
        PciAddress at = PciAddress.slot(1);
        PciFunction f = attach(at, spec().interruptPin(1).msi(new MsiSpec(1, true, false)).build());
        int flags = findCapability(at, PCI_CAP_ID_MSI) + PCI_MSI_FLAGS;

        write16(at, flags, PCI_MSI_FLAGS_ENABLE);
        f.intx().raise();
        assertThat(irq.level(17)).isFalse();

        write16(at, flags, 0);
        assertThat(irq.level(17)).isTrue();
    }

    @Test
    void functionWithoutPinGetsALineThatDoesNothing() {
        InterruptLine line = withPin(PciAddress.slot(1), 0).intx();

        line.raise();

        assertThat(line.isRaised()).isFalse();
        assertThat(irq.levelChanges()).isEmpty();
    }

    @Test
    void detachLowersTheLineAndLaterRaisesAreIgnored() {
        PciFunction f = withPin(PciAddress.slot(1), 1);
        f.intx().raise();

        f.detach();
        f.intx().raise();

        assertThat(irq.level(17)).isFalse();
        assertThat(irq.levelChanges()).containsExactly(new LevelChange(17, true), new LevelChange(17, false));
    }
}
