package vmm.core.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static vmm.core.pci.PciRegs.*;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import vmm.core.irq.MsiMessage;

class MsiXTest extends PciFixture {
    private static final long BAR_BASE = 0xfe00_0000L;
    private static final long TABLE = BAR_BASE + 0x2000;
    private static final long PBA = BAR_BASE + 0x3000;

    private final PciAddress at = PciAddress.slot(6);
    private PciFunction f;
    private int cap;

    @BeforeEach
    void attachWithMsiXInBarZero() {
        f = attach(at, spec().interruptPin(1).bar(BarSpec.mem32(0, 0x4000))
                .msix(new MsiXSpec(8, 0, 0x2000, 0, 0x3000)).build());
        write32(at, bar(0), (int) BAR_BASE);
        enableDecode(at, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
        cap = findCapability(at, PCI_CAP_ID_MSIX);
    }

    private long entry(int vector) {
        return TABLE + (long) PCI_MSIX_ENTRY_SIZE * vector;
    }

    private void program(int vector, long address, int data) {
        mmio.write(entry(vector) + PCI_MSIX_ENTRY_LOWER_ADDR, 4, address & 0xffff_ffffL);
        mmio.write(entry(vector) + PCI_MSIX_ENTRY_UPPER_ADDR, 4, address >>> 32);
        mmio.write(entry(vector) + PCI_MSIX_ENTRY_DATA, 4, data);
    }

    private void mask(int vector, boolean masked) {
        mmio.write(entry(vector) + PCI_MSIX_ENTRY_VECTOR_CTRL, 4, masked ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);
    }

    private void control(int bits) {
        write16(at, cap + PCI_MSIX_FLAGS, bits);
    }

    @Test
    void capabilityAdvertisesTableSizeAndLocationReadOnly() {
        write32(at, cap + PCI_MSIX_TABLE, -1);
        write32(at, cap + PCI_MSIX_PBA, -1);
        write16(at, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_QSIZE);

        assertThat(read16(at, cap + PCI_MSIX_FLAGS)).isEqualTo(7);
        assertThat(read32(at, cap + PCI_MSIX_TABLE)).isEqualTo(0x2000);
        assertThat(read32(at, cap + PCI_MSIX_PBA)).isEqualTo(0x3000);

        control(0xffff);
        assertThat(read16(at, cap + PCI_MSIX_FLAGS))
                .isEqualTo(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | 7);
        assertThat(f.msixEnabled()).isTrue();
    }

    @Test
    void tableEntriesStartMaskedWithNoMessage() {
        for (int v = 0; v < 8; v++) {
            assertThat(mmio.read(entry(v), 8)).isZero();
            assertThat(mmio.read(entry(v) + PCI_MSIX_ENTRY_DATA, 4)).isZero();
            assertThat(mmio.read(entry(v) + PCI_MSIX_ENTRY_VECTOR_CTRL, 4)).isEqualTo(PCI_MSIX_ENTRY_CTRL_MASKBIT);
        }
    }

    @Test
    void enabledUnmaskedVectorDeliversItsProgrammedMessage() {
        program(3, 0xfee0_1000L, 0x4041);
        mask(3, false);
        control(PCI_MSIX_FLAGS_ENABLE);

        assertThat(f.signalMsiX(3)).isTrue();

        assertThat(irq.msis()).containsExactly(new MsiMessage(0xfee0_1000L, 0x4041));
    }

    @Test
    void quadwordTableAccessesActAsTwoDwords() {
        mmio.write(entry(2), 8, 0x0000_0001_fee0_2003L);
        mmio.write(entry(2) + PCI_MSIX_ENTRY_DATA, 8, 0x0000_0000_0000_0051L);
        control(PCI_MSIX_FLAGS_ENABLE);

        assertThat(mmio.read(entry(2), 8)).as("address bits 1:0 are reserved").isEqualTo(0x0000_0001_fee0_2000L);
        assertThat(mmio.read(entry(2) + PCI_MSIX_ENTRY_DATA, 8)).isEqualTo(0x51L);
        assertThat(mmio.read(entry(2) + PCI_MSIX_ENTRY_UPPER_ADDR, 4)).isEqualTo(1L);
        f.signalMsiX(2);
        assertThat(irq.msis()).containsExactly(new MsiMessage(0x1_fee0_2000L, 0x51));
    }

    @Test
    void byteAndWordTableWritesMergeIntoTheirDword() {
        program(1, 0xfee0_0000L, 0x1111_2222);

        mmio.write(entry(1) + PCI_MSIX_ENTRY_DATA + 2, 2, 0xabcd);
        mmio.write(entry(1) + PCI_MSIX_ENTRY_DATA, 1, 0x33);

        assertThat(mmio.read(entry(1) + PCI_MSIX_ENTRY_DATA, 4)).isEqualTo(0xabcd_2233L);
        assertThat(mmio.read(entry(1) + PCI_MSIX_ENTRY_DATA + 3, 1)).isEqualTo(0xabL);
    }

    @Test
    void maskedVectorSetsItsPendingBitAndIsDeliveredOnUnmask() {
        program(5, 0xfee0_0000L, 0x30);
        control(PCI_MSIX_FLAGS_ENABLE);

        assertThat(f.signalMsiX(5)).isTrue();

        assertThat(irq.msis()).isEmpty();
        assertThat(mmio.read(PBA, 8)).isEqualTo(1L << 5);
        assertThat(mmio.read(PBA, 4)).isEqualTo(1L << 5);

        mask(5, false);

        assertThat(irq.msis()).containsExactly(new MsiMessage(0xfee0_0000L, 0x30));
        assertThat(mmio.read(PBA, 8)).isZero();
    }

    @Test
    void functionMaskHoldsEveryVectorUntilCleared() {
        program(0, 0xfee0_0000L, 0x20);
        program(7, 0xfee0_0000L, 0x27);
        mask(0, false);
        mask(7, false);
        control(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);

        f.signalMsiX(7);
        f.signalMsiX(0);
        assertThat(irq.msis()).isEmpty();
        assertThat(mmio.read(PBA, 8)).isEqualTo(1L << 7 | 1L);

        control(PCI_MSIX_FLAGS_ENABLE);

        assertThat(irq.msis()).containsExactlyInAnyOrder(new MsiMessage(0xfee0_0000L, 0x20),
                new MsiMessage(0xfee0_0000L, 0x27));
        assertThat(mmio.read(PBA, 8)).isZero();
    }

    @Test
    void unmaskingTheFunctionLeavesMaskedEntriesPending() {
        program(4, 0xfee0_0000L, 0x24);
        control(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
        f.signalMsiX(4);

        control(PCI_MSIX_FLAGS_ENABLE);

        assertThat(irq.msis()).isEmpty();
        assertThat(mmio.read(PBA, 8)).isEqualTo(1L << 4);
    }

    @Test
    void pbaIgnoresWrites() {
        control(PCI_MSIX_FLAGS_ENABLE);
        f.signalMsiX(1);

        mmio.write(PBA, 8, 0);
        mmio.write(PBA, 4, -1);

        assertThat(mmio.read(PBA, 8)).isEqualTo(1L << 1);
    }

    @Test
    void signalIsRefusedWhileDisabledOrForAVectorOutOfRange() {
        mask(0, false);
        assertThat(f.signalMsiX(0)).as("disabled").isFalse();
        assertThat(mmio.read(PBA, 8)).as("nothing pending while disabled").isZero();

        control(PCI_MSIX_FLAGS_ENABLE);

        assertThat(f.signalMsiX(8)).isFalse();
        assertThat(f.signalMsiX(-1)).isFalse();
        assertThat(irq.msis()).isEmpty();
        assertThat(f.msixEnabled()).isTrue();
    }

    @Test
    void tableAndPbaAreEmulatedAndTheRestOfTheBarReachesTheDevice() {
        mmio.read(entry(0), 4);
        mmio.write(entry(7) + 12, 4, 0);
        mmio.read(PBA, 8);
        mmio.write(PBA, 8, 0);
        assertThat(bars.accesses()).isEmpty();

        assertThat(mmio.read(BAR_BASE + 0x1ffc, 4)).isEqualTo(RecordingBarHandler.answer(0, 0x1ffc));
        assertThat(mmio.read(TABLE + 8 * 16, 4)).as("just after the table").isEqualTo(RecordingBarHandler.answer(0,
                0x2080));
        assertThat(mmio.read(PBA + 8, 4)).as("just after the PBA").isEqualTo(RecordingBarHandler.answer(0, 0x3008));
        assertThat(bars.accesses()).hasSize(3);
    }

    @Test
    void tableFollowsItsBarWhenRelocated() {
        program(2, 0xfee0_0000L, 0x62);
        write32(at, bar(0), 0xfd00_0000);

        assertThat(mmio.read(0xfd00_2000L + 2 * 16 + PCI_MSIX_ENTRY_DATA, 4)).isEqualTo(0x62L);
    }

    @Test
    void pendingBitsBeyondSixtyFourVectorsUseTheNextQuadword() {
        PciAddress big = PciAddress.slot(7);
        PciFunction g = attach(big, spec().bar(BarSpec.mem64(2, 0x4000, false))
                .msix(new MsiXSpec(70, 2, 0, 2, 0x1000)).build());
        write32(big, bar(2), 0xfc00_0000);
        enableDecode(big, PCI_COMMAND_MEMORY);
        write16(big, findCapability(big, PCI_CAP_ID_MSIX) + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE);

        g.signalMsiX(65);

        assertThat(read16(big, findCapability(big, PCI_CAP_ID_MSIX) + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_QSIZE)
                .isEqualTo(69);
        assertThat(mmio.read(0xfc00_1000L, 8)).isZero();
        assertThat(mmio.read(0xfc00_1008L, 8)).isEqualTo(1L << 1);
    }
}
