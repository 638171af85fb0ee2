package vmm.core.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;

import org.junit.jupiter.api.Test;

import vmm.core.Inert;
import vmm.core.bus.IoPortBus;
import vmm.core.irq.MsiMessage;
import vmm.core.machine.Machine;
import vmm.core.memory.GuestMemory;
import vmm.core.pci.BarHandler;
import vmm.core.pci.BarSpec;
import vmm.core.pci.MsiXSpec;
import vmm.core.pci.PciAddress;
import vmm.core.pci.PciConfigState;
import vmm.core.pci.PciFunction;
import vmm.core.pci.PciFunctionSpec;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * The chipset's and the PCI functions' snapshot state: what a guest programmed into one machine's CMOS, fw_cfg,
 * PM block, keyboard controller, reset register, CONFIG_ADDRESS latch, PIIX and PCI functions (BARs, command,
 * MSI-X) is what a fresh machine of the same configuration answers after a restore; a state it cannot hold, or
 * a PCI function it does not have, is refused in one line.
 */
class PlatformStateTest {
    private static final PciAddress NIC = PciAddress.slot(3);
    private static final BarHandler NO_BAR = new BarHandler() {
        @Override
        public long readBar(int bar, long offset, int size) {
            return 0x77;
        }

        @Override
        public void writeBar(int bar, long offset, int size, long value) {
        }
    };

    /** A PC chipset on its own machine, with one PCI function (a BAR, MSI-X) at 00:03.0. */
    private static final class Pc implements AutoCloseable {
        final GuestMemory memory = PcPlatform.memory(16 << 20, null);
        final Machine machine = new Machine(memory, Inert.IRQS);
        final PcPlatform platform = PcPlatform.install(machine, 1, Inert.POWER, line -> { });
        final PciFunction nic;
        final IoPortBus io = machine.ioPorts();

        Pc(int deviceId) {
            nic = machine.pci().attach("nic", NIC, PciFunctionSpec.builder(0x1af4, deviceId)
                    .bar(BarSpec.mem32(0, 0x4000)).msix(new MsiXSpec(2, 0, 0x2000, 0, 0x3000)).build(), NO_BAR);
        }

        void config(PciAddress a, int reg, int size, int value) {
            io.write(0xcf8, 4, 0x8000_0000L | (long) a.device() << 11 | (long) a.function() << 8 | (reg & 0xfc));
            io.write(0xcfc + (reg & 3), size, value);
        }

        int config(PciAddress a, int reg, int size) {
            io.write(0xcf8, 4, 0x8000_0000L | (long) a.device() << 11 | (long) a.function() << 8 | (reg & 0xfc));
            return (int) io.read(0xcfc + (reg & 3), size);
        }

        @Override
        public void close() {
            platform.close();
            machine.close(); // and the memory with it
        }
    }

    /** Programs A as a guest would, leaving reads part way and latches set, then restores B from A's state. */
    private static void programAndCarry(Pc a, Pc b) {
        a.io.write(0x70, 1, 0x40);
        a.io.write(0x71, 1, 0x5a);                     // CMOS NVRAM byte 0x40
        a.config(new PciAddress(0, 1, 3), 0x40, 4, 0xb001);
        a.config(new PciAddress(0, 1, 3), 0x80, 1, 1); // the PM block at 0xB000
        a.io.write(0xb002, 2, 0x0100);                 // PM1 enable: power button
        a.config(new PciAddress(0, 1, 0), 0x60, 1, 0x0b); // PIRQA to IRQ 11
        a.config(NIC, 0x10, 4, 0xfeb0_0000);           // BAR0
        a.config(NIC, 0x04, 2, 0x0006);                // memory space, bus master
        a.machine.mmio().write(0xfeb0_2000L, 4, 0xfee0_0000L); // MSI-X entry 0: address, data, unmasked
        a.machine.mmio().write(0xfeb0_2008L, 4, 0x41);
        a.machine.mmio().write(0xfeb0_200cL, 4, 0);
        a.config(NIC, 0x42, 2, 0x8001);                // MSI-X enable (the capability after the header at 0x40)
        a.io.write(0x510, 2, 0x0000);                  // fw_cfg signature "QEMU", two bytes read
        assertThat(a.io.read(0x511, 1)).isEqualTo('Q');
        assertThat(a.io.read(0x511, 1)).isEqualTo('E');
        a.io.write(0x64, 1, 0x20);                     // "read command byte": its answer waits in the buffer
        a.io.write(0xcf9, 1, 0x02);                    // SYS_RST only, no reset
        // the CONFIG_ADDRESS latch, as a guest paused between two accesses
        a.io.write(0xcf8, 4, 0x8000_0860L);
        a.io.write(0x70, 1, 0x40);

        DeviceState chipset = DeviceState.decode(a.platform.saveState().encode());
        List<PciConfigState> pci = a.machine.pci().saveConfig().stream()
                .map(s -> PciConfigState.from(DeviceState.decode(s.toDeviceState().encode()))).toList();
        b.machine.pci().restoreConfig(pci);
        b.platform.restoreState(chipset);
    }

    @Test
    void whatTheGuestProgrammedIntoTheChipsetIsWhatAFreshMachineAnswers() {
        try (Pc a = new Pc(0x1041); Pc b = new Pc(0x1041)) {
            programAndCarry(a, b);
            assertThat(b.platform.saveState()).isEqualTo(a.platform.saveState());
            assertThat(b.machine.pci().saveConfig()).isEqualTo(a.machine.pci().saveConfig());
            assertThat(b.io.read(0xcfc, 1)).as("the latch 0xCF8 held: PIRQA of 00:01.0").isEqualTo(0x0b);
            assertThat(b.io.read(0x71, 1)).isEqualTo(0x5a);
            assertThat(b.io.read(0x511, 1)).as("fw_cfg goes on from its offset").isEqualTo('M');
            assertThat(b.io.read(0x511, 1)).isEqualTo('U');
            assertThat(b.io.read(0x64, 1) & 1).as("output buffer full").isEqualTo(1);
            assertThat(b.io.read(0x60, 1)).isEqualTo(0x45);
            assertThat(b.io.read(0xcf9, 1)).isEqualTo(0x02);
            assertThat(b.io.read(0xb002, 2)).as("the PM block decodes where it was placed").isEqualTo(0x0100);
            assertThat(b.machine.mmio().read(0xfeb0_0010L, 4)).as("BAR0 mapped where the guest put it")
                    .isEqualTo(0x77);
            assertThat(b.nic.msixEnabled()).isTrue();
            assertThat(b.nic.busMasterEnabled()).isTrue();
            assertThat(b.nic.msixMessage(0)).isEqualTo(new MsiMessage(0xfee0_0000L, 0x41));
        }
    }

    @Test
    void aSavedFunctionThatIsAnotherDeviceOrAbsentIsRefused() {
        try (Pc a = new Pc(0x1041); Pc other = new Pc(0x1042)) {
            List<PciConfigState> saved = a.machine.pci().saveConfig();
            assertThatThrownBy(() -> other.machine.pci().restoreConfig(saved))
                    .isInstanceOf(IncompatibleStateException.class)
                    .hasMessageContaining("PCI function 00:03.0 is 1af4:1042 here, but 1af4:1041 in the snapshot");
            PciConfigState nic = saved.stream().filter(s -> s.address().equals(NIC)).findFirst().orElseThrow();
            PciConfigState elsewhere = new PciConfigState(PciAddress.slot(9), nic.config(), nic.msixTable(),
                    nic.msixPba());
            assertThatThrownBy(() -> other.machine.pci().restoreConfig(List.of(elsewhere)))
                    .isInstanceOf(IncompatibleStateException.class)
                    .hasMessageContaining("00:09.0 (1af4:1041), which this machine does not have");
        }
    }

    @Test
    void readOnlyConfigurationBitsStayAsTheFunctionHasThem() {
        try (Pc a = new Pc(0x1041); Pc b = new Pc(0x1041)) {
            PciConfigState nic = a.machine.pci().saveConfig().stream().filter(s -> s.address().equals(NIC))
                    .findFirst().orElseThrow();
            byte[] c = nic.config();
            c[0x0e] = (byte) 0x80;  // header type: multi-function
            c[0x34] = (byte) 0x80;  // capability pointer
            c[0x10] = (byte) 0xff;  // BAR0 low bits: the size and type bits are read-only
            b.machine.pci().restoreConfig(List.of(new PciConfigState(NIC, c, nic.msixTable(), nic.msixPba())));
            assertThat(b.config(NIC, 0x0e, 1)).isZero();
            assertThat(b.config(NIC, 0x34, 1)).isEqualTo(0x40);
            assertThat(b.config(NIC, 0x10, 4)).isZero();
        }
    }

    @Test
    void aChipsetStateItCannotHoldIsRefusedNamingThePart() {
        try (Pc a = new Pc(0x1041); Pc b = new Pc(0x1041)) {
            DeviceState good = a.platform.saveState();
            DeviceState badCmos = DeviceState.builder("vmm.platform.cmos", 1).put("nvram", new byte[64])
                    .put("index", 0).build();
            assertThatThrownBy(() -> b.platform.restoreState(with(good, "cmos", badCmos)))
                    .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("vmm.platform.cmos");
            DeviceState badFwCfg = DeviceState.builder("vmm.platform.fw_cfg", 1).put("selected", 0x1_0000)
                    .put("offset", 0).put("dma-high", 0).build();
            assertThatThrownBy(() -> b.platform.restoreState(with(good, "fw_cfg", badFwCfg)))
                    .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("vmm.platform.fw_cfg");
            DeviceState badKbc = DeviceState.builder("vmm.platform.i8042", 1).put("command-byte", 0x45)
                    .put("output-port", 3).put("port-a", 2).put("pending", -1).put("last-was-command", false)
                    .putList("output", java.util.Collections.nCopies(17, 0L)).build();
            assertThatThrownBy(() -> b.platform.restoreState(with(good, "i8042", badKbc)))
                    .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("at most 16 output bytes");
            assertThatThrownBy(() -> b.platform.restoreState(DeviceState.builder("vmm.emu.vm", 1).build()))
                    .isInstanceOf(IncompatibleStateException.class).hasMessageContaining("vmm.emu.vm");
        }
    }

    /** {@code s} with the nested state {@code field} replaced. */
    private static DeviceState with(DeviceState s, String field, DeviceState value) {
        DeviceState.Builder b = DeviceState.builder(s.type(), s.version());
        for (String n : s.names()) b.put(n, n.equals(field) ? value : s.getState(n));
        return b.build();
    }
}
