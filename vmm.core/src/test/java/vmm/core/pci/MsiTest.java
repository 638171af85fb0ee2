package vmm.core.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static vmm.core.pci.PciRegs.*;

import org.junit.jupiter.api.Test;

import vmm.core.irq.MsiMessage;

class MsiTest extends PciFixture {
    private final PciAddress at = PciAddress.slot(8);

    /** Four vectors, 64-bit address, per-vector masking: the largest MSI layout. */
    private int attachFullMsi() {
        attach(at, spec().msi(new MsiSpec(4, true, true)).build());
        return findCapability(at, PCI_CAP_ID_MSI);
    }

    private void enable(int cap, int log2Vectors) {
        write16(at, cap + PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE | log2Vectors << PCI_MSI_FLAGS_QSIZE_SHIFT);
    }

    @Test
    void capabilityAdvertisesVectorsAddressWidthAndMasking() {
        int cap = attachFullMsi();

        assertThat(read16(at, cap + PCI_MSI_FLAGS))
                .isEqualTo(2 << PCI_MSI_FLAGS_QMASK_SHIFT | PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT);
        write16(at, cap + PCI_MSI_FLAGS, 0xffff & ~PCI_MSI_FLAGS_QSIZE);
        assertThat(read16(at, cap + PCI_MSI_FLAGS)).as("only enable and multiple message enable are writable")
                .isEqualTo(2 << PCI_MSI_FLAGS_QMASK_SHIFT | PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT
                        | PCI_MSI_FLAGS_ENABLE);
    }

    @Test
    void multipleMessageEnableIsClampedToWhatTheFunctionIsCapableOf() {
        int cap = attachFullMsi();

        enable(cap, 5);

        assertThat(read16(at, cap + PCI_MSI_FLAGS) & PCI_MSI_FLAGS_QSIZE).isEqualTo(2 << PCI_MSI_FLAGS_QSIZE_SHIFT);
    }

    @Test
    void enabledMsiDeliversWithTheVectorInTheLowDataBits() {
        int cap = attachFullMsi();
        PciFunction f = bus.function(at);
        write32(at, cap + PCI_MSI_ADDRESS_LO, 0xfee0_100c);
        write32(at, cap + PCI_MSI_ADDRESS_HI, 0x1);
        write16(at, cap + PCI_MSI_DATA_64, 0x4043);
        enable(cap, 2);

        assertThat(f.msiEnabled()).isTrue();
        assertThat(f.signalMsi(2)).isTrue();
        assertThat(f.signalMsi(0)).isTrue();

        assertThat(irq.msis()).containsExactly(new MsiMessage(0x1_fee0_100cL, 0x4042),
                new MsiMessage(0x1_fee0_100cL, 0x4040));
    }

    @Test
    void signalIsRefusedWhileDisabledOrBeyondTheEnabledVectors() {
        int cap = attachFullMsi();
        PciFunction f = bus.function(at);

        assertThat(f.signalMsi(0)).isFalse();
        enable(cap, 1);
        assertThat(f.signalMsi(2)).isFalse();
        assertThat(f.signalMsi(-1)).isFalse();
        assertThat(f.signalMsi(1)).isTrue();
        assertThat(irq.msis()).hasSize(1);
    }

    @Test
    void maskedVectorIsPendingUntilUnmasked() {
        int cap = attachFullMsi();
        PciFunction f = bus.function(at);
        write32(at, cap + PCI_MSI_ADDRESS_LO, 0xfee0_0000);
        write16(at, cap + PCI_MSI_DATA_64, 0x60);
        write32(at, cap + PCI_MSI_MASK_64, 0b0010);
        enable(cap, 2);

        assertThat(f.signalMsi(1)).isTrue();
        assertThat(irq.msis()).isEmpty();
        assertThat(read32(at, cap + PCI_MSI_PENDING_64)).isEqualTo(0b0010);
        write32(at, cap + PCI_MSI_PENDING_64, 0);
        assertThat(read32(at, cap + PCI_MSI_PENDING_64)).as("pending bits are read-only").isEqualTo(0b0010);

        write32(at, cap + PCI_MSI_MASK_64, 0);

        assertThat(irq.msis()).containsExactly(new MsiMessage(0xfee0_0000L, 0x61));
        assertThat(read32(at, cap + PCI_MSI_PENDING_64)).isZero();
    }

    @Test
    void maskBitsBeyondTheCapableVectorsAreReadOnly() {
        int cap = attachFullMsi();

        write32(at, cap + PCI_MSI_MASK_64, -1);

        assertThat(read32(at, cap + PCI_MSI_MASK_64)).isEqualTo(0xf);
    }

    @Test
    void minimalMsiHasThirtyTwoBitLayoutWithReservedAddressAndDataBits() {
        PciFunction f = attach(at, spec().msi(new MsiSpec(1, false, false)).build());
        int cap = findCapability(at, PCI_CAP_ID_MSI);
        assertThat(read16(at, cap + PCI_MSI_FLAGS)).isZero();

        write32(at, cap + PCI_MSI_ADDRESS_LO, 0xfee0_2003);
        write32(at, cap + PCI_MSI_DATA_32, 0xffff_1234);
        write16(at, cap + PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE | 3 << PCI_MSI_FLAGS_QSIZE_SHIFT);

        assertThat(read32(at, cap + PCI_MSI_ADDRESS_LO)).isEqualTo(0xfee0_2000);
        assertThat(read32(at, cap + PCI_MSI_DATA_32)).isEqualTo(0x1234);
        assertThat(read16(at, cap + PCI_MSI_FLAGS)).isEqualTo(PCI_MSI_FLAGS_ENABLE);
        assertThat(f.signalMsi(0)).isTrue();
        assertThat(f.signalMsi(1)).isFalse();
        assertThat(irq.msis()).containsExactly(new MsiMessage(0xfee0_2000L, 0x1234));
    }
}
