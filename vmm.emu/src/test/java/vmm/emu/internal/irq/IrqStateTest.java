package vmm.emu.internal.irq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.bus.Registration;
import vmm.core.irq.MsiMessage;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * The interrupt controllers' snapshot state: a chip restored from another's state at the same virtual time goes
 * on exactly as the original does (the same PIT and APIC timer interrupts at the same times: none lost, none
 * doubled), and a state that is not one the chip can hold is refused in one line.
 */
class IrqStateTest {
    /** One chip of two vCPUs on its own clock and buses. */
    private static final class Chip implements AutoCloseable {
        final ManualClock clock = new ManualClock();
        final EmuIrqChip chip = new EmuIrqChip(2, clock);
        final IoPortBus io = new IoPortBus();
        final MmioBus mmio = new MmioBus();
        final VcpuInterrupts cpu0 = chip.attachVcpu(0, () -> { }), cpu1 = chip.attachVcpu(1, () -> { });
        final List<Registration> registrations = chip.register(io, mmio);
        /** The vectors each vCPU took, with the time it took them. */
        final List<String> taken = new ArrayList<>();

        void apic(VcpuInterrupts cpu, int reg, int value) {
            cpu.mmio().write(reg, 4, value & 0xffff_ffffL);
        }

        /** Advances the time, runs the timers, and takes (and ends) every interrupt pending on either vCPU. */
        void runTo(long nanos) {
            clock.set(nanos);
            chip.timers().runDue();
            for (VcpuInterrupts cpu : List.of(cpu0, cpu1)) {
                while (cpu.hasInterrupt()) {
                    int v = cpu.acknowledge();
                    taken.add(cpu.index() + ":" + Integer.toHexString(v) + "@" + nanos);
                    if (v < 0x20) io.write(0x20, 1, 0x20); // the 8259A's vectors 0x08-0x0f: EOI to the PIC
                    else apic(cpu, LocalApic.EOI, 0);
                }
            }
        }

        @Override
        public void close() {
            registrations.forEach(Registration::close);
            chip.close();
        }
    }

    private final List<Chip> chips = new ArrayList<>();

    private Chip chip() {
        Chip c = new Chip();
        chips.add(c);
        return c;
    }

    @AfterEach
    void close() {
        chips.forEach(Chip::close);
    }

    /** PIT counter 0 at ~1 kHz through the 8259A and LINT0 on vCPU 0, and vCPU 1's APIC timer periodic at 0xef. */
    private static void program(Chip c) {
        for (int[] w : new int[][] {{0x20, 0x11}, {0x21, 0x08}, {0x21, 0x04}, {0x21, 0x01},
                {0xa0, 0x11}, {0xa1, 0x70}, {0xa1, 0x02}, {0xa1, 0x01}})
            c.io.write(w[0], 1, w[1]);
        c.apic(c.cpu0, LocalApic.SVR, 0x1ff);
        c.apic(c.cpu0, LocalApic.LVT_LINT0, 0x700);
        c.io.write(0x43, 1, 0x34);
        c.io.write(0x40, 1, 1193 & 0xff);
        c.io.write(0x40, 1, 1193 >> 8);
        c.apic(c.cpu1, LocalApic.SVR, 0x1ff);
        c.apic(c.cpu1, LocalApic.TIMER_DIVIDE, 0xb);
        c.apic(c.cpu1, LocalApic.LVT_TIMER, 0xef | LocalApic.LVT_TIMER_PERIODIC);
        c.apic(c.cpu1, LocalApic.TIMER_INITIAL, 700_000);
    }

    @Test
    void aRestoredChipTakesTheSameTimerInterruptsAtTheSameTimesAsTheOriginal() {
        Chip original = chip();
        program(original);
        long step = 150_000;
        long t = 0;
        for (int i = 0; i < 37; i++) original.runTo(t += step);
        // Mid-period of both timers, with an unread latch and a half-written PIC sequence absent: a plain state.
        DeviceState saved = DeviceState.decode(original.chip.save().encode());

        Chip restored = chip();
        restored.clock.set(t);
        restored.chip.restore(saved);
        assertThat(restored.chip.save()).isEqualTo(original.chip.save());
        original.taken.clear();
        for (int i = 0; i < 80; i++) {
            t += step;
            original.runTo(t);
            restored.runTo(t);
        }
        assertThat(restored.taken).isEqualTo(original.taken);
        assertThat(original.taken).filteredOn(s -> s.startsWith("0:8@")).hasSizeBetween(11, 13);
        assertThat(original.taken).filteredOn(s -> s.startsWith("1:ef@")).hasSizeBetween(16, 18);
        assertThat(restored.chip.save()).isEqualTo(original.chip.save());
    }

    @Test
    void theApicTimerGoesOnFromItsCountInsteadOfRestarting() {
        Chip original = chip();
        program(original);
        original.runTo(450_000);
        int before = (int) original.cpu1.mmio().read(LocalApic.TIMER_CURRENT, 4);
        Chip restored = chip();
        restored.clock.set(450_000);
        restored.chip.restore(original.chip.save());
        assertThat(before).as("700,000 counts at 1 GHz, 450 us in").isEqualTo(250_000);
        assertThat((int) restored.cpu1.mmio().read(LocalApic.TIMER_CURRENT, 4)).isEqualTo(before);
    }

    @Test
    void pendingRequestsInServiceBitsAndLevelsAreCarried() {
        Chip original = chip();
        program(original);
        original.chip.setLevel(17, true); // a PCI INTx level on an unmasked IOAPIC pin
        original.mmio.write(IoApic.BASE, 4, 0x10 + 2 * 17);
        original.mmio.write(IoApic.BASE + 0x10, 4, 0x8041); // level, vector 0x41, physical destination 0
        original.chip.routeMsi(40, new MsiMessage(0xfee0_1000L, 0x42));
        Chip restored = chip();
        restored.chip.restore(original.chip.save());
        assertThat(restored.cpu0.acknowledge()).isEqualTo(0x41);
        restored.chip.setLevel(40, true);
        restored.apic(restored.cpu0, LocalApic.EOI, 0);
        // The level is still asserted after the EOI: the IOAPIC delivers again, as on the original.
        assertThat(restored.cpu0.acknowledge()).isEqualTo(0x41);
        assertThat(restored.cpu1.acknowledge()).as("the MSI route of GSI 40 came along").isEqualTo(0x42);
    }

    @Test
    void aStateForAnotherNumberOfVcpusIsRefused() {
        EmuIrqChip one = new EmuIrqChip(1, new ManualClock());
        try {
            one.attachVcpu(0, () -> { });
            Chip two = chip();
            assertThatThrownBy(() -> one.restore(two.chip.save()))
                    .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("2 local APICs")
                    .hasMessageContaining("1 vCPUs");
        } finally {
            one.close();
        }
    }

    @Test
    void valuesTheModelsCannotHoldAreRefusedAndNameTheirField() {
        Chip c = chip();
        program(c);
        DeviceState good = c.chip.save();
        assertThatThrownBy(() -> c.chip.restore(replace(good, "pit", replaceCounter(good.getState("pit"), "count", 0))))
                .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("'count'");
        DeviceState ioapic = good.getState("ioapic");
        List<Object> table = new ArrayList<>(ioapic.getList("table"));
        table.set(3, 1L << 40); // a reserved bit of a redirection entry
        DeviceState badIoapic = copy(ioapic, "table", table);
        assertThatThrownBy(() -> c.chip.restore(replace(good, "ioapic", badIoapic)))
                .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("entry 3");
        List<Object> routes = List.of(5L, 0xfee0_0000L, 0x30L); // an MSI route on an IOAPIC input
        assertThatThrownBy(() -> c.chip.restore(copy(good, "msi-routes", routes)))
                .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("MSI route 0");
        DeviceState lapic1 = (DeviceState) good.getList("lapics").get(1);
        List<Object> swapped = List.of(lapic1, lapic1);
        assertThatThrownBy(() -> c.chip.restore(copy(good, "lapics", swapped)))
                .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("APIC 1 given to APIC 0");
        assertThatThrownBy(() -> c.chip.restore(DeviceState.builder("vmm.kvm.irqchip", 1).build()))
                .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("vmm.kvm.irqchip");
    }

    private static DeviceState replaceCounter(DeviceState pit, String field, long value) {
        List<Object> counters = new ArrayList<>(pit.getList("counters"));
        counters.set(0, copy((DeviceState) counters.getFirst(), field, value));
        return copy(pit, "counters", counters);
    }

    private static DeviceState replace(DeviceState s, String field, DeviceState value) {
        return copy(s, field, value);
    }

    private static DeviceState copy(DeviceState s, String field, Object value) {
        return vmm.emu.StateEdit.with(s, field, value);
    }
}
