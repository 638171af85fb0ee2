package vmm.emu.internal.irq;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

class IoApicTest {
    private final List<ApicMessage> sent = new ArrayList<>();
    private int acceptors = 1;
    private final IoApic ioapic = new IoApic(m -> {
        sent.add(m);
        return acceptors;
    });

    private int readReg(int reg) {
        ioapic.write(IoApic.IOREGSEL, 4, reg);
        return (int) ioapic.read(IoApic.IOWIN, 4);
    }

    private void writeReg(int reg, int value) {
        ioapic.write(IoApic.IOREGSEL, 4, reg);
        ioapic.write(IoApic.IOWIN, 4, value);
    }

    private void program(int pin, long entry) {
        writeReg(0x10 + 2 * pin + 1, (int) (entry >>> 32));
        writeReg(0x10 + 2 * pin, (int) entry);
    }

    @Test
    void versionRegisterSaysVersion0x11With24Entries() {
        assertThat(readReg(IoApic.REG_VERSION)).isEqualTo(0x0017_0011);
    }

    @Test
    void idIsWritableInBits24To27AndTheArbitrationIdFollowsIt() {
        assertThat(readReg(IoApic.REG_ID)).as("the MADT's IOAPIC ID").isZero();
        writeReg(IoApic.REG_ID, 0xff00_0000);
        assertThat(readReg(IoApic.REG_ID)).isEqualTo(0x0f00_0000);
        assertThat(readReg(IoApic.REG_ARBITRATION)).isEqualTo(0x0f00_0000);
        writeReg(IoApic.REG_VERSION, 0);
        assertThat(readReg(IoApic.REG_VERSION)).isEqualTo(0x0017_0011);
    }

    @Test
    void everyEntryStartsMasked() {
        for (int pin = 0; pin < IoApic.PINS; pin++) assertThat(readReg(0x10 + 2 * pin)).isEqualTo(0x1_0000);
        ioapic.setPin(5, true);
        assertThat(sent).isEmpty();
    }

    @Test
    void edgeEntryDeliversOnARisingEdgeOnly() {
        program(4, 0x31);
        ioapic.setPin(4, true);
        ioapic.setPin(4, true);
        assertThat(sent).hasSize(1);
        ioapic.setPin(4, false);
        ioapic.setPin(4, true);
        assertThat(sent).hasSize(2);
        assertThat(sent.getFirst()).isEqualTo(ApicMessage.of(0x31, ApicMessage.DM_FIXED, false, 0, false));
    }

    @Test
    void edgeOnAMaskedEntryIsLost() {
        program(4, 0x1_0031);
        ioapic.setPin(4, true);
        ioapic.setPin(4, false);
        program(4, 0x31);
        assertThat(sent).isEmpty();
    }

    @Test
    void ioapicLevelEntryKeepsRemoteIrrUntilEoiBroadcast() {
        program(16, 0x8041L);
        ioapic.setPin(16, true);
        assertThat(sent).hasSize(1);
        assertThat(sent.getFirst().level()).isTrue();
        assertThat(readReg(0x30) & IoApic.RTE_REMOTE_IRR).isNotZero();
        ioapic.setPin(16, false);
        ioapic.setPin(16, true);
        assertThat(sent).as("remote IRR holds it").hasSize(1);
        ioapic.endOfInterrupt(0x42);
        assertThat(readReg(0x30) & IoApic.RTE_REMOTE_IRR).as("another vector's EOI").isNotZero();
        ioapic.endOfInterrupt(0x41);
        assertThat(sent).as("still asserted after the EOI: delivered again").hasSize(2);
        ioapic.setPin(16, false);
        ioapic.endOfInterrupt(0x41);
        assertThat(readReg(0x30) & IoApic.RTE_REMOTE_IRR).isZero();
        assertThat(sent).hasSize(2);
    }

    @Test
    void unmaskingAnAssertedLevelEntryDeliversIt() {
        program(17, 0x1_8050L);
        ioapic.setPin(17, true);
        assertThat(sent).isEmpty();
        program(17, 0x8050L);
        assertThat(sent).hasSize(1);
    }

    @Test
    void remoteIrrAndDeliveryStatusAreReadOnly() {
        program(3, 0x31 | IoApic.RTE_REMOTE_IRR | IoApic.RTE_DELIVERY_STATUS | IoApic.RTE_LEVEL);
        assertThat(readReg(0x10 + 6)).isEqualTo(0x8031);
    }

    @Test
    void switchingAnEntryToEdgeClearsItsRemoteIrr() {
        program(16, 0x8041L);
        ioapic.setPin(16, true);
        program(16, 0x0041L);
        assertThat(readReg(0x30) & IoApic.RTE_REMOTE_IRR).isZero();
    }

    @Test
    void levelInterruptNobodyAcceptedSetsNoRemoteIrr() {
        acceptors = 0;
        program(16, 0x8041L);
        ioapic.setPin(16, true);
        assertThat(readReg(0x30) & IoApic.RTE_REMOTE_IRR).isZero();
    }

    @Test
    void redirectionEntryFieldsBecomeTheMessage() {
        // vector 0x66, lowest priority, logical, level, destination 0x0c
        program(9, 0x0c00_0000_0000_0000L | 0x8000 | 0x800 | 0x100 | 0x66);
        ioapic.setPin(9, true);
        assertThat(sent).containsExactly(ApicMessage.of(0x66, ApicMessage.DM_LOWEST, true, 0x0c, true));
        assertThat(readReg(0x10 + 19)).isEqualTo(0x0c00_0000);
    }

    @Test
    void polarityIsKeptForTheGuestWhileInputsAreLogicalAssertions() {
        program(16, 0x8041L | IoApic.RTE_POLARITY_LOW);
        assertThat(readReg(0x30) & IoApic.RTE_POLARITY_LOW).isNotZero();
        ioapic.setPin(16, true);
        assertThat(sent).hasSize(1);
    }

    @Test
    void reservedBitsOfAnEntryReadZero() {
        writeReg(0x10, 0xfffe_0000);
        writeReg(0x11, 0x00ff_ffff);
        assertThat(readReg(0x10)).isZero();
        assertThat(readReg(0x11)).isZero();
    }

    @Test
    void registersPastTheTableReadZeroAndIgnoreWrites() {
        writeReg(0x10 + 2 * IoApic.PINS, 0x1234);
        assertThat(readReg(0x10 + 2 * IoApic.PINS)).isZero();
        assertThat(readReg(0x03)).isZero();
    }

    @Test
    void ioregselKeepsOnlyItsLowByteAndOtherOffsetsReadZero() {
        ioapic.write(IoApic.IOREGSEL, 4, 0x1234_5601);
        assertThat(ioapic.read(IoApic.IOREGSEL, 4)).isEqualTo(0x01);
        assertThat(ioapic.read(0x20, 4)).isZero();
        assertThat(ioapic.read(IoApic.IOWIN + 2, 2)).as("the version's upper half").isEqualTo(0x0017);
    }

    @Test
    void pinsOutsideTheTableAreIgnored() {
        ioapic.setPin(-1, true);
        ioapic.setPin(IoApic.PINS, true);
        assertThat(sent).isEmpty();
    }

    @Test
    void resetMasksEveryEntryAgain() {
        program(4, 0x31);
        writeReg(IoApic.REG_ID, 0x0200_0000);
        ioapic.reset();
        assertThat(readReg(0x18)).isEqualTo(0x1_0000);
        assertThat(readReg(IoApic.REG_ID)).isZero();
    }
}
