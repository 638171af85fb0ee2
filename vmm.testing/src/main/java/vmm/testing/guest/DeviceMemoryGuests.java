package vmm.testing.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import vmm.core.bus.IoHandler;
import vmm.core.hypervisor.Binding;
import vmm.core.hypervisor.StopReport;

/**
 * {@code VirtualMachine.mapMemory}: host memory (what a passed-through BAR's mmap is) appears
 * in the guest at the chosen address without exits, guest writes land in it, and once the
 * binding is closed the range is MMIO again.
 */
public interface DeviceMemoryGuests extends GuestBackEnd {

    long BAR = 0xD0000;

    @Test
    default void aMappedSegmentIsReadAndWrittenByTheGuestWithoutExits() throws Exception {
        try (GuestVm t = vm(false); Arena arena = Arena.ofShared()) {
            MemorySegment device = arena.allocate(0x2000, 0x1000);
            device.set(ValueLayout.JAVA_SHORT_UNALIGNED, 0x20, (short) 0x5AA5);
            List<String> mmioSeen = new ArrayList<>();
            t.mmio.register("bar-trap", BAR, 0x2000, new IoHandler() {
                @Override public long read(long offset, int size) { mmioSeen.add("read"); return 0; }
                @Override public void write(long offset, int size, long value) { mmioSeen.add("write"); }
            });
            List<Long> out = new ArrayList<>();
            t.ports.register("result", 0xE0, 2, new IoHandler() {
                @Override public long read(long offset, int size) { return 0; }
                @Override public void write(long offset, int size, long value) { out.add(value); }
            });
            Binding slot = t.vm.mapMemory(BAR, device, false);
            Asm a = Asm.real(0x1000)
                    .movAx(0xD000).movDsAx()
                    .movAxMem16(0x20).outImmAx(0xE0)          // what the host put there
                    .movAx(0x1234).movMemAx16(0x1010)         // a write into the second page
                    .hlt();
            t.load(0x1000, a.bytes());
            t.realMode(t.vcpu(), 0x1000);
            t.start();

            assertThat(t.awaitStop().cause()).isEqualTo(StopReport.Cause.ALL_HALTED);
            assertThat(out).containsExactly(0x5AA5L);
            assertThat(device.get(ValueLayout.JAVA_SHORT_UNALIGNED, 0x1010)).isEqualTo((short) 0x1234);
            assertThat(mmioSeen).isEmpty();
            slot.close();
            slot.close();
        }
    }

    @Test
    default void aSegmentOverGuestRamOrNotWholePagesIsRefused() throws Exception {
        try (GuestVm t = vm(false); Arena arena = Arena.ofShared()) {
            MemorySegment device = arena.allocate(0x1000, 0x1000);
            assertThatThrownBy(() -> t.vm.mapMemory(0x1000, device, false))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overlaps");
            assertThatThrownBy(() -> t.vm.mapMemory(BAR + 8, device, false))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("page");
            assertThatThrownBy(() -> t.vm.mapMemory(BAR, device.asSlice(0, 0x800), false))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("page");
        }
    }

    @Test
    default void aClosedMappingTrapsAgainAndItsSlotIsReused() throws Exception {
        try (GuestVm t = vm(false); Arena arena = Arena.ofShared()) {
            MemorySegment first = arena.allocate(0x1000, 0x1000), second = arena.allocate(0x1000, 0x1000);
            second.set(ValueLayout.JAVA_SHORT_UNALIGNED, 0, (short) 0x0BB0);
            t.vm.mapMemory(BAR, first, false).close();
            // Same address again: only possible if the first slot was really deleted.
            Binding b = t.vm.mapMemory(BAR, second, false);
            List<Long> out = new ArrayList<>();
            t.ports.register("result", 0xE0, 2, new IoHandler() {
                @Override public long read(long offset, int size) { return 0; }
                @Override public void write(long offset, int size, long value) { out.add(value); }
            });
            Asm a = Asm.real(0x1000).movAx(0xD000).movDsAx().movAxMem16(0).outImmAx(0xE0).hlt();
            t.load(0x1000, a.bytes());
            t.realMode(t.vcpu(), 0x1000);
            t.start();
            assertThat(t.awaitStop().cause()).isEqualTo(StopReport.Cause.ALL_HALTED);
            assertThat(out).containsExactly(0x0BB0L);
            b.close();
        }
    }
}
