package vmm.core.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static vmm.core.pci.PciRegs.*;

import org.junit.jupiter.api.Test;

class ConfigHeaderTest extends PciFixture {
    private final PciAddress slot3 = PciAddress.slot(3);

    private PciFunctionSpec identity() {
        return PciFunctionSpec.builder(0x8086, 0x100e).classCode(0x02, 0x80, 0x01).revision(0x03)
                .subsystem(0x1234, 0x5678).interruptPin(2).build();
    }

    @Test
    void identityRegistersReadAsSpecified() {
        attach(slot3, identity());

        assertThat(read32(slot3, PCI_VENDOR_ID)).isEqualTo(0x100e_8086);
        assertThat(read16(slot3, PCI_DEVICE_ID)).isEqualTo(0x100e);
        assertThat(read32(slot3, PCI_REVISION_ID)).isEqualTo(0x0280_0103);
        assertThat(read32(slot3, PCI_SUBSYSTEM_VENDOR_ID)).isEqualTo(0x5678_1234);
        assertThat(read8(slot3, PCI_INTERRUPT_PIN)).isEqualTo(2);
        assertThat(read8(slot3, PCI_HEADER_TYPE)).isEqualTo(PCI_HEADER_TYPE_NORMAL);
    }

    @Test
    void readOnlyRegistersIgnoreWrites() {
        attach(slot3, identity());
        for (int off : new int[] {PCI_VENDOR_ID, PCI_REVISION_ID, PCI_SUBSYSTEM_VENDOR_ID, 0x28, 0x38})
            write32(slot3, off, -1);
        write8(slot3, PCI_INTERRUPT_PIN, 4);
        write8(slot3, PCI_HEADER_TYPE, 0xff);
        write8(slot3, PCI_BIST, 0xff);
        write16(slot3, PCI_STATUS, 0xffff);
        write8(slot3, 0x80, 0xaa);

        assertThat(read32(slot3, PCI_VENDOR_ID)).isEqualTo(0x100e_8086);
        assertThat(read32(slot3, PCI_REVISION_ID)).isEqualTo(0x0280_0103);
        assertThat(read32(slot3, PCI_SUBSYSTEM_VENDOR_ID)).isEqualTo(0x5678_1234);
        assertThat(read32(slot3, 0x28)).isZero();
        assertThat(read8(slot3, PCI_INTERRUPT_PIN)).isEqualTo(2);
        assertThat(read16(slot3, PCI_HEADER_TYPE)).isZero();
        assertThat(read16(slot3, PCI_STATUS)).isZero();
        assertThat(read8(slot3, 0x80)).isZero();
    }

    @Test
    void commandRegisterKeepsOnlyTheDefinedWritableBits() {
        attach(slot3, identity());

        write16(slot3, PCI_COMMAND, 0xffff);

        assertThat(read16(slot3, PCI_COMMAND)).isEqualTo(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER
                | PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE).isEqualTo(0x0547);
    }

    @Test
    void busMasterEnableFollowsTheCommandRegister() {
        PciFunction f = attach(slot3, identity());
        assertThat(f.busMasterEnabled()).isFalse();

        write16(slot3, PCI_COMMAND, PCI_COMMAND_MASTER);
        assertThat(f.busMasterEnabled()).isTrue();

        write16(slot3, PCI_COMMAND, 0);
        assertThat(f.busMasterEnabled()).isFalse();
    }

    @Test
    void cacheLineSizeAndLatencyTimerAreWritableBytes() {
        attach(slot3, identity());

        write32(slot3, PCI_CACHE_LINE_SIZE, 0xffff_ffff);
        assertThat(read32(slot3, PCI_CACHE_LINE_SIZE)).isEqualTo(0x0000_ffff);

        write8(slot3, PCI_LATENCY_TIMER, 0x40);
        assertThat(read32(slot3, PCI_CACHE_LINE_SIZE)).isEqualTo(0x0000_40ff);
    }

    @Test
    void subDwordWritesMergeWithTheRestOfTheDword() {
        attach(slot3, identity());

        write8(slot3, PCI_CACHE_LINE_SIZE, 0x10);
        write8(slot3, PCI_LATENCY_TIMER, 0x20);
        write16(slot3, PCI_COMMAND, PCI_COMMAND_MASTER);
        write8(slot3, PCI_COMMAND + 1, PCI_COMMAND_INTX_DISABLE >> 8);

        assertThat(read32(slot3, PCI_CACHE_LINE_SIZE)).isEqualTo(0x2010);
        assertThat(read8(slot3, PCI_LATENCY_TIMER)).isEqualTo(0x20);
        assertThat(read32(slot3, PCI_COMMAND)).isEqualTo(PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
    }

    @Test
    void absentFunctionReadsAllOnesAndDropsWrites() {
        PciAddress nobody = new PciAddress(0, 7, 3);
        bus.configWrite(nobody, PCI_COMMAND, 2, 0xffff);

        assertThat(read32(nobody, PCI_VENDOR_ID)).isEqualTo(0xffff_ffff);
        assertThat(read16(nobody, PCI_COMMAND)).isEqualTo(0xffff);
        assertThat(read8(nobody, PCI_HEADER_TYPE)).isEqualTo(0xff);
        assertThat(bus.function(nobody)).isNull();
    }

    @Test
    void presentFunctionReadsZeroInExtendedSpace() {
        attach(slot3, identity());
        write32(slot3, 0x100, -1);

        assertThat(read32(slot3, 0x100)).isZero();
        assertThat(read32(slot3, 0xffc)).isZero();
        assertThat(read8(slot3, 0xfff)).isZero();
    }

    @Test
    void malformedAccessesFromVmmCodeAreRejected() {
        attach(slot3, identity());

        assertThatThrownBy(() -> bus.configRead(slot3, 0, 3)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> bus.configRead(slot3, 8, 8)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> bus.configRead(slot3, 2, 4)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> bus.configWrite(slot3, 1, 2, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> bus.configRead(slot3, 0x1000, 4)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> bus.configWrite(slot3, -4, 4, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void functionZeroShowsMultifunctionBitWhileOtherFunctionsShareItsSlot() {
        PciAddress fn0 = new PciAddress(0, 5, 0), fn2 = new PciAddress(0, 5, 2);
        attach(fn0, identity());
        attach(PciAddress.slot(6), identity());
        assertThat(read8(fn0, PCI_HEADER_TYPE)).isEqualTo(PCI_HEADER_TYPE_NORMAL);

        PciFunction second = attach(fn2, identity());
        assertThat(read8(fn0, PCI_HEADER_TYPE)).isEqualTo(PCI_HEADER_TYPE_MULTIFUNCTION);
        assertThat(read32(fn0, PCI_CACHE_LINE_SIZE)).isEqualTo(PCI_HEADER_TYPE_MULTIFUNCTION << 16);
        assertThat(read8(fn2, PCI_HEADER_TYPE)).isEqualTo(PCI_HEADER_TYPE_NORMAL);

        second.detach();
        assertThat(read8(fn0, PCI_HEADER_TYPE)).isEqualTo(PCI_HEADER_TYPE_NORMAL);
    }

    @Test
    void attachingToAnOccupiedAddressFailsNamingTheOwner() {
        bus.attach("disk0", slot3, identity(), bars);

        assertThatThrownBy(() -> bus.attach("net0", slot3, identity(), bars))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("00:03.0 is already used by disk0");
        assertThat(bus.function(slot3).toString()).contains("disk0");
    }

    @Test
    void addressesAreSortedAndDetachFreesTheSlotOnce() {
        attach(new PciAddress(0, 4, 1), identity());
        PciFunction three = attach(slot3, identity());
        attach(PciAddress.slot(4), identity());
        attach(new PciAddress(1, 0, 0), identity());

        assertThat(bus.addresses()).containsExactly(slot3, PciAddress.slot(4), new PciAddress(0, 4, 1),
                new PciAddress(1, 0, 0));

        three.detach();
        three.detach();
        assertThat(bus.addresses()).doesNotContain(slot3);
        assertThat(read32(slot3, PCI_VENDOR_ID)).isEqualTo(-1);
        PciFunction again = attach(slot3, identity());
        assertThat(bus.function(slot3)).isSameAs(again);
    }

    @Test
    void interruptLineStartsAtTheRoutedGsiAndIsWritable() {
        attach(slot3, identity()); // INTB# of slot 3: (3 + 2 - 1) & 3 = 0, PIRQ A
        PciAddress noPin = PciAddress.slot(4);
        attach(noPin, spec().build());

        assertThat(read8(slot3, PCI_INTERRUPT_LINE)).isEqualTo(16);
        assertThat(read8(noPin, PCI_INTERRUPT_LINE)).isEqualTo(PCI_INTERRUPT_LINE_NONE);

        write32(slot3, PCI_INTERRUPT_LINE, 0xffff_ff0b);
        assertThat(read32(slot3, PCI_INTERRUPT_LINE)).isEqualTo(0x0000_020b);
    }

    @Test
    void functionWithBarsNeedsABarHandler() {
        PciFunctionSpec withBar = spec().bar(BarSpec.mem32(0, 4096)).build();

        assertThatThrownBy(() -> bus.attach("x", slot3, withBar, null)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("BarHandler");
        bus.attach("bridge", PciAddress.slot(0), spec().build(), null);
    }
}
