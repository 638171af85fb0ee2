package vmm.core.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

import vmm.core.Inert;
import vmm.core.machine.Machine;
import vmm.core.memory.GuestMemory;

/** PC memory layout and the machine description firmware reads. */
class PcPlatformTest {
    @Test
    void theBootRomsTopIsAlsoSeenBelowOneMegabyte() {
        byte[] rom = new byte[256 << 10];
        rom[rom.length - 16] = (byte) 0xEA; // the reset vector's far jump
        try (GuestMemory m = PcPlatform.memory(32 << 20, rom)) {
            assertThat(m.readU8(PcPlatform.FOUR_GIB - 16)).isEqualTo(0xEA);
            assertThat(m.readU8(0xffff0)).isEqualTo(0xEA);
            assertThat(m.isValid(PcPlatform.VGA_START, 1)).as("the VGA hole is not RAM").isFalse();
        }
    }

    @Test
    void ramAbove35GibGoesAbove4Gib() {
        try (GuestMemory m = PcPlatform.memory(4L << 30, null)) {
            assertThat(m.isValid(PcPlatform.LOW_RAM_LIMIT - 1, 1)).isTrue();
            assertThat(m.isValid(PcPlatform.LOW_RAM_LIMIT, 1)).isFalse();
            assertThat(m.isValid(PcPlatform.FOUR_GIB + (512L << 20) - 1, 1)).isTrue();
        }
    }

    @Test
    void unusableSizesAreRefusedByName() {
        assertThatThrownBy(() -> PcPlatform.memory(1 << 20, null)).hasMessageContaining("memory size");
        assertThatThrownBy(() -> PcPlatform.memory(32 << 20, new byte[1000])).hasMessageContaining("boot ROM");
        assertThatThrownBy(() -> PcPlatform.memory(32 << 20, new byte[0])).hasMessageContaining("boot ROM");
    }

    @Test
    void theE820MapAndFwCfgDescribeTheRam() {
        try (GuestMemory m = PcPlatform.memory(64 << 20, null)) {
            Machine machine = new Machine(m, Inert.IRQS);
            PcPlatform p = PcPlatform.install(machine, 2, Inert.POWER, line -> { });
            assertThat(p.e820()).containsExactly(new PcPlatform.E820Entry(0, 64 << 20, PcPlatform.E820_RAM),
                    new PcPlatform.E820Entry(0xe000_0000L, 1 << 20, PcPlatform.E820_RESERVED));
            p.serialConsole(0x3f8);
            assertThat(machine.ioPorts().isClaimed(0x510)).isTrue();
            assertThat(machine.ioPorts().isClaimed(0xcf8)).isTrue();
            assertThat(machine.pci().addresses()).hasSize(3);
            p.close();
            assertThat(machine.ioPorts().isClaimed(0x510)).isFalse();
        }
    }
}
