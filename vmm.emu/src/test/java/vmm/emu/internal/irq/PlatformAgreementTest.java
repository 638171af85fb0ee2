package vmm.emu.internal.irq;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import vmm.core.internal.acpi.AcpiTables;

/** The models say what the MADT the platform gives the guest says (ACPI 6.5, 5.2.12). */
class PlatformAgreementTest {
    private static final int VCPUS = 3;
    private static final int MADT_LAPIC = 0, MADT_IOAPIC = 1, MADT_OVERRIDE = 2;
    private static final int HEADER = 36;

    private record Entry(int type, ByteBuffer body) {}

    private static ByteBuffer madt() {
        byte[] apic = AcpiTables.build(0xe_0000L, VCPUS).get("APIC");
        return ByteBuffer.wrap(apic).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static List<Entry> entries(ByteBuffer madt) {
        List<Entry> out = new ArrayList<>();
        int at = HEADER + 8;
        while (at < madt.limit()) {
            int type = madt.get(at) & 0xff, length = madt.get(at + 1) & 0xff;
            out.add(new Entry(type, madt.slice(at, length).order(ByteOrder.LITTLE_ENDIAN)));
            at += length;
        }
        return out;
    }

    @Test
    void localApicAddressAndIdsAreTheModels() {
        ByteBuffer madt = madt();
        assertThat(madt.getInt(HEADER) & 0xffff_ffffL).isEqualTo(LocalApic.DEFAULT_BASE);
        assertThat(madt.getInt(HEADER + 4) & 1).as("PCAT_COMPAT: the 8259A pair is there").isEqualTo(1);
        EmuIrqChip chip = new EmuIrqChip(VCPUS, new ManualClock());
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < VCPUS; i++)
            ids.add((int) (chip.attachVcpu(i, () -> { }).mmio().read(LocalApic.ID, 4) >>> 24));
        List<Integer> madtIds = new ArrayList<>();
        for (Entry e : entries(madt)) if (e.type() == MADT_LAPIC) madtIds.add(e.body().get(3) & 0xff);
        assertThat(madtIds).isEqualTo(ids);
    }

    @Test
    void ioapicIdAddressAndGsiBaseAreTheModels() {
        Entry io = entries(madt()).stream().filter(e -> e.type() == MADT_IOAPIC).findFirst().orElseThrow();
        IoApic model = new IoApic(m -> 0);
        assertThat(io.body().get(2) & 0xff).isEqualTo(model.id());
        assertThat(io.body().getInt(4) & 0xffff_ffffL).isEqualTo(IoApic.BASE);
        assertThat(io.body().getInt(8)).as("GSI base").isZero();
    }

    @Test
    void everyInterruptSourceOverrideIsHowTheChipRoutesThatIsaIrq() {
        List<Entry> overrides = entries(madt()).stream().filter(e -> e.type() == MADT_OVERRIDE).toList();
        assertThat(overrides).as("IRQ0 and the SCI").hasSize(2);
        for (Entry e : overrides) {
            int source = e.body().get(3) & 0xff, gsi = e.body().getInt(4), flags = e.body().getShort(8);
            EmuIrqChip chip = new EmuIrqChip(1, new ManualClock());
            VcpuInterrupts cpu = chip.attachVcpu(0, () -> { });
            cpu.mmio().write(LocalApic.SVR, 4, 0x1ff);
            boolean level = (flags >> 2 & 3) == 3;
            long entry = 0x40 | (level ? IoApic.RTE_LEVEL : 0);
            synchronized (chip.lock()) {
                chip.pic().write(DualPic.MASTER_DATA, 0xff); // the OS masks the 8259A when it uses the IOAPIC
                chip.pic().write(DualPic.SLAVE_DATA, 0xff);
                chip.ioapic().write(IoApic.IOREGSEL, 4, 0x10 + 2 * gsi);
                chip.ioapic().write(IoApic.IOWIN, 4, entry);
            }
            chip.setLevel(source, true);
            assertThat(cpu.acknowledge()).as("ISA IRQ %d on GSI %d", source, gsi).isEqualTo(0x40);
        }
    }
}
