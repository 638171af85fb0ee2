package vmm.core.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static vmm.core.pci.PciRegs.*;

import org.junit.jupiter.api.Test;

import vmm.core.bus.Registration;
import vmm.core.pci.RecordingBarHandler.Access;

class BarTest extends PciFixture {
    private final PciAddress at = PciAddress.slot(4);

    /** BAR 0: 32 I/O ports; BAR 1: 4 KiB 32-bit memory; BARs 2+3: 1 MiB 64-bit prefetchable memory. */
    private PciFunction attachTypical() {
        return attach(at, spec().bar(BarSpec.io(0, 32)).bar(BarSpec.mem32(1, 4096))
                .bar(BarSpec.mem64(2, 1 << 20, true)).build());
    }

    @Test
    void ioBarSizingReadsBackSizeMaskAndIoBit() {
        attachTypical();
        assertThat(read32(at, bar(0))).isEqualTo(PCI_BASE_ADDRESS_SPACE_IO);

        write32(at, bar(0), -1);

        assertThat(read32(at, bar(0))).isEqualTo(0xffff_ffe1);
    }

    @Test
    void memory32BarSizingReadsBackSizeMask() {
        attachTypical();

        write32(at, bar(1), -1);

        assertThat(read32(at, bar(1))).isEqualTo(0xffff_f000);
    }

    @Test
    void memory64BarSizingCoversBothDwordsAndKeepsTypeAndPrefetchBits() {
        attachTypical();
        assertThat(read32(at, bar(2))).isEqualTo(PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);

        write32(at, bar(2), -1);
        write32(at, bar(3), -1);

        assertThat(read32(at, bar(2))).isEqualTo(0xfff0_000c);
        assertThat(read32(at, bar(3))).isEqualTo(0xffff_ffff);
    }

    @Test
    void memory64BarOfSeveralGibibytesMasksTheHighDword() {
        attach(at, spec().bar(BarSpec.mem64(0, 8L << 30, false)).build());

        write32(at, bar(0), -1);
        write32(at, bar(1), -1);

        assertThat(read32(at, bar(0))).isEqualTo(PCI_BASE_ADDRESS_MEM_TYPE_64);
        assertThat(read32(at, bar(1))).isEqualTo(0xffff_fffe);
    }

    @Test
    void unusedBarsReadZeroAndIgnoreWrites() {
        attach(at, spec().bar(BarSpec.mem32(1, 4096)).build());

        for (int i : new int[] {0, 2, 3, 4, 5}) {
            write32(at, bar(i), -1);
            assertThat(read32(at, bar(i))).as("BAR %d", i).isZero();
        }
    }

    @Test
    void barDecodesOnlyWithItsEnableBitAndAnAddress() {
        PciFunction f = attachTypical();
        enableDecode(at, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
        assertThat(mmio.ranges()).isEmpty();
        assertThat(io.ranges()).isEmpty();

        write32(at, bar(1), 0xc000_0000);
        write32(at, bar(0), 0xc000);

        assertThat(f.barAddress(1)).isEqualTo(0xc000_0000L);
        assertThat(f.barAddress(0)).isEqualTo(0xc000L);
        assertThat(mmio.ranges()).extracting(Registration::owner).containsExactly("dev4.0 BAR1");
        assertThat(io.ranges()).extracting(Registration::owner).containsExactly("dev4.0 BAR0");
        assertThat(mmio.read(0xc000_0010L, 4)).isEqualTo(RecordingBarHandler.answer(1, 0x10));
        assertThat(io.read(0xc004, 2)).isEqualTo(RecordingBarHandler.answer(0, 4) & 0xffff);
        io.write(0xc01f, 1, 0x5a);
        assertThat(bars.accesses()).last().isEqualTo(new Access(true, 0, 0x1f, 1, 0x5a));
    }

    @Test
    void ioEnableDoesNotDecodeMemoryBarsAndViceVersa() {
        PciFunction f = attachTypical();
        write32(at, bar(0), 0xc000);
        write32(at, bar(1), 0xc000_0000);

        write16(at, PCI_COMMAND, PCI_COMMAND_IO);
        assertThat(f.barAddress(0)).isEqualTo(0xc000L);
        assertThat(f.barAddress(1)).isEqualTo(-1);

        write16(at, PCI_COMMAND, PCI_COMMAND_MEMORY);
        assertThat(f.barAddress(0)).isEqualTo(-1);
        assertThat(f.barAddress(1)).isEqualTo(0xc000_0000L);
    }

    @Test
    void relocatedBarLeavesItsOldAddressAndReachesTheHandlerAtTheNewOne() {
        PciFunction f = attachTypical();
        enableDecode(at, PCI_COMMAND_MEMORY);
        write32(at, bar(1), 0xc000_0000);
        assertThat(mmio.isClaimed(0xc000_0000L)).isTrue();

        write32(at, bar(1), 0xd000_1000);

        assertThat(mmio.isClaimed(0xc000_0000L)).isFalse();
        assertThat(f.barAddress(1)).isEqualTo(0xd000_1000L);
        bars.clear();
        mmio.write(0xd000_1008L, 4, 0x1234);
        assertThat(mmio.read(0xd000_1ffcL, 4)).isEqualTo(RecordingBarHandler.answer(1, 0xffc));
        assertThat(bars.accesses()).containsExactly(new Access(true, 1, 8, 4, 0x1234),
                new Access(false, 1, 0xffc, 4, 0));
    }

    @Test
    void memory64BarDecodesAboveFourGibibytes() {
        PciFunction f = attachTypical();
        write32(at, bar(2), 0x0010_0000);
        write32(at, bar(3), 0x8);
        enableDecode(at, PCI_COMMAND_MEMORY);

        assertThat(f.barAddress(2)).isEqualTo(0x8_0010_0000L);
        assertThat(f.barAddress(3)).isEqualTo(-1);
        assertThat(mmio.read(0x8_0010_0040L, 8)).isEqualTo(RecordingBarHandler.answer(2, 0x40));
        assertThat(mmio.ranges()).extracting(Registration::owner).containsExactly("dev4.0 BAR2");
    }

    @Test
    void disablingDecodeUnregistersAndReEnablingRegistersAgain() {
        PciFunction f = attachTypical();
        write32(at, bar(1), 0xc000_0000);
        write32(at, bar(0), 0xc000);
        enableDecode(at, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);

        write16(at, PCI_COMMAND, 0);
        assertThat(mmio.isClaimed(0xc000_0000L)).isFalse();
        assertThat(io.isClaimed(0xc000)).isFalse();
        assertThat(f.barAddress(1)).isEqualTo(-1);
        assertThat(read32(at, bar(1))).as("the address survives").isEqualTo(0xc000_0000);

        write16(at, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
        assertThat(mmio.isClaimed(0xc000_0000L)).isTrue();
        assertThat(io.isClaimed(0xc000)).isTrue();
    }

    @Test
    void barWrittenBackToZeroIsUnmapped() {
        PciFunction f = attachTypical();
        enableDecode(at, PCI_COMMAND_MEMORY);
        write32(at, bar(1), 0xc000_0000);

        write32(at, bar(1), 0);

        assertThat(f.barAddress(1)).isEqualTo(-1);
        assertThat(mmio.ranges()).isEmpty();
    }

    @Test
    void ioBarBeyondThePortSpaceIsNotDecoded() {
        PciFunction f = attachTypical();
        enableDecode(at, PCI_COMMAND_IO);

        write32(at, bar(0), 0x1_0000);

        assertThat(read32(at, bar(0))).isEqualTo(0x1_0001);
        assertThat(f.barAddress(0)).isEqualTo(-1);
        assertThat(io.ranges()).isEmpty();
    }

    @Test
    void barPlacedOverAnotherDeviceStaysUnmappedWithoutException() {
        PciAddress other = PciAddress.slot(5);
        attach(other, spec().bar(BarSpec.mem32(0, 4096)).build());
        write32(other, bar(0), 0xc000_0000);
        enableDecode(other, PCI_COMMAND_MEMORY);
        PciFunction f = attachTypical();
        enableDecode(at, PCI_COMMAND_MEMORY);

        assertThatCode(() -> write32(at, bar(1), 0xc000_0000)).doesNotThrowAnyException();

        assertThat(f.barAddress(1)).isEqualTo(-1);
        assertThat(mmio.read(0xc000_0000L, 4)).isEqualTo(RecordingBarHandler.answer(0, 0));
        assertThat(mmio.ranges()).extracting(Registration::owner).containsExactly("dev5.0 BAR0");

        write32(at, bar(1), 0xc000_1000);
        assertThat(f.barAddress(1)).isEqualTo(0xc000_1000L);
    }

    @Test
    void romBarSizesToAPowerOfTwoOfAtLeastTwoKibibytes() {
        attach(at, spec().rom(new byte[3000]).build());
        PciAddress small = PciAddress.slot(5);
        attach(small, spec().rom(new byte[16]).build());

        write32(at, PCI_ROM_ADDRESS, ~PCI_ROM_ADDRESS_ENABLE);
        write32(small, PCI_ROM_ADDRESS, -1);

        assertThat(read32(at, PCI_ROM_ADDRESS)).isEqualTo(0xffff_f000);
        assertThat(read32(small, PCI_ROM_ADDRESS)).isEqualTo(0xffff_f800 | PCI_ROM_ADDRESS_ENABLE);
    }

    @Test
    void romDecodesReadOnlyWhenEnabledWithMemoryDecode() {
        byte[] image = {0x55, (byte) 0xaa, 0x04, 0x11, 0x22};
        attach(at, spec().rom(image).build());
        write32(at, PCI_ROM_ADDRESS, 0xfeb0_0000);
        enableDecode(at, PCI_COMMAND_MEMORY);
        assertThat(mmio.isClaimed(0xfeb0_0000L)).as("enable bit clear").isFalse();

        write32(at, PCI_ROM_ADDRESS, 0xfeb0_0000 | PCI_ROM_ADDRESS_ENABLE);

        assertThat(mmio.read(0xfeb0_0000L, 2)).isEqualTo(0xaa55);
        assertThat(mmio.read(0xfeb0_0000L, 8)).isEqualTo(0x22_1104_aa55L);
        assertThat(mmio.read(0xfeb0_07fcL, 4)).as("past the image").isZero();
        mmio.write(0xfeb0_0000L, 4, 0);
        assertThat(mmio.read(0xfeb0_0000L, 1)).isEqualTo(0x55);
        assertThat(mmio.ranges()).extracting(Registration::owner).containsExactly("dev4.0 ROM");
        assertThat(bars.accesses()).isEmpty();

        write16(at, PCI_COMMAND, 0);
        assertThat(mmio.isClaimed(0xfeb0_0000L)).isFalse();
    }

    @Test
    void functionWithoutRomHasAnInertRomBar() {
        attachTypical();

        write32(at, PCI_ROM_ADDRESS, -1);

        assertThat(read32(at, PCI_ROM_ADDRESS)).isZero();
    }

    @Test
    void detachUnregistersEveryWindow() {
        PciFunction f = attach(at, spec().bar(BarSpec.io(0, 32)).bar(BarSpec.mem32(1, 4096)).rom(new byte[1])
                .build());
        write32(at, bar(0), 0xc000);
        write32(at, bar(1), 0xc000_0000);
        write32(at, PCI_ROM_ADDRESS, 0xc010_0001);
        enableDecode(at, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
        assertThat(mmio.ranges()).hasSize(2);

        f.detach();

        assertThat(mmio.ranges()).isEmpty();
        assertThat(io.ranges()).isEmpty();
        assertThat(f.barAddress(1)).isEqualTo(-1);
    }
}
