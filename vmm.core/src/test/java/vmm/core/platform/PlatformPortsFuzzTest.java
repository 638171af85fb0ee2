package vmm.core.platform;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterAll;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import vmm.core.Inert;
import vmm.core.bus.AddressBus;
import vmm.core.bus.IoPortBus;
import vmm.core.internal.chipset.AcpiPm;
import vmm.core.internal.chipset.Cmos;
import vmm.core.internal.chipset.I8042;
import vmm.core.internal.chipset.Piix;
import vmm.core.internal.fwcfg.FwCfg;
import vmm.core.machine.Machine;
import vmm.core.memory.GuestMemory;

/**
 * A hostile guest's port accesses to the PC chipset, each target on one
 * device's ports through the real I/O bus of a freshly installed
 * {@link PcPlatform}, with any value and any access size a vCPU exit can
 * carry: whatever the order, every access returns (a value, or nothing for
 * a write) and no host exception reaches the vCPU.
 */
class PlatformPortsFuzzTest {
    private static final int[] PIO_SIZES = {1, 2, 4};
    /** Where the fw_cfg target's DMA descriptors live; the rest of the RAM is buffer space. */
    private static final long DMA_DESCRIPTOR = 0x7000;
    private static final GuestMemory MEMORY = PcPlatform.memory(16 << 20, null);

    @AfterAll
    static void release() {
        MEMORY.close();
    }

    private static Machine machine() {
        return new Machine(MEMORY, Inert.IRQS);
    }

    /** One access: a port from {@code ports} plus a small spill past it, any PIO size, a read or a write. */
    static void access(FuzzedDataProvider data, AddressBus bus, int[] ports, int spill) {
        long port = ports[data.consumeInt(0, ports.length - 1)] + data.consumeInt(-spill, spill);
        int size = PIO_SIZES[data.consumeInt(0, PIO_SIZES.length - 1)];
        if (data.consumeBoolean()) bus.write(port & 0xffff, size, data.consumeLong());
        else bus.read(port & 0xffff, size);
    }

    @FuzzTest(maxDuration = "5m")
    void i8042(FuzzedDataProvider data) {
        Machine m = machine();
        PcPlatform p = PcPlatform.install(m, 1, Inert.POWER, line -> { });
        IoPortBus io = m.ioPorts();
        int[] ports = {I8042.PORT_DATA, I8042.PORT_COMMAND, I8042.PORT_A};
        // The controller commands firmware and kernels use, so sequences of them are cheap to reach.
        int[] commands = {0x20, 0x60, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xad, 0xae, 0xd0, 0xd1, 0xd2, 0xd3, 0xd4};
        while (data.remainingBytes() > 0) {
            if (data.consumeBoolean()) io.write(I8042.PORT_COMMAND, 1, data.pickValue(commands));
            else access(data, io, ports, 1);
        }
        // The controller holds what a guest did not read in a small buffer, never an ever-growing queue.
        int queued = 0;
        while ((io.read(I8042.PORT_COMMAND, 1) & 1) != 0 && queued <= 64) {
            io.read(I8042.PORT_DATA, 1);
            queued++;
        }
        assertThat(queued).as("bytes waiting in the output buffer").isLessThanOrEqualTo(16);
        p.close();
    }

    @FuzzTest(maxDuration = "5m")
    void cmosAndRtc(FuzzedDataProvider data) {
        Machine m = machine();
        PcPlatform p = PcPlatform.install(m, 1, Inert.POWER, line -> { });
        int[] ports = {Cmos.PORT_INDEX, Cmos.PORT_DATA};
        while (data.remainingBytes() > 0) access(data, m.ioPorts(), ports, 1);
        p.close();
    }

    @FuzzTest(maxDuration = "5m")
    void acpiPmBlock(FuzzedDataProvider data) {
        Machine m = machine();
        PcPlatform p = PcPlatform.install(m, 1, Inert.POWER, line -> { });
        p.setUpWithoutFirmware();
        IoPortBus io = m.ioPorts();
        int[] ports = {Piix.PM_IO_BASE + AcpiPm.PM1A_STS, Piix.PM_IO_BASE + AcpiPm.PM1A_EN,
                Piix.PM_IO_BASE + AcpiPm.PM1A_CNT, Piix.PM_IO_BASE + AcpiPm.PM_TMR,
                Piix.PM_IO_BASE + AcpiPm.BLOCK_SIZE - 1};
        while (data.remainingBytes() > 0) {
            if (data.consumeInt(0, 15) == 0) {
                // Firmware's part: move the block (PIIX4 PMBA, PMREGMISC) through configuration cycles.
                io.write(0xcf8, 4, 0x8000_0000L | 1 << 11 | 3 << 8 | (data.consumeBoolean() ? 0x40 : 0x80));
                io.write(0xcfc, 4, data.consumeInt());
            } else {
                access(data, io, ports, 4);
            }
        }
        p.close();
    }

    @FuzzTest(maxDuration = "5m")
    void fwCfg(FuzzedDataProvider data) {
        Machine m = machine();
        PcPlatform p = PcPlatform.install(m, 2, Inert.POWER, line -> { });
        p.addFirmwareFile("opt/fuzz", data.consumeBytes(data.consumeInt(0, 64)));
        IoPortBus io = m.ioPorts();
        int[] ports = {FwCfg.PORT_SELECTOR, FwCfg.PORT_DATA, FwCfg.PORT_DMA, FwCfg.PORT_DMA + 4};
        while (data.remainingBytes() > 0) {
            switch (data.consumeInt(0, 3)) {
                case 0 -> { // a DMA descriptor (control, length, buffer: all big-endian), then its address
                    MEMORY.writeU32(DMA_DESCRIPTOR, Integer.reverseBytes(data.consumeInt()) & 0xffff_ffffL);
                    MEMORY.writeU32(DMA_DESCRIPTOR + 4, Integer.reverseBytes(data.consumeBoolean()
                            ? data.consumeInt(0, 0x2000) : data.consumeInt()) & 0xffff_ffffL);
                    MEMORY.writeU64(DMA_DESCRIPTOR + 8, Long.reverseBytes(data.consumeBoolean()
                            ? data.consumeLong(0, MEMORY.totalSize()) : data.consumeLong()));
                    long at = data.consumeBoolean() ? DMA_DESCRIPTOR : data.consumeLong();
                    io.write(FwCfg.PORT_DMA, 4, Integer.reverseBytes((int) (at >>> 32)) & 0xffff_ffffL);
                    io.write(FwCfg.PORT_DMA + 4, 4, Integer.reverseBytes((int) at) & 0xffff_ffffL);
                }
                case 1 -> io.write(FwCfg.PORT_SELECTOR, 2, data.consumeInt(0, 0x30));
                default -> access(data, io, ports, 2);
            }
        }
        p.close();
    }
}
