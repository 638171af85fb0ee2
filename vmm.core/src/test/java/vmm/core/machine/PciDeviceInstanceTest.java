package vmm.core.machine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vmm.core.device.DeviceProvider;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;
import vmm.core.device.PciDevice;
import vmm.core.memory.GuestMemory;
import vmm.core.pci.BarSpec;
import vmm.core.pci.Capability;
import vmm.core.pci.CapabilityHandler;
import vmm.core.pci.IntxRouting;
import vmm.core.pci.PciAddress;
import vmm.core.pci.PciFunction;
import vmm.core.pci.PciFunctionSpec;

/**
 * A plain PCI function ({@link PciDevice}, not virtio) as a device instance: the guest finds it in configuration
 * space and programs its BAR; its registers and its own capability reach the model in place; a swap under a
 * stream of BAR writes loses none, keeps the BAR where the guest put it and the INTx level; a successor with
 * another spec is refused; a guest reset resets it.
 */
class PciDeviceInstanceTest {
    private static final PciAddress SLOT = PciAddress.slot(5);
    private static final long BAR0 = 0xfeb0_0000L;
    private static final int VENDOR = 0x1b36, DEVICE = 0x0005, CAP_VENDOR = 0x09;

    /**
     * BAR0 (4 KiB MMIO): offset 0 adds what is written and reads the total, 4 raises (1) or lowers (0) INTA#, 8
     * reads the tag. A vendor capability whose first register reads the tag. State: the total.
     */
    private static class Counter implements PciDevice {
        final char tag;
        final AtomicLong total = new AtomicLong();
        volatile PciFunction function;
        volatile boolean reset, stopped;

        Counter(char tag) {
            this.tag = tag;
        }

        @Override
        public PciFunctionSpec spec() {
            return PciFunctionSpec.builder(VENDOR, DEVICE).classCode(0xff, 0, 0).interruptPin(1)
                    .bar(BarSpec.mem32(0, 0x1000))
                    .capability(new Capability(CAP_VENDOR, new byte[6], new CapabilityHandler() {
                        @Override public int read(int offset, int size, int stored) { return offset == 2 ? tag : stored; }
                        @Override public int write(int offset, int size, int value, int stored) { return stored; }
                    })).build();
        }

        @Override
        public void attach(PciFunction f) {
            function = f;
        }

        @Override
        public long readBar(int bar, long offset, int size) {
            return offset == 0 ? total.get() : offset == 8 ? tag : 0;
        }

        @Override
        public void writeBar(int bar, long offset, int size, long value) {
            if (offset == 0) total.addAndGet(value);
            if (offset == 4) {
                if (value == 1) function.intx().raise();
                else function.intx().lower();
            }
        }

        @Override public void start() { }
        @Override public void pause() { }
        @Override public void resume() { }

        @Override
        public void reset() {
            reset = true;
            total.set(0);
        }

        @Override
        public void stop() {
            stopped = true;
        }

        @Override
        public DeviceState saveState() {
            return DeviceState.builder("pci-counter", 1).put("total", total.get()).build();
        }

        @Override
        public void restoreState(DeviceState state) {
            state.require("pci-counter", 1);
            total.set(state.getLong("total"));
        }
    }

    private final LevelRecorder irq = new LevelRecorder();
    private final Machine machine = new Machine(GuestMemory.ofSize(1 << 20), irq);
    private final Map<Character, Counter> made = new ConcurrentHashMap<>();

    private DeviceProvider counter(char tag) {
        return context -> {
            Counter c = new Counter(tag);
            made.put(tag, c);
            return c;
        };
    }

    @AfterEach
    void close() {
        machine.close();
    }

    /** Plays firmware: places BAR0 and enables memory decode. */
    private DeviceInstance plugAndProgram(char tag) {
        return plugAndProgram(tag, Map.of());
    }

    private DeviceInstance plugAndProgram(char tag, Map<String, Object> config) {
        DeviceInstance d = machine.plug("counter", "pci-counter", SLOT, config, String.valueOf(tag), counter(tag));
        machine.pci().configWrite(SLOT, 0x10, 4, (int) BAR0);
        machine.pci().configWrite(SLOT, 0x04, 2, 0x2);
        return d;
    }

    @Test
    void theGuestFindsTheFunctionProgramsItsBarAndReachesTheModel() {
        DeviceInstance d = plugAndProgram('a');
        assertThat(machine.pci().configRead(SLOT, 0, 2)).isEqualTo(VENDOR);
        assertThat(machine.pci().configRead(SLOT, 2, 2)).isEqualTo(DEVICE);
        machine.mmio().write(BAR0, 4, 40);
        machine.mmio().write(BAR0, 4, 2);
        assertThat(machine.mmio().read(BAR0, 4)).isEqualTo(42);
        assertThat(machine.mmio().read(BAR0 + 8, 1)).isEqualTo('a');
        int cap = made.get('a').function.capabilityOffset(0);
        assertThat(machine.pci().configRead(SLOT, cap, 1)).isEqualTo(CAP_VENDOR);
        assertThat(machine.pci().configRead(SLOT, cap + 2, 1)).as("the model's capability handler").isEqualTo('a');
        assertThat(d.location()).isEqualTo(SLOT.toString());
        assertThat(d.transport()).isNull();
        assertThat(d.serving()).isSameAs(made.get('a'));
    }

    @Test
    void aSwapUnderAStreamOfBarWritesLosesNoneAndKeepsTheBarTheCapabilityAndTheIntxLevel() throws Exception {
        DeviceInstance d = plugAndProgram('a', SwapStorm.CONFIG);
        machine.mmio().write(BAR0 + 4, 4, 1);
        int gsi = IntxRouting.standard().gsi(SLOT, 1);
        assertThat(irq.high(gsi)).isTrue();
        int writes = 20_000;
        SwapStorm.run(d, writes, () -> machine.mmio().write(BAR0, 4, 1), this::counter);
        assertThat(machine.mmio().read(BAR0, 4)).as("every write counted once, across 20 swaps").isEqualTo(writes);
        assertThat(machine.mmio().read(BAR0 + 8, 1)).as("the BAR stayed where the guest put it").isEqualTo('a');
        int cap = made.get('a').function.capabilityOffset(0);
        d.swapTo("b", counter('b'));
        assertThat(machine.pci().configRead(SLOT, cap + 2, 1)).as("the successor's capability handler").isEqualTo('b');
        assertThat(made.get('b').function).as("one function for every model").isSameAs(made.get('a').function);
        assertThat(irq.high(gsi)).as("INTA# still asserted").isTrue();
        machine.mmio().write(BAR0 + 4, 4, 0);
        assertThat(irq.high(gsi)).as("the successor lowered it").isFalse();
    }

    @Test
    void swapWaitIsCheckedBeforeTheProviderIsAskedAndBoundsHowLongADetachedDeviceHoldsTheGuest() throws Exception {
        for (String bad : new String[] {"0", "-5", "soon", "3600001"})
            assertThatThrownBy(() -> machine.plug("counter", "pci-counter", SLOT, Map.of(DeviceInstance.SWAP_WAIT_MS, bad),
                    "a", counter('a')))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("device counter: swap-wait-ms=" + bad + " must be a number of milliseconds from 1 to 3600000");
        assertThat(made).as("no provider was asked for a bad configuration").isEmpty();
        assertThat(machine.instances()).isEmpty();

        DeviceInstance d = plugAndProgram('a', Map.of(DeviceInstance.SWAP_WAIT_MS, "1"));
        machine.mmio().write(BAR0, 4, 5);
        d.detach();
        // A vCPU's accesses: the thread that closed the gate (this one) would pass straight through.
        CompletableFuture.runAsync(() -> machine.mmio().write(BAR0, 4, 1)).get();
        assertThat(CompletableFuture.supplyAsync(() -> machine.mmio().read(BAR0, 4)).get())
                .as("detached: after 1 ms a read is answered as unclaimed").isEqualTo(0xFFFF_FFFFL);
        d.attach("a", counter('a'));
        assertThat(machine.mmio().read(BAR0, 4)).as("the write made while detached was dropped").isEqualTo(5);
    }

    @Test
    void removableIsTrueOrFalseAndAnythingElseIsRefusedByNameBeforeTheProviderIsAsked() {
        for (String bad : new String[] {"yes", "1", "ture"})
            assertThatThrownBy(() -> machine.plug("counter", "pci-counter", SLOT, Map.of(Machine.REMOVABLE, bad), "a",
                    counter('a')))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("device counter: removable=" + bad + " must be true or false");
        assertThat(made).isEmpty();
        assertThat(machine.plug("counter", "pci-counter", SLOT, Map.of(Machine.REMOVABLE, " TRUE "), "a", counter('a')))
                .isNotNull();
    }

    @Test
    void aSuccessorWithAnotherFunctionIsRefusedAndAGuestResetResetsTheModel() {
        DeviceInstance d = plugAndProgram('a');
        machine.mmio().write(BAR0, 4, 7);
        DeviceProvider other = context -> new Counter('x') {
            @Override
            public PciFunctionSpec spec() {
                return PciFunctionSpec.builder(VENDOR, DEVICE + 1).classCode(0xff, 0, 0).bar(BarSpec.mem32(0, 0x1000)).build();
            }
        };
        assertThatThrownBy(() -> d.swapTo("x", other)).isInstanceOf(IncompatibleStateException.class)
                .hasMessageContaining("is not the guest-visible");
        assertThat(machine.mmio().read(BAR0, 4)).isEqualTo(7);
        d.reset();
        assertThat(made.get('a').reset).isTrue();
        assertThat(machine.mmio().read(BAR0, 4)).isZero();
        assertThatThrownBy(() -> machine.plug("nowhere", "pci-counter", null, Map.of(), "c", counter('c')))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs a PCI address");
        assertThat(made.get('c').stopped).isTrue();
    }
}
