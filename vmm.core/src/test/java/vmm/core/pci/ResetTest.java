package vmm.core.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static vmm.core.pci.PciRegs.*;

import org.junit.jupiter.api.Test;

class ResetTest extends PciFixture {
    private static final long BAR_BASE = 0xfe00_0000L;

    @Test
    void resetAllReturnsEveryFunctionToItsAttachState() {
        PciAddress at = PciAddress.slot(2); // INTA# -> GSI 18
        PciFunction f = attach(at, spec().interruptPin(1).bar(BarSpec.mem32(0, 0x1000)).bar(BarSpec.io(1, 16))
                .msix(new MsiXSpec(2, 0, 0x800, 0, 0xc00)).msi(new MsiSpec(2, false, true)).rom(new byte[100])
                .build());
        int msix = findCapability(at, PCI_CAP_ID_MSIX), msi = findCapability(at, PCI_CAP_ID_MSI);
        write32(at, bar(0), (int) BAR_BASE);
        write32(at, bar(1), 0xc100);
        write32(at, PCI_ROM_ADDRESS, 0xfe10_0001);
        write16(at, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO | PCI_COMMAND_MASTER);
        write8(at, PCI_CACHE_LINE_SIZE, 0x10);
        write8(at, PCI_INTERRUPT_LINE, 5);
        f.intx().raise();
        assertThat(irq.level(18)).isTrue();
        mmio.write(BAR_BASE + 0x800, 8, 0xfee0_0000L);
        mmio.write(BAR_BASE + 0x808, 8, 0x41L);
        write16(at, msix + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
        f.signalMsiX(0);
        write32(at, msi + PCI_MSI_ADDRESS_LO, 0xfee0_0000);
        write32(at, msi + PCI_MSI_MASK_32, 1);
        assertThat(mmio.ranges()).hasSize(2);
        assertThat(io.ranges()).hasSize(1);

        bus.resetAll();

        assertThat(read16(at, PCI_COMMAND)).isZero();
        assertThat(read32(at, bar(0))).isZero();
        assertThat(read32(at, bar(1))).isEqualTo(PCI_BASE_ADDRESS_SPACE_IO);
        assertThat(read32(at, PCI_ROM_ADDRESS)).isZero();
        assertThat(read8(at, PCI_CACHE_LINE_SIZE)).isZero();
        assertThat(read8(at, PCI_INTERRUPT_LINE)).isEqualTo(18);
        assertThat(mmio.ranges()).isEmpty();
        assertThat(io.ranges()).isEmpty();
        assertThat(f.barAddress(0)).isEqualTo(-1);
        assertThat(f.busMasterEnabled()).isFalse();
        assertThat(irq.level(18)).isFalse();
        assertThat(f.intx().isRaised()).isFalse();
        assertThat(read16(at, PCI_STATUS) & PCI_STATUS_INTERRUPT).isZero();
        assertThat(f.msixEnabled()).isFalse();
        assertThat(read16(at, msix + PCI_MSIX_FLAGS)).isEqualTo(1);
        assertThat(f.msiEnabled()).isFalse();
        assertThat(read32(at, msi + PCI_MSI_ADDRESS_LO)).isZero();
        assertThat(read32(at, msi + PCI_MSI_MASK_32)).isZero();

        write32(at, bar(0), (int) BAR_BASE);
        write16(at, PCI_COMMAND, PCI_COMMAND_MEMORY);
        assertThat(mmio.read(BAR_BASE + 0x800, 8)).isZero();
        assertThat(mmio.read(BAR_BASE + 0x80c, 4)).isEqualTo(PCI_MSIX_ENTRY_CTRL_MASKBIT);
        assertThat(mmio.read(BAR_BASE + 0x81c, 4)).isEqualTo(PCI_MSIX_ENTRY_CTRL_MASKBIT);
        assertThat(mmio.read(BAR_BASE + 0xc00, 8)).as("nothing pending").isZero();
    }

    @Test
    void deviceCanRaiseAgainAfterReset() {
        PciAddress at = PciAddress.slot(2);
        PciFunction f = attach(at, spec().interruptPin(1).build());
        f.intx().raise();

        bus.resetAll();
        f.intx().raise();

        assertThat(irq.level(18)).isTrue();
    }
}
