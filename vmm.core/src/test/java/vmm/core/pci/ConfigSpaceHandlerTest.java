package vmm.core.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

/** A function attached with {@link PciBus#attachConfigSpace} answers its whole config space itself. */
class ConfigSpaceHandlerTest extends PciFixture {

    static final class Recording implements ConfigSpaceHandler {
        final List<String> seen = new ArrayList<>();
        int resets;

        @Override public int configRead(int offset, int size) {
            seen.add("read " + offset + "/" + size);
            return 0x1234_5678;
        }

        @Override public void configWrite(int offset, int size, int value) {
            seen.add("write " + offset + "/" + size + "=" + Integer.toHexString(value));
        }

        @Override public void reset() {
            resets++;
        }
    }

    @Test
    void configAccessesAndPlatformResetReachTheHandler() {
        Recording h = new Recording();
        PciAddress at = PciAddress.slot(4);
        RawPciFunction f = bus.attachConfigSpace("passthru", at, h);

        assertThat(read32(at, 0x100)).isEqualTo(0x1234_5678); // extended space is the handler's too
        write16(at, 4, 0x6);
        bus.resetAll();

        assertThat(h.seen).containsExactly("read 256/4", "write 4/2=6");
        assertThat(h.resets).isEqualTo(1);
        assertThat(bus.addresses()).containsExactly(at);
        assertThat(bus.function(at)).isNull();
        assertThat(f.intxGsi(1)).isEqualTo(16 + ((4 + 1 - 1) & 3));
    }

    @Test
    void aDetachedFunctionReadsAllOnesAndItsAddressCanBeReused() {
        Recording h = new Recording();
        PciAddress at = PciAddress.slot(5);
        RawPciFunction f = bus.attachConfigSpace("passthru", at, h);
        f.detach();
        f.detach();
        assertThat(read32(at, 0)).isEqualTo(0xffff_ffff);
        assertThat(h.seen).isEmpty();
        attach(at, spec().build());
        assertThat(read16(at, 0)).isEqualTo(VENDOR);
    }

    @Test
    void anAddressInUseByEitherKindIsRefused() {
        PciAddress a = PciAddress.slot(3), b = PciAddress.slot(6);
        attach(a, spec().build());
        bus.attachConfigSpace("passthru", b, new Recording());
        assertThatThrownBy(() -> bus.attachConfigSpace("other", a, new Recording()))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("already used by dev3.0");
        assertThatThrownBy(() -> attach(b, spec().build()))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("already used by passthru");
    }

    @Test
    void functionZeroLearnsOfOtherFunctionsInItsSlot() {
        RawPciFunction f = bus.attachConfigSpace("passthru", new PciAddress(0, 7, 0), new Recording());
        assertThat(f.hasOtherFunctions()).isFalse();
        attach(new PciAddress(0, 7, 2), spec().build());
        assertThat(f.hasOtherFunctions()).isTrue();
    }
}
