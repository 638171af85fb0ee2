package vmm.core.machine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vmm.core.device.BusDevice;
import vmm.core.device.BusRange;
import vmm.core.device.DeviceProvider;
import vmm.core.irq.InterruptLine;
import vmm.core.memory.GuestMemory;
import vmm.core.pci.PciAddress;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * A {@link BusDevice} (a device on the I/O-port or MMIO bus, without PCI) as a device instance: its ranges reach
 * the model in place, a swap under a stream of guest writes loses none and carries the state and the interrupt
 * level over, a guest reset resets it, a detached device holds its accesses until a successor comes, and what
 * cannot be plugged or swapped is refused by name.
 */
class BusDeviceInstanceTest {
    private static final int PORT = 0x5a0, IRQ = 5;
    private static final long MMIO = 0xfed0_0000L;

    /**
     * A counter device: on its ports, offset 0 (le32) adds what is written and reads the total, offset 4 reads
     * the implementation's tag; a write of 1 (0) to offset 5 raises (lowers) its interrupt line. Its MMIO page
     * mirrors the total at offset 0. State: the total and the line's level.
     */
    private static class Counter implements BusDevice {
        final char tag;
        final InterruptLine line;
        final AtomicLong total = new AtomicLong();
        volatile boolean stopped, reset;

        Counter(char tag, InterruptLine line) {
            this.tag = tag;
            this.line = line;
        }

        @Override
        public List<BusRange> ranges() {
            return List.of(BusRange.ports("registers", PORT, 8), BusRange.mmio("mirror", MMIO, 0x1000));
        }

        @Override
        public long read(int range, long offset, int size) {
            if (range == 1 || offset == 0) return total.get();
            return offset == 4 ? tag : 0;
        }

        @Override
        public void write(int range, long offset, int size, long value) {
            if (range != 0) return;
            if (offset == 0) total.addAndGet(value);
            if (offset == 5) {
                if (value == 1) line.raise();
                else line.lower();
            }
        }

        /** Pauses not yet resumed. */
        final java.util.concurrent.atomic.AtomicInteger paused = new java.util.concurrent.atomic.AtomicInteger();

        @Override public void start() { }
        @Override public void pause() { paused.incrementAndGet(); }
        @Override public void resume() { paused.decrementAndGet(); }

        @Override
        public void reset() {
            reset = true;
            total.set(0);
            line.lower();
        }

        @Override
        public void stop() {
            stopped = true;
        }

        @Override
        public DeviceState saveState() {
            return DeviceState.builder("counter", 1).put("total", total.get()).put("irq", line.isRaised() ? 1 : 0).build();
        }

        @Override
        public void restoreState(DeviceState state) {
            state.require("counter", 1);
            total.set(state.getLong("total"));
            if (state.getInt("irq") != 0) line.raise();
            else line.lower();
        }
    }

    private final LevelRecorder irq = new LevelRecorder();
    private final Machine machine = new Machine(GuestMemory.ofSize(1 << 20), irq);
    private final Map<Character, Counter> made = new ConcurrentHashMap<>();

    private DeviceProvider counter(char tag) {
        return context -> {
            Counter c = new Counter(tag, context.interruptLine(IRQ));
            made.put(tag, c);
            return c;
        };
    }

    @AfterEach
    void close() {
        machine.close();
    }

    @Test
    void itsPortAndMmioRangesReachTheModelAndTheInstanceSaysWhereItSits() {
        DeviceInstance d = machine.plug("counter", "counter", null, Map.of(), "a", counter('a'));
        machine.ioPorts().write(PORT, 4, 5);
        machine.ioPorts().write(PORT, 4, 7);
        assertThat(machine.ioPorts().read(PORT, 4)).isEqualTo(12);
        assertThat(machine.mmio().read(MMIO, 4)).isEqualTo(12);
        assertThat(machine.ioPorts().read(PORT + 4, 1)).isEqualTo('a');
        assertThat(d.address()).isNull();
        assertThat(d.transport()).isNull();
        assertThat(d.model()).as("not a virtio model").isNull();
        assertThat(d.serving()).isSameAs(made.get('a'));
        assertThat(d.location()).contains("io 0x5a0-0x5a7").contains("mmio 0xfed00000-0xfed00fff");
        assertThat(machine.instances()).containsExactly(d);
    }

    @Test
    void aSwapUnderAStreamOfGuestWritesLosesNoneAndCarriesTheTotalOver() throws Exception {
        DeviceInstance d = machine.plug("counter", "counter", null, SwapStorm.CONFIG, "a", counter('a'));
        int writes = 20_000;
        SwapStorm.run(d, writes, () -> machine.ioPorts().write(PORT, 4, 1), this::counter);
        assertThat(machine.ioPorts().read(PORT, 4)).as("every write counted once, across 20 swaps").isEqualTo(writes);
        assertThat(d.swapCount()).isEqualTo(20);
        assertThat(d.implementation()).isEqualTo("a");
        assertThat(machine.ioPorts().read(PORT + 4, 1)).isEqualTo('a');
    }

    @Test
    void theInterruptLevelSurvivesASwapAndTheSuccessorCanLowerIt() {
        DeviceInstance d = machine.plug("counter", "counter", null, Map.of(), "a", counter('a'));
        machine.ioPorts().write(PORT + 5, 1, 1);
        assertThat(irq.high(IRQ)).isTrue();
        d.swapTo("b", counter('b'));
        assertThat(irq.high(IRQ)).as("still pending after the swap").isTrue();
        assertThat(made.get('b').line).as("one line per GSI for every model of the instance").isSameAs(made.get('a').line);
        machine.ioPorts().write(PORT + 5, 1, 0);
        assertThat(irq.high(IRQ)).as("the successor lowered it").isFalse();
        assertThat(made.get('a').stopped).isTrue();
    }

    @Test
    void aGuestResetResetsTheModelInPlace() {
        DeviceInstance d = machine.plug("counter", "counter", null, Map.of(), "a", counter('a'));
        machine.ioPorts().write(PORT, 4, 9);
        d.reset();
        assertThat(made.get('a').reset).isTrue();
        assertThat(machine.ioPorts().read(PORT, 4)).isZero();
    }

    @Test
    void aDetachedDeviceComesBackWithItsStateInTheSuccessor() {
        DeviceInstance d = machine.plug("counter", "counter", null, Map.of(), "a", counter('a'));
        machine.ioPorts().write(PORT, 4, 41);
        d.detach();
        assertThat(d.status()).isEqualTo(DeviceInstance.Status.DETACHED);
        assertThat(d.serving()).isNull();
        assertThat(made.get('a').stopped).isTrue();
        d.attach("b", counter('b'));
        machine.ioPorts().write(PORT, 4, 1);
        assertThat(machine.ioPorts().read(PORT, 4)).as("the successor has the old total").isEqualTo(42);
        assertThat(machine.ioPorts().read(PORT + 4, 1)).isEqualTo('b');
        assertThat(d.swapCount()).isEqualTo(1);
    }

    @Test
    void aSuccessorThatDecodesOtherRangesIsRefusedAndTheOldModelGoesOn() {
        DeviceInstance d = machine.plug("counter", "counter", null, Map.of(), "a", counter('a'));
        DeviceProvider elsewhere = context -> new Counter('x', context.interruptLine(IRQ)) {
            @Override
            public List<BusRange> ranges() {
                return List.of(BusRange.ports("registers", PORT + 0x10, 8));
            }
        };
        assertThatThrownBy(() -> d.swapTo("x", elsewhere)).isInstanceOf(IncompatibleStateException.class)
                .hasMessageContaining("decodes").hasMessageContaining("0x5b0");
        machine.ioPorts().write(PORT, 4, 3);
        assertThat(machine.ioPorts().read(PORT, 4)).isEqualTo(3);
        assertThat(d.implementation()).isEqualTo("a");
    }

    @Test
    void whatCannotBePluggedIsRefusedByNameAndLeavesNothingOnTheBus() {
        machine.plug("counter", "counter", null, Map.of(), "a", counter('a'));
        assertThatThrownBy(() -> machine.plug("twin", "counter", null, Map.of(), "b", counter('b')))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("device twin");
        assertThatThrownBy(() -> machine.plug("pci", "counter", PciAddress.slot(3), Map.of(), "c", counter('c')))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not on PCI");
        assertThatThrownBy(() -> machine.plug("high", "counter", null, Map.of(), "d",
                context -> new Counter('d', context.interruptLine(24))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("interrupt line 24");
        assertThat(made.get('b').stopped).as("the refused model was stopped").isTrue();
        assertThat(machine.instances()).hasSize(1);
        assertThat(machine.ioPorts().read(PORT + 4, 1)).as("the first device still answers").isEqualTo('a');
    }

    @Test
    void quiesceHoldsThePausedModelAndGuestAccessesUntilUnquiesced() throws Exception {
        DeviceInstance d = machine.plug("counter", "counter", null, Map.of(), "a", counter('a'));
        machine.ioPorts().write(PORT, 4, 12);
        DeviceState state = d.quiesce();
        assertThat(state.getLong("total")).isEqualTo(12);
        assertThat(made.get('a').paused.get()).isEqualTo(1);
        Thread write = Thread.ofPlatform().start(() -> machine.ioPorts().write(PORT, 4, 1));
        vmm.core.Await.untilWaiting(write);
        assertThat(made.get('a').total.get()).as("the access waits at the gate").isEqualTo(12);
        assertThatThrownBy(d::quiesce).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("quiesced already");
        d.unquiesce();
        write.join();
        assertThat(made.get('a').paused.get()).isZero();
        assertThat(machine.ioPorts().read(PORT, 4)).isEqualTo(13);
    }

    @Test
    void aDetachedDeviceWhoseImplementationLeftNoStateIsRefusedByNameForASnapshot() {
        DeviceInstance d = machine.plug("counter", "counter", null, Map.of(), "a",
                context -> new Counter('a', context.interruptLine(IRQ)) {
                    @Override
                    public DeviceState saveState() {
                        throw new IllegalStateException("the counter lost its total");
                    }
                });
        assertThatThrownBy(d::detach).hasMessageContaining("lost its total");
        assertThat(d.status()).isEqualTo(DeviceInstance.Status.DETACHED);
        assertThatThrownBy(d::quiesce).as("not a null state for the snapshot's writer")
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("device counter")
                .hasMessageContaining("left no state").hasMessageNotContaining("\n");
    }

    @Test
    void aSavedStateTheModelFailsOnOtherwiseThanByRefusingIsRefusedInOneLineNamingTheDevice() {
        DeviceInstance d = machine.plug("counter", "counter", null, Map.of(), "a",
                context -> new Counter('a', context.interruptLine(IRQ)) {
                    @Override
                    public void restoreState(DeviceState state) {
                        Object total = state.getList("totals").getFirst(); // a model written for trusted state
                        this.total.set((Long) total);
                    }
                });
        machine.ioPorts().write(PORT, 4, 5);
        Counter serving = (Counter) d.serving();
        DeviceState hostile = DeviceState.builder("counter", 1).putList("totals", List.of("lots")).build();
        assertThatThrownBy(() -> d.restore(hostile)).isInstanceOf(IncompatibleStateException.class)
                .hasMessageStartingWith("device counter (a) cannot take its saved state")
                .hasMessageContaining("ClassCastException").hasMessageNotContaining("\n");
        assertThatThrownBy(() -> d.restore(DeviceState.builder("uart", 1).build()))
                .isInstanceOf(IncompatibleStateException.class).hasMessageStartingWith("device counter (a): ");
        assertThat(d.serving()).as("the plugged model serves on").isSameAs(serving);
        assertThat(machine.ioPorts().read(PORT, 4)).isEqualTo(5);
    }

    @Test
    void restorePutsASavedStateIntoAFreshModelOfTheServingProviderOrLeavesTheOldOneServing() {
        DeviceInstance d = machine.plug("counter", "counter", null, Map.of(), "a", counter('a'));
        machine.ioPorts().write(PORT, 4, 12);
        machine.ioPorts().write(PORT + 5, 1, 1);
        DeviceState state = d.quiesce();
        d.unquiesce();
        Counter first = made.get('a');
        machine.ioPorts().write(PORT, 4, 30);
        machine.ioPorts().write(PORT + 5, 1, 0);

        d.restore(state);
        assertThat(d.serving()).isNotSameAs(first).isSameAs(made.get('a'));
        assertThat(first.stopped).isTrue();
        assertThat(machine.ioPorts().read(PORT, 4)).isEqualTo(12);
        assertThat(irq.high(IRQ)).as("the saved level").isTrue();
        assertThat(d.swapCount()).as("a restore is no swap").isZero();

        Counter second = made.get('a');
        assertThatThrownBy(() -> d.restore(DeviceState.builder("uart", 1).build()))
                .isInstanceOf(IncompatibleStateException.class);
        assertThat(d.serving()).isSameAs(second);
        assertThat(made.get('a')).as("the model made for the refused state").isNotSameAs(second);
        assertThat(made.get('a').stopped).isTrue();
        assertThat(second.stopped).as("the serving model goes on").isFalse();
        assertThat(machine.ioPorts().read(PORT, 4)).isEqualTo(12);
    }
}
