package vmm.core.virtio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import vmm.core.memory.GuestMemory;

/** What {@link VirtQueue#create} accepts as a queue layout and what it refuses (section 2.7, alignment table). */
class VirtQueueSetupTest {
    @AutoClose
    private final GuestMemory memory = GuestMemory.ofSize(1 << 20);

    private VirtQueue create(int size, long desc, long avail, long used) {
        return VirtQueue.create(memory, 3, size, desc, avail, used, 0, () -> {}, r -> {});
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 256, 32768})
    void acceptsEveryPowerOfTwoUpTo32768(int size) {
        VirtQueue q = create(size, 0x1000, 0x1000 + 16L * size, 0xA0000);

        assertThat(q.size()).isEqualTo(size);
        assertThat(q.index()).isEqualTo(3);
        assertThat(q.lastAvailIndex()).isZero();
        assertThat(q.usedIndex()).isZero();
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 3, 6, 65536, -8})
    void refusesASizeThatIsNotAPowerOfTwoInRange(int size) {
        assertThatThrownBy(() -> create(size, 0x1000, 0x2000, 0x3000))
                .isInstanceOf(VirtqueueException.class)
                .hasMessageContaining("queue 3").hasMessageContaining("size " + size);
    }

    @Test
    void refusesADescriptorTableThatIsNot16ByteAligned() {
        assertThatThrownBy(() -> create(8, 0x1008, 0x2000, 0x3000))
                .isInstanceOf(VirtqueueException.class).hasMessageContaining("descriptor table").hasMessageContaining("16-byte aligned");
    }

    @Test
    void refusesAnAvailableRingThatIsNot2ByteAligned() {
        assertThatThrownBy(() -> create(8, 0x1000, 0x2001, 0x3000))
                .isInstanceOf(VirtqueueException.class).hasMessageContaining("available ring").hasMessageContaining("2-byte aligned");
    }

    @Test
    void refusesAUsedRingThatIsNot4ByteAligned() {
        assertThatThrownBy(() -> create(8, 0x1000, 0x2000, 0x3002))
                .isInstanceOf(VirtqueueException.class).hasMessageContaining("used ring").hasMessageContaining("4-byte aligned");
    }

    @Test
    void refusesRingsThatRunPastTheEndOfRam() {
        long end = 1 << 20;
        assertThatThrownBy(() -> create(8, end - 64, 0x2000, 0x3000))
                .isInstanceOf(VirtqueueException.class).hasMessageContaining("descriptor table").hasMessageContaining("not in guest RAM");
        assertThatThrownBy(() -> create(8, 0x1000, end - 8, 0x3000))
                .isInstanceOf(VirtqueueException.class).hasMessageContaining("available ring");
        assertThatThrownBy(() -> create(8, 0x1000, 0x2000, end - 32))
                .isInstanceOf(VirtqueueException.class).hasMessageContaining("used ring");
        assertThatThrownBy(() -> create(8, 0x1000, 0x2000, 1L << 40))
                .isInstanceOf(VirtqueueException.class).hasMessageContaining("used ring");
    }

    @Test
    void refusesARingThatCrossesTheEdgeBetweenTwoAdjacentRegions() {
        try (GuestMemory two = GuestMemory.builder().ram("low", 0, 0x10000).ram("high", 0x10000, 0x10000).build()) {
            assertThatThrownBy(() -> VirtQueue.create(two, 0, 8, 0x10000 - 64, 0x2000, 0x3000, 0, () -> {}, r -> {}))
                    .isInstanceOf(VirtqueueException.class).hasMessageContaining("descriptor table");
            // The same table wholly inside the upper region is fine.
            assertThat(VirtQueue.create(two, 0, 8, 0x10000, 0x2000, 0x3000, 0, () -> {}, r -> {})).isNotNull();
        }
    }

    @Test
    void refusesAUsedRingInReadOnlyMemory() {
        try (GuestMemory withRom = GuestMemory.builder().ram("ram", 0, 0x10000).rom("rom", 0x10000, new byte[0x1000]).build()) {
            assertThatThrownBy(() -> VirtQueue.create(withRom, 0, 8, 0x1000, 0x2000, 0x10000, 0, () -> {}, r -> {}))
                    .isInstanceOf(VirtqueueException.class).hasMessageContaining("read-only");
        }
    }

    @Test
    void creatingAQueueInitializesTheDeviceOwnedUsedRingFields() {
        TestRing ring = new TestRing(memory, 8, 0x1000);
        memory.writeU16(ring.used, 0xffff);
        memory.writeU16(ring.used + 2, 0x1234);

        ring.queue(TestRing.F_EVENT_IDX);

        assertThat(ring.usedFlags()).isZero();
        assertThat(ring.usedIdx()).isZero();
        assertThat(ring.availEvent()).isZero();
    }

    @Test
    void ringSizesFollowTheSpecificationsTable() {
        assertThat(VirtQueue.descTableSize(256)).isEqualTo(4096);
        assertThat(VirtQueue.availRingSize(256)).isEqualTo(6 + 512);
        assertThat(VirtQueue.usedRingSize(256)).isEqualTo(6 + 2048);
    }

    @Test
    void restoreRefusesIndicesThatAreNot16Bit() {
        assertThatThrownBy(() -> VirtQueue.restore(memory, 0, 8, 0x1000, 0x2000, 0x3000, 0, 65536, 0, () -> {}, r -> {}))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
