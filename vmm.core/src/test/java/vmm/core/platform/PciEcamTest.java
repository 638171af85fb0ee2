package vmm.core.platform;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import vmm.core.Inert;
import vmm.core.bus.IoPortBus;
import vmm.core.bus.MmioBus;
import vmm.core.internal.chipset.PciEcam;
import vmm.core.machine.Machine;
import vmm.core.memory.GuestMemory;

/**
 * PCIe ECAM reaches the same configuration space as mechanism #1, in every
 * access size, plus the extended space; accesses the specification leaves
 * to the platform read all ones and write nothing; the window is reserved
 * in the memory map firmware and kernels get.
 */
class PciEcamTest {
    private final GuestMemory memory = PcPlatform.memory(64 << 20, null);
    private final Machine machine = new Machine(memory, Inert.IRQS);
    private final PcPlatform platform = PcPlatform.install(machine, 1, Inert.POWER, line -> { });
    private final IoPortBus io = machine.ioPorts();
    private final MmioBus mmio = machine.mmio();

    @AfterEach
    void close() {
        platform.close();
        machine.close();
    }

    private static long ecam(int dev, int fn, int reg) {
        return PciEcam.BASE + ((long) dev << 15) + ((long) fn << 12) + reg;
    }

    private long cf8(int dev, int fn, int reg, int size) {
        io.write(0xcf8, 4, 0x8000_0000L | dev << 11 | fn << 8 | (reg & 0xfc));
        return io.read(0xcfc + (reg & 3), size);
    }

    @Test
    void everyRegisterOfEveryFunctionReadsTheSameThroughEcamAndMechanismOne() {
        int compared = 0;
        for (int dev = 0; dev < 32; dev++)
            for (int fn = 0; fn < 8; fn++)
                for (int size : new int[] {1, 2, 4})
                    for (int reg = 0; reg < 0x100; reg += size) {
                        assertThat(mmio.read(ecam(dev, fn, reg), size)).as("%02x.%d reg 0x%x size %d", dev, fn, reg, size)
                                .isEqualTo(cf8(dev, fn, reg, size));
                        compared++;
                    }
        assertThat(compared).isEqualTo(32 * 8 * (256 + 128 + 64));
        assertThat(mmio.read(ecam(0, 0, 0), 4)).as("the i440FX's IDs").isEqualTo(0x1237_8086L);
        assertThat(mmio.read(ecam(31, 7, 0), 4)).as("no function: master abort").isEqualTo(0xffff_ffffL);
    }

    @Test
    void writesThroughOneMechanismAreSeenThroughTheOther() {
        // PMBA of the PIIX4 PM function, in each size.
        mmio.write(ecam(1, 3, 0x40), 4, 0xb001);
        assertThat(cf8(1, 3, 0x40, 4)).isEqualTo(0xb001);
        mmio.write(ecam(1, 3, 0x41), 1, 0xc0);
        assertThat(cf8(1, 3, 0x40, 2)).isEqualTo(0xc001);
        mmio.write(ecam(1, 3, 0x40), 2, 0xd001);
        assertThat(cf8(1, 3, 0x40, 4)).isEqualTo(0xd001);
        io.write(0xcf8, 4, 0x8000_0000L | 1 << 11 | 3 << 8 | 0x3c);
        io.write(0xcfc, 1, 9); // interrupt line
        assertThat(mmio.read(ecam(1, 3, 0x3c), 1)).isEqualTo(9);
        assertThat(io.isClaimed(0xd004)).as("the PM block moved by the ECAM write").isFalse(); // PMIOSE still off
    }

    @Test
    void theExtendedSpaceIsReachableOnlyThroughEcam() {
        assertThat(mmio.read(ecam(0, 0, 0x100), 4)).as("no extended capability: 0, as QEMU's conventional functions").isZero();
        assertThat(mmio.read(ecam(0, 0, 0xffc), 4)).isZero();
        assertThat(mmio.read(ecam(5, 0, 0x100), 4)).as("absent function").isEqualTo(0xffff_ffffL);
        mmio.write(ecam(0, 0, 0x100), 4, 0x1234); // dropped, never throws
        assertThat(mmio.read(ecam(0, 0, 0x100), 4)).isZero();
    }

    @Test
    void unalignedAndQuadwordAccessesReadAllOnesAndWriteNothing() {
        assertThat(mmio.read(ecam(0, 0, 1), 2)).isEqualTo(0xffff);
        assertThat(mmio.read(ecam(0, 0, 2), 4)).isEqualTo(0xffff_ffffL);
        assertThat(mmio.read(ecam(0, 0, 0), 8)).isEqualTo(-1L);
        long line = cf8(1, 3, 0x3c, 1);
        mmio.write(ecam(1, 3, 0x3b), 2, 0x0a0a);   // would straddle into the interrupt line
        mmio.write(ecam(1, 3, 0x3c), 8, 0x0b);
        assertThat(cf8(1, 3, 0x3c, 1)).isEqualTo(line);
    }

    @Test
    void onlyBusZerosMegabyteIsDecodedAndItIsReservedInTheMemoryMap() {
        assertThat(mmio.isClaimed(PciEcam.BASE)).isTrue();
        assertThat(mmio.isClaimed(PciEcam.BASE + PciEcam.SIZE - 1)).isTrue();
        assertThat(mmio.isClaimed(PciEcam.BASE + PciEcam.SIZE)).as("bus 1").isFalse();
        assertThat(mmio.isClaimed(PciEcam.BASE - 1)).isFalse();
        assertThat(platform.e820()).contains(new PcPlatform.E820Entry(PciEcam.BASE, 1 << 20, PcPlatform.E820_RESERVED));
        assertThat(PcPlatform.kernelMemoryMap(64 << 20)).anyMatch(r -> r.address() == PciEcam.BASE && r.length() == 1 << 20
                && r.type() == vmm.core.boot.MemoryRange.E820_RESERVED);
    }
}
