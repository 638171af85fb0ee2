package vmm.core.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vmm.core.bus.IoPortBus;
import vmm.core.device.DeviceProvider;
import vmm.core.device.DeviceState;
import vmm.core.device.PciDevice;
import vmm.core.irq.IrqChip;
import vmm.core.irq.MsiMessage;
import vmm.core.machine.DeviceInstance;
import vmm.core.machine.Machine;
import vmm.core.memory.GuestMemory;
import vmm.core.pci.PciAddress;
import vmm.core.pci.PciFunction;
import vmm.core.pci.PciFunctionSpec;

/**
 * A PCI device goes into and out of a running PC through ACPI PCI hotplug: the machine announces it to the guest
 * (PCI_UP, GPE 1, the SCI on IRQ 9), and takes it out only after the guest wrote its slot to the eject register.
 * The guest is played here through the I/O ports, as the DSDT's {@code _E01} and {@code _EJ0} access them.
 */
class PcHotplugTest {
    private static final int UP = 0xae00, DOWN = 0xae04, EJECT = 0xae08, RMV = 0xae0c, GPE_STS = 0xafe0, GPE_EN = 0xafe2;

    private static final class Levels implements IrqChip {
        volatile boolean sci;
        @Override public void setLevel(int gsi, boolean level) { if (gsi == 9) sci = level; }
        @Override public void signalMsi(MsiMessage message) { }
    }

    private static final class Plain implements PciDevice {
        volatile boolean stopped;
        @Override public PciFunctionSpec spec() { return PciFunctionSpec.builder(0x1b36, 0x0005).classCode(0xff, 0, 0).build(); }
        @Override public void attach(PciFunction f) { }
        @Override public long readBar(int bar, long offset, int size) { return 0; }
        @Override public void writeBar(int bar, long offset, int size, long value) { }
        @Override public void start() { }
        @Override public void pause() { }
        @Override public void resume() { }
        @Override public void reset() { }
        @Override public void stop() { stopped = true; }
        @Override public DeviceState saveState() { return DeviceState.builder("plain", 1).build(); }
        @Override public void restoreState(DeviceState state) { }
    }

    private final Levels irq = new Levels();
    private final Machine machine = new Machine(PcPlatform.memory(64 << 20, null), irq);
    private final PcPlatform platform = PcPlatform.install(machine, 1, vmm.core.Inert.POWER, line -> { });
    private final IoPortBus io = machine.ioPorts();
    private final DeviceProvider plain = context -> new Plain();

    @AfterEach
    void close() {
        platform.close();
        machine.close();
    }

    private DeviceInstance plug(String id, int slot, Map<String, Object> config) {
        return machine.plug(id, "plain", PciAddress.slot(slot), config, "plain", plain);
    }

    /** The vendor ID config mechanism #1 reads at 00:SLOT.0. */
    private long vendorAt(int slot) {
        io.write(0xcf8, 4, 0x8000_0000L | (long) slot << 11);
        return io.read(0xcfc, 2);
    }

    @Test
    void aDeviceAddedWhileTheGuestRunsIsAnnouncedWithTheSci() {
        DeviceInstance cold = plug("cold", 3, Map.of());
        platform.guestRuns();
        io.write(GPE_EN, 1, 1 << 1); // the OS enables GPE 1, which has a handler
        assertThat(irq.sci).isFalse();
        assertThat(io.read(UP, 4)).as("a cold-plugged device is not announced").isZero();

        plug("hot", 5, Map.of());
        assertThat(irq.sci).as("SCI").isTrue();
        assertThat(io.read(GPE_STS, 1) & 2).isEqualTo(2);
        assertThat(io.read(UP, 4)).isEqualTo(1 << 5);
        assertThat(io.read(RMV, 4)).as("removable: the hot-added device only").isEqualTo(1 << 5);
        assertThat(vendorAt(5)).isEqualTo(0x1b36);
        assertThat(cold.status()).isEqualTo(DeviceInstance.Status.ACTIVE);
    }

    @Test
    void aRemovalWaitsForTheGuestsEjectAndThenReleasesTheDevice() {
        platform.guestRuns();
        DeviceInstance hot = plug("hot", 5, Map.of());
        io.read(UP, 4);
        io.write(GPE_STS, 1, 0xff);

        CompletableFuture<Void> removed = machine.unplug(hot);
        assertThat(io.read(DOWN, 4)).isEqualTo(1 << 5);
        assertThat(removed).isNotDone();
        assertThat(hot.status()).as("still serving until the guest ejects").isEqualTo(DeviceInstance.Status.ACTIVE);
        assertThat(vendorAt(5)).isEqualTo(0x1b36);

        io.write(EJECT, 4, 1 << 5); // the guest's _EJ0, after its driver let go
        // Released on a thread of the platform's: wait for that (the bound only limits a failing run).
        assertThat(removed).succeedsWithin(Duration.ofSeconds(30));
        assertThat(hot.status()).isEqualTo(DeviceInstance.Status.REMOVED);
        assertThat(machine.instances()).isEmpty();
        assertThat(vendorAt(5)).as("slot empty").isEqualTo(0xffff);
        assertThat(io.read(DOWN, 4)).isZero();
    }

    @Test
    void aGuestThatNeverEjectsKeepsTheDeviceAndAColdPluggedDeviceCannotBeTakenOutOfARunningGuest() {
        DeviceInstance cold = plug("cold", 3, Map.of());
        DeviceInstance marked = plug("marked", 4, Map.of(Machine.REMOVABLE, "true"));
        platform.guestRuns();
        assertThatThrownBy(() -> machine.unplug(cold)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("not marked removable");
        io.write(EJECT, 4, 1 << 3);             // a hostile guest: not removable, nothing happens
        io.write(EJECT, 4, 0xffff_ffffL);       // lowest bit: the host bridge
        assertThat(cold.status()).isEqualTo(DeviceInstance.Status.ACTIVE);
        assertThat(vendorAt(0)).isEqualTo(0x8086);
        assertThat(vendorAt(1)).isEqualTo(0x8086);

        CompletableFuture<Void> removed = machine.unplug(marked);
        assertThat(removed).isNotDone();
        assertThat(marked.status()).isEqualTo(DeviceInstance.Status.ACTIVE);
        assertThat(machine.hotplug().removable(PciAddress.slot(4))).isTrue();
    }

    @Test
    void beforeTheGuestRunsADeviceIsRemovedAtOnce() {
        DeviceInstance d = plug("cold", 3, Map.of());
        assertThat(machine.unplug(d)).isDone();
        assertThat(d.status()).isEqualTo(DeviceInstance.Status.REMOVED);
        platform.guestRuns();
        DeviceInstance again = plug("again", 3, Map.of());
        assertThat(io.read(UP, 4)).as("the slot was freed for a new device").isEqualTo(1 << 3);
        assertThat(again.status()).isEqualTo(DeviceInstance.Status.ACTIVE);
    }

    @Test
    void aResetCarriesOutARemovalTheGuestWasAskedFor() {
        platform.guestRuns();
        DeviceInstance hot = plug("hot", 5, Map.of());
        CompletableFuture<Void> removed = machine.unplug(hot);
        platform.reset();
        assertThat(removed).isDone();
        assertThat(hot.status()).isEqualTo(DeviceInstance.Status.REMOVED);
        assertThat(io.read(DOWN, 4)).isZero();
    }
}
