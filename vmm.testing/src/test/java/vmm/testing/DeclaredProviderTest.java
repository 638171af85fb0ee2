package vmm.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import vmm.core.device.BusDevice;
import vmm.core.device.BusRange;
import vmm.core.device.DeviceContext;
import vmm.core.device.DeviceModel;
import vmm.core.device.DeviceProvider;
import vmm.core.device.DeviceState;
import vmm.core.machine.DeviceInstance;
import vmm.core.pci.PciAddress;

/**
 * Plugging a provider as its bundle declares it (the DS description under OSGI-INF), so a declaration that would
 * never reach the core in a framework fails in a unit test; and the kit's machine with the PC chipset, so a device
 * on a port the chipset uses fails to plug in a test as in a VM.
 */
class DeclaredProviderTest {
    /** An echo device provider whose replies carry {@code tag}. */
    abstract static class Echo implements DeviceProvider {
        private final char tag;

        Echo(char tag) {
            this.tag = tag;
        }

        @Override
        public DeviceModel create(DeviceContext context) {
            return new EchoDevice((byte) tag, 0, 1);
        }
    }

    /** Declared correctly (OSGI-INF/vmm.testing.DeclaredProviderTest$Good.xml). */
    public static final class Good extends Echo {
        public Good() { super('g'); }
    }

    /** Declared with "vmm.device.typ". */
    public static final class Typo extends Echo {
        public Typo() { super('t'); }
    }

    /** Declared without a service. */
    public static final class NoService extends Echo {
        public NoService() { super('n'); }
    }

    /** Not declared at all. */
    public static final class Undeclared extends Echo {
        public Undeclared() { super('u'); }
    }

    @Test
    void aProviderIsPluggedWithTheTypeAndImplementationItsDescriptionDeclares() {
        try (TestMachine m = TestMachine.create()) {
            DeviceInstance d = m.plug("echo", Good.class, PciAddress.slot(3), Map.of());
            assertThat(d.type()).isEqualTo("echo");
            assertThat(d.implementation()).isEqualTo("good-echo");
            assertThat(DeclaredProvider.of(Good.class).provider()).isInstanceOf(Good.class);
        }
    }

    @Test
    void aMisspeltPropertyAMissingServiceAndAnUndeclaredClassFailNamingWhatIsWrong() {
        assertThatThrownBy(() -> DeclaredProvider.of(Typo.class)).isInstanceOf(AssertionError.class)
                .hasMessageContaining("declares no vmm.device.type property").hasMessageContaining("vmm.device.typ");
        assertThatThrownBy(() -> DeclaredProvider.of(NoService.class)).isInstanceOf(AssertionError.class)
                .hasMessageContaining("provides no vmm.core.device.DeviceProvider service");
        assertThatThrownBy(() -> DeclaredProvider.of(Undeclared.class)).isInstanceOf(AssertionError.class)
                .hasMessageContaining("no OSGI-INF/vmm.testing.DeclaredProviderTest$Undeclared.xml");
    }

    /** A one-port device at {@code port}. */
    private static DeviceProvider onePort(int port) {
        return context -> new BusDevice() {
            @Override public List<BusRange> ranges() { return List.of(BusRange.ports("reg", port, 1)); }
            @Override public long read(int range, long offset, int size) { return 0x42; }
            @Override public void write(int range, long offset, int size, long value) { }
            @Override public void start() { }
            @Override public void pause() { }
            @Override public void resume() { }
            @Override public void reset() { }
            @Override public void stop() { }
            @Override public DeviceState saveState() { return DeviceState.builder("one-port", 1).build(); }
            @Override public void restoreState(DeviceState state) { }
        };
    }

    @Test
    void withThePcChipsetADeviceOnFwCfgsPortFailsToPlugAsInAVm() {
        try (TestMachine bare = TestMachine.create()) {
            bare.machine().plug("reg", "one-port", null, Map.of(), "impl", onePort(0x510));
            assertThat(bare.machine().ioPorts().read(0x510, 1)).as("a bare kit machine has no chipset").isEqualTo(0x42);
        }
        try (TestMachine pc = TestMachine.create().withPcChipset()) {
            assertThatThrownBy(() -> pc.machine().plug("reg", "one-port", null, Map.of(), "impl", onePort(0x510)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("device reg").hasMessageContaining("fw_cfg");
            pc.machine().plug("free", "one-port", null, Map.of(), "impl", onePort(0x5a0));
            assertThat(pc.machine().ioPorts().read(0x5a0, 1)).isEqualTo(0x42);
        }
    }
}
