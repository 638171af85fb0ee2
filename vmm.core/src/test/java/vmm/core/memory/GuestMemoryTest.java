package vmm.core.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

import vmm.core.internal.linux.Libc;

class GuestMemoryTest {

    @Test
    void accessesAreLittleEndian() {
        try (GuestMemory m = GuestMemory.ofSize(1 << 16)) {
            m.writeU32(0x100, 0x11223344L);
            assertThat(m.readU8(0x100)).isEqualTo(0x44);
            assertThat(m.readU16(0x102)).isEqualTo(0x1122);
            m.writeU64(0x200, 0x0102030405060708L);
            assertThat(m.readU32(0x204)).isEqualTo(0x01020304L);
            assertThat(m.readU64(0x200)).isEqualTo(0x0102030405060708L);
        }
    }

    @Test
    void ramSharedWithAPeerCannotBeShrunkOrGrownByIt() throws Exception {
        try (GuestMemory m = GuestMemory.ofSize(1 << 20)) {
            int fd = m.regions().getFirst().fd();
            assertThat(vmm.core.linux.Native.seals(fd) & (Libc.F_SEAL_SHRINK | Libc.F_SEAL_GROW))
                    .isEqualTo(Libc.F_SEAL_SHRINK | Libc.F_SEAL_GROW);
            // What a peer holding the fd would try: the kernel refuses (EPERM) and the mapping stays whole.
            assertThatThrownBy(() -> vmm.core.linux.Native.truncate(fd, 4096))
                    .hasMessageContaining("Operation not permitted");
            assertThatThrownBy(() -> vmm.core.linux.Native.truncate(fd, 2 << 20))
                    .hasMessageContaining("Operation not permitted");
            m.writeU32((1 << 20) - 4, 0x12345678L);
            assertThat(m.readU32((1 << 20) - 4)).isEqualTo(0x12345678L);
        }
    }

    @Test
    void ramIsBackedByAShareableFileDescriptor() {
        try (GuestMemory m = GuestMemory.ofSize(1 << 20)) {
            RamRegion r = m.regions().getFirst();
            assertThat(r.fd()).isGreaterThanOrEqualTo(0);
            m.writeU32(0x1000, 0xCAFEBABEL);
            // a second mapping of the same fd sees the guest's bytes, as KVM or a vhost-user peer would
            var peer = Libc.mmapShared(r.fd(), 0, r.size(), false);
            try {
                assertThat(Integer.toUnsignedLong(peer.get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0x1000)))
                        .isEqualTo(0xCAFEBABEL);
            } finally {
                Libc.munmap(peer);
            }
        }
    }

    @Test
    void anAccessPastTheEndOfRamIsRefusedWithTheRange() {
        try (GuestMemory m = GuestMemory.ofSize(4096)) {
            assertThatThrownBy(() -> m.readU32(4094))
                    .isInstanceOf(GuestMemoryException.class)
                    .hasMessageContaining("0xffe")
                    .hasMessageContaining("crosses the end of region ram");
            assertThatThrownBy(() -> m.readU8(1 << 20)).hasMessageContaining("not backed by RAM");
        }
    }

    @Test
    void rangesThatWouldOverflowAreRefused() {
        try (GuestMemory m = GuestMemory.ofSize(4096)) {
            assertThat(m.isValid(-8, 16)).isFalse();
            assertThat(m.isValid(Long.MAX_VALUE, 2)).isFalse();
            assertThat(m.isValid(16, -1)).isFalse();
            assertThat(m.isValid(0, 4096)).isTrue();
            assertThat(m.isValid(4096, 0)).isTrue();
        }
    }

    @Test
    void aRangeAcrossTwoAdjacentRegionsIsRefused() {
        try (GuestMemory m = GuestMemory.builder().ram("low", 0, 4096).ram("high", 4096, 4096).build()) {
            assertThat(m.isValid(4000, 96)).isTrue();
            assertThat(m.isValid(4096, 96)).isTrue();
            assertThat(m.isValid(4090, 16)).isFalse();
            assertThatThrownBy(() -> m.slice(4090, 16)).hasMessageContaining("crosses the end of region low");
        }
    }

    @Test
    void overlappingRegionsAreRefusedWithBothNames() {
        assertThatThrownBy(() -> GuestMemory.builder().ram("a", 0, 8192).ram("b", 4096, 4096).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("a [0x0, 0x2000)")
                .hasMessageContaining("b [0x1000, 0x2000)");
    }

    @Test
    void deviceWritesIntoRomAreRefused() {
        try (GuestMemory m = GuestMemory.builder().ram("ram", 0, 4096).rom("bios", 0xf0000, new byte[] {1, 2, 3, 4}).build()) {
            assertThat(m.readU8(0xf0001)).isEqualTo(2);
            assertThatThrownBy(() -> m.writeU8(0xf0000, 9)).hasMessageContaining("read-only");
        }
    }

    @Test
    void bulkCopiesRoundTrip() {
        try (GuestMemory m = GuestMemory.ofSize(8192)) {
            byte[] data = {1, 2, 3, 4, 5};
            m.write(100, data, 1, 3);
            byte[] back = new byte[3];
            m.read(100, back, 0, 3);
            assertThat(back).containsExactly(2, 3, 4);
            m.fill(100, 3, (byte) 7);
            assertThat(m.readU8(102)).isEqualTo(7);
        }
    }
}
