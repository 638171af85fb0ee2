package vmm.core.bus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

class AddressBusTest {
    /** Records accesses; reads return the offset plus a marker. */
    static final class Recorder implements IoHandler {
        final List<String> log = new ArrayList<>();
        final long marker;

        Recorder(long marker) {
            this.marker = marker;
        }

        @Override
        public long read(long offset, int size) {
            log.add("r" + size + "@" + offset);
            return marker + offset;
        }

        @Override
        public void write(long offset, int size, long value) {
            log.add("w" + size + "@" + offset + "=" + Long.toHexString(value));
        }
    }

    @Test
    void accessesReachTheOwningHandlerWithRangeRelativeOffsets() {
        MmioBus bus = new MmioBus();
        Recorder a = new Recorder(0x100), b = new Recorder(0x200);
        bus.register("a", 0x1000, 0x100, a);
        bus.register("b", 0x2000, 0x10, b);

        assertThat(bus.read(0x1010, 4)).isEqualTo(0x110);
        bus.write(0x2008, 8, 0x1122334455667788L);

        assertThat(a.log).containsExactly("r4@16");
        assertThat(b.log).containsExactly("w8@8=1122334455667788");
    }

    @Test
    void unclaimedReadsAreAllOnesOfTheAccessSizeAndWritesAreDropped() {
        IoPortBus bus = new IoPortBus();
        assertThat(bus.read(0x80, 1)).isEqualTo(0xff);
        assertThat(bus.read(0x80, 2)).isEqualTo(0xffff);
        assertThat(bus.read(0x80, 4)).isEqualTo(0xffffffffL);
        assertThat(bus.read(0x80, 8)).isEqualTo(-1L);
        bus.write(0x80, 1, 5);
        assertThat(bus.unclaimedAccesses()).isEqualTo(5);
    }

    @Test
    void anAccessRunningPastTheEndOfARangeIsUnclaimed() {
        MmioBus bus = new MmioBus();
        Recorder a = new Recorder(0);
        bus.register("a", 0x1000, 4, a);
        assertThat(bus.read(0x1002, 4)).isEqualTo(0xffffffffL);
        assertThat(a.log).isEmpty();
    }

    @Test
    void handlerValuesAreTruncatedToTheAccessSize() {
        MmioBus bus = new MmioBus();
        bus.register("wide", 0, 16, new Recorder(0xAABBCCDD00L));
        assertThat(bus.read(0, 1)).isEqualTo(0x00);
        assertThat(bus.read(1, 2)).isEqualTo(0xDD01);
    }

    @Test
    void overlappingRegistrationsAreRefusedNamingBothOwners() {
        IoPortBus bus = new IoPortBus();
        bus.register("com1", 0x3f8, 8, new Recorder(0));
        assertThatThrownBy(() -> bus.register("rogue", 0x3fc, 8, new Recorder(0)))
                .isInstanceOf(BusConflictException.class)
                .hasMessageContaining("rogue [0x3fc, 0x404) overlaps com1 [0x3f8, 0x400)");
        assertThatThrownBy(() -> bus.register("before", 0x3f0, 9, new Recorder(0))).isInstanceOf(BusConflictException.class);
        bus.register("after", 0x400, 8, new Recorder(0));
        bus.register("justBefore", 0x3f0, 8, new Recorder(0));
        assertThat(bus.ranges()).extracting(Registration::owner).containsExactly("justBefore", "com1", "after");
    }

    @Test
    void rangesOutsideTheAddressSpaceOrEmptyAreRefused() {
        IoPortBus bus = new IoPortBus();
        assertThatThrownBy(() -> bus.register("big", 0xfff0, 0x20, new Recorder(0))).isInstanceOf(BusConflictException.class);
        assertThatThrownBy(() -> bus.register("empty", 0x10, 0, new Recorder(0))).isInstanceOf(BusConflictException.class);
        assertThatThrownBy(() -> bus.register("neg", -1, 4, new Recorder(0))).isInstanceOf(BusConflictException.class);
    }

    @Test
    void closingARegistrationFreesTheRange() {
        IoPortBus bus = new IoPortBus();
        Registration r = bus.register("x", 0x60, 1, new Recorder(7));
        r.close();
        r.close();
        assertThat(bus.read(0x60, 1)).isEqualTo(0xff);
        bus.register("y", 0x60, 1, new Recorder(9));
        assertThat(bus.read(0x60, 1)).isEqualTo(9);
    }

    @Test
    void oddAccessSizesAreAProgrammingError() {
        assertThatThrownBy(() -> new MmioBus().read(0, 3)).isInstanceOf(IllegalArgumentException.class);
    }
}
