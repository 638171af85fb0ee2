package vmm.core.internal.chipset;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import vmm.core.Inert;
import vmm.core.bus.IoHandler;
import vmm.core.irq.InterruptLine;

/** The ACPI PCI hotplug registers and the GPE0 block behave as QEMU's PIIX4 documents them, and resist a hostile guest. */
class PciHotplugTest {
    /** The SCI as the I/O APIC input sees it. */
    private static final class Sci implements InterruptLine {
        volatile boolean level;
        @Override public void raise() { level = true; }
        @Override public void lower() { level = false; }
        @Override public boolean isRaised() { return level; }
    }

    private final Sci sci = new Sci();
    private final AcpiPm pm = new AcpiPm(Inert.POWER, () -> 0, sci);
    private final List<Integer> ejected = new ArrayList<>();
    private final PciHotplug hp = new PciHotplug(() -> pm.raiseGpe(PciHotplug.GPE_BIT), ejected::add);
    private final IoHandler regs = hp.registers(), gpe = pm.gpeRegisters();

    /** What the OS does at boot: enables the GPEs that have a handler (_E01). */
    private void enableHotplugGpe() {
        gpe.write(AcpiPm.GPE0_EN, 1, 1 << PciHotplug.GPE_BIT);
    }

    @Test
    void anAddedDeviceIsAnnouncedInPciUpOnceAndRaisesTheSciThroughTheEnabledGpe() {
        enableHotplugGpe();
        assertThat(sci.level).isFalse();
        hp.hotPlugged(5);
        assertThat(sci.level).as("SCI").isTrue();
        assertThat(gpe.read(AcpiPm.GPE0_STS, 1)).as("GPE0_STS").isEqualTo(1 << PciHotplug.GPE_BIT);
        assertThat(regs.read(PciHotplug.PCI_UP, 4)).isEqualTo(1 << 5);
        assertThat(regs.read(PciHotplug.PCI_UP, 4)).as("consumed by the read").isZero();
        assertThat(regs.read(PciHotplug.PCI_RMV, 4)).as("a hot-added device is removable").isEqualTo(1 << 5);
        gpe.write(AcpiPm.GPE0_STS, 1, 1 << PciHotplug.GPE_BIT); // the OS acknowledges: write 1 to clear
        assertThat(sci.level).isFalse();
        assertThat(gpe.read(AcpiPm.GPE0_STS, 2)).isZero();
    }

    @Test
    void aDisabledGpeRecordsTheEventWithoutRaisingTheSciUntilEnabled() {
        hp.hotPlugged(7);
        assertThat(sci.level).isFalse();
        assertThat(gpe.read(AcpiPm.GPE0_STS, 1)).isEqualTo(1 << PciHotplug.GPE_BIT);
        enableHotplugGpe();
        assertThat(sci.level).isTrue();
    }

    @Test
    void aRemovalRequestStaysInPciDownUntilTheGuestWritesTheSlotToTheEjectRegister() {
        enableHotplugGpe();
        hp.hotPlugged(4);
        regs.read(PciHotplug.PCI_UP, 4);
        gpe.write(AcpiPm.GPE0_STS, 1, 0xff);
        hp.requestRemoval(4);
        assertThat(sci.level).isTrue();
        assertThat(regs.read(PciHotplug.PCI_DOWN, 4)).isEqualTo(1 << 4);
        assertThat(regs.read(PciHotplug.PCI_DOWN, 4)).as("not consumed by reading").isEqualTo(1 << 4);
        assertThat(ejected).isEmpty();
        assertThat(hp.present(4)).isTrue();
        regs.write(PciHotplug.B0EJ, 4, 1 << 4);
        assertThat(ejected).containsExactly(4);
        assertThat(hp.present(4)).isFalse();
        assertThat(regs.read(PciHotplug.PCI_DOWN, 4)).isZero();
        assertThat(regs.read(PciHotplug.PCI_RMV, 4)).isZero();
    }

    @Test
    void theEjectRegisterReadsTheBaseFeatureSet() {
        assertThat(regs.read(PciHotplug.B0EJ, 4)).isZero();
    }

    @Test
    void aHostileEjectWriteEjectsOnlyTheLowestSlotAndOnlyWhenItsDeviceIsRemovable() {
        hp.coldPlugged(3, false);  // a disk given at start
        hp.coldPlugged(6, true);   // one the user marked removable
        hp.hotPlugged(9);
        regs.write(PciHotplug.B0EJ, 4, 0xffff_ffffL);  // lowest bit: slot 0, the host bridge
        regs.write(PciHotplug.B0EJ, 4, 1 << 1);        // the ISA bridge and PM
        regs.write(PciHotplug.B0EJ, 4, 1 << 3);        // cold-plugged, not removable
        regs.write(PciHotplug.B0EJ, 4, 1 << 12);       // an empty slot
        regs.write(PciHotplug.B0EJ, 2, 1 << 9);        // not a whole-register write
        regs.write(PciHotplug.PCI_UP, 4, 0xffff_ffffL);// read-only registers
        regs.write(PciHotplug.PCI_RMV, 4, 0xffff_ffffL);
        assertThat(ejected).isEmpty();
        assertThat(hp.present(3)).isTrue();
        assertThat(regs.read(PciHotplug.PCI_RMV, 4)).isEqualTo(1 << 6 | 1 << 9);
        regs.write(PciHotplug.B0EJ, 4, 1 << 9 | 1 << 3);  // slot 3 is the lowest: nothing
        assertThat(ejected).isEmpty();
        regs.write(PciHotplug.B0EJ, 4, 1 << 6 | 1 << 9);  // slot 6 only, as QEMU takes one slot a write
        assertThat(ejected).containsExactly(6);
        regs.write(PciHotplug.B0EJ, 4, 1 << 9);
        regs.write(PciHotplug.B0EJ, 4, 1 << 9);           // twice: the slot is empty now
        assertThat(ejected).containsExactly(6, 9);
    }

    @Test
    void theHostCannotAskToRemoveAColdPluggedDeviceNotMarkedRemovableNorAnEmptySlotNorTheChipset() {
        hp.coldPlugged(3, false);
        assertThatThrownBy(() -> hp.requestRemoval(3)).isInstanceOf(IllegalStateException.class).hasMessageContaining("not marked removable");
        assertThatThrownBy(() -> hp.requestRemoval(8)).isInstanceOf(IllegalStateException.class).hasMessageContaining("empty");
        assertThatThrownBy(() -> hp.hotPlugged(1)).isInstanceOf(IllegalArgumentException.class);
        assertThat(gpe.read(AcpiPm.GPE0_STS, 1)).as("no event").isZero();
    }

    @Test
    void aResetDropsAnnouncementsAndHandsPendingRemovalsToTheHost() {
        hp.hotPlugged(4);
        hp.hotPlugged(5);
        hp.requestRemoval(5);
        assertThat(hp.reset()).isEqualTo(1 << 5);
        assertThat(regs.read(PciHotplug.PCI_UP, 4)).isZero();
        assertThat(regs.read(PciHotplug.PCI_DOWN, 4)).isZero();
        assertThat(hp.present(4)).isTrue();
        assertThat(hp.present(5)).isFalse();
        pm.reset();
        assertThat(gpe.read(AcpiPm.GPE0_STS, 2)).isZero();
        assertThat(sci.level).isFalse();
    }

    @Test
    void theGpeRegistersSurviveASnapshot() {
        enableHotplugGpe();
        hp.hotPlugged(5);
        AcpiPm other = new AcpiPm(Inert.POWER, () -> 0, new Sci());
        other.restore(pm.save());
        assertThat(other.gpeRegisters().read(0, 4)).isEqualTo(pm.gpeRegisters().read(0, 4));
        assertThat(other.sciLevel()).isTrue();
    }
}
