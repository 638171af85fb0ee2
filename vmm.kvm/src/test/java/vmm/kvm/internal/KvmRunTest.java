package vmm.kvm.internal;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vmm.core.hypervisor.GuestStateException;
import vmm.kvm.internal.abi.KvmStructs;

/** The exit fields of kvm_run are checked before any of them is used as an offset or size. */
class KvmRunTest {
    private static final int MAP_SIZE = 3 * 4096;
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment map = arena.allocate(MAP_SIZE, 4096);
    private final KvmRun run = new KvmRun(map);

    @AfterEach
    void close() {
        arena.close();
    }

    private static long off(String... path) {
        var p = new java.lang.foreign.MemoryLayout.PathElement[path.length + 1];
        p[0] = groupElement("exit");
        for (int i = 0; i < path.length; i++) p[i + 1] = groupElement(path[i]);
        return KvmStructs.KVM_RUN.byteOffset(p);
    }

    private void io(int direction, int size, int port, int count, long dataOffset) {
        map.set(ValueLayout.JAVA_BYTE, off("io", "direction"), (byte) direction);
        map.set(ValueLayout.JAVA_BYTE, off("io", "size"), (byte) size);
        map.set(ValueLayout.JAVA_SHORT, off("io", "port"), (short) port);
        map.set(ValueLayout.JAVA_INT, off("io", "count"), count);
        map.set(ValueLayout.JAVA_LONG, off("io", "data_offset"), dataOffset);
    }

    @Test
    void aStringOutExitGivesEachElementFromTheDataArea() {
        io(1, 2, 0x3F8, 3, 4096);
        map.set(ValueLayout.JAVA_LONG, 4096, 0x0000_3333_2222_1111L);

        KvmRun.IoExit e = run.io();

        assertThat(e).isEqualTo(new KvmRun.IoExit(true, 2, 0x3F8, 3, 4096));
        assertThat(run.ioData(e, 0)).isEqualTo(0x1111);
        assertThat(run.ioData(e, 2)).isEqualTo(0x3333);
    }

    @Test
    void anInExitStoresEachElementLittleEndian() {
        io(0, 4, 0xCFC, 2, 4096);
        KvmRun.IoExit e = run.io();
        run.ioData(e, 0, 0xAABBCCDDL);
        run.ioData(e, 1, 0x11223344L);
        assertThat(map.get(ValueLayout.JAVA_LONG, 4096)).isEqualTo(0x11223344_AABBCCDDL);
    }

    @Test
    void ioDataOutsideTheMappingIsRefused() {
        io(1, 4, 0x80, 2, MAP_SIZE - 4);
        assertThatThrownBy(run::io).isInstanceOf(GuestStateException.class)
                .hasMessageContaining("port 0x80").hasMessageContaining("outside the 12288-byte kvm_run mapping");
        io(1, 1, 0x80, 1, -8);
        assertThatThrownBy(run::io).isInstanceOf(GuestStateException.class);
        io(1, 1, 0x80, 1, Long.MAX_VALUE);
        assertThatThrownBy(run::io).isInstanceOf(GuestStateException.class);
    }

    @Test
    void aCountThatWouldOverflowTheDataAreaIsRefused() {
        io(1, 4, 0x80, -1, 4096); // count 0xFFFFFFFF as the kernel's u32
        assertThatThrownBy(run::io).isInstanceOf(GuestStateException.class).hasMessageContaining("count 4294967295");
        io(1, 4, 0x80, 0, 4096);
        assertThatThrownBy(run::io).isInstanceOf(GuestStateException.class).hasMessageContaining("count 0");
    }

    @Test
    void ioSizesOtherThanOneTwoOrFourAreRefused() {
        for (int size : new int[] {0, 3, 8, 255}) {
            io(1, size, 0x80, 1, 4096);
            assertThatThrownBy(run::io).as("size " + size).isInstanceOf(GuestStateException.class);
        }
    }

    @Test
    void mmioLengthsAboveEightOrZeroAreRefused() {
        map.set(ValueLayout.JAVA_LONG, off("mmio", "phys_addr"), 0xFEB00000L);
        for (int len : new int[] {0, 9, 16, -1}) {
            map.set(ValueLayout.JAVA_INT, off("mmio", "len"), len);
            assertThatThrownBy(run::mmio).as("len " + len).isInstanceOf(GuestStateException.class)
                    .hasMessageContaining("0xfeb00000");
        }
        map.set(ValueLayout.JAVA_INT, off("mmio", "len"), 8);
        map.set(ValueLayout.JAVA_BYTE, off("mmio", "is_write"), (byte) 1);
        assertThat(run.mmio()).isEqualTo(new KvmRun.MmioExit(0xFEB00000L, 8, true));
    }

    @Test
    void internalErrorDataIsClampedToTheArray() {
        map.set(ValueLayout.JAVA_INT, off("internal", "ndata"), 1000);
        assertThat(run.internalData()).hasSize(16);
        map.set(ValueLayout.JAVA_INT, off("internal", "ndata"), 2);
        map.set(ValueLayout.JAVA_LONG, off("internal", "data"), 7);
        assertThat(run.internalData()).containsExactly(7, 0);
    }

    @Test
    void aMappingSmallerThanKvmRunIsRefused() {
        assertThatThrownBy(() -> new KvmRun(map.asSlice(0, 1024))).isInstanceOf(IllegalArgumentException.class);
    }
}
