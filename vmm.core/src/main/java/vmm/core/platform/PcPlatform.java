package vmm.core.platform;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import vmm.core.boot.MemoryRange;
import vmm.core.bus.IoPortBus;
import vmm.core.bus.Registration;
import vmm.core.internal.acpi.AcpiTables;
import vmm.core.internal.acpi.FirmwareAcpi;
import vmm.core.internal.chipset.AcpiPm;
import vmm.core.internal.chipset.Cmos;
import vmm.core.internal.chipset.DebugPorts;
import vmm.core.internal.chipset.I8042;
import vmm.core.internal.chipset.PciConfigPorts;
import vmm.core.internal.chipset.PciEcam;
import vmm.core.internal.chipset.PciHotplug;
import vmm.core.irq.GsiLine;
import vmm.core.internal.chipset.Piix;
import vmm.core.internal.chipset.ResetControl;
import vmm.core.internal.fwcfg.FwCfg;
import vmm.core.machine.Machine;
import vmm.core.memory.GuestMemory;
import vmm.core.device.DeviceState;
import vmm.core.device.IncompatibleStateException;

/**
 * The PC a guest firmware or kernel expects, on a {@link Machine}: an
 * i440FX/PIIX chipset (the PCI host bridge with configuration mechanism #1
 * on 0xCF8/0xCFC and PCIe ECAM at {@link PciEcam#BASE}, the ISA bridge, the ACPI power-management function),
 * the CMOS/RTC, QEMU's fw_cfg interface, the i8042 and port 0x92 for reset
 * and A20, the reset control register 0xCF9, and the debug ports 0x80 and
 * 0x402, ACPI PCI hotplug of bus 0 as QEMU's PIIX4 does it (the register block at 0xAE00, GPE 1 in the GPE0
 * block at 0xAFE0, the SCI on IRQ 9; {@link #guestRuns()}), and the ACPI tables for firmware (fw_cfg {@code etc/acpi/tables},
 * {@code etc/acpi/rsdp}, {@code etc/table-loader}, built when the firmware
 * reads them). The interrupt controllers and the PIT are the hypervisor's
 * (in-kernel). Built once per machine, before the vCPUs run.
 */
public final class PcPlatform implements AutoCloseable {
    /** RAM below 4 GiB ends here at the latest; 3.5 GiB up to 4 GiB is the PCI, IOAPIC, LAPIC and BIOS hole. */
    public static final long LOW_RAM_LIMIT = 0xe000_0000L;
    public static final long FOUR_GIB = 1L << 32;
    /** The legacy video hole, and the BIOS/option-ROM area above it (RAM here, holding a copy of the BIOS's top). */
    public static final long VGA_START = 0xa_0000L, ROM_AREA_START = 0xc_0000L, ONE_MIB = 0x10_0000L;
    /** How much of the boot ROM's top is also seen below 1 MiB (the "isa-bios" window). */
    public static final int LEGACY_BIOS_WINDOW = 128 << 10;
    /** E820 types. */
    public static final int E820_RAM = 1, E820_RESERVED = 2;

    /** One e820 entry as fw_cfg's {@code etc/e820} carries it. */
    public record E820Entry(long address, long length, int type) {}

    private final FwCfg fwCfg;
    private final DebugPorts debug;
    private final List<Registration> registrations = new ArrayList<>();
    private final List<E820Entry> e820;
    private FirmwareAcpi acpi;
    private Piix piix;
    private AcpiPm pm;
    private I8042 kbc;
    private ResetControl rcr;
    private Cmos cmos;
    private PciConfigPorts configPorts;
    private PcHotplug hotplug;

    private PcPlatform(FwCfg fwCfg, DebugPorts debug, List<E820Entry> e820) {
        this.fwCfg = fwCfg;
        this.debug = debug;
        this.e820 = e820;
    }

    /**
     * Guest memory for a PC with {@code ramBytes} of RAM and {@code bootRom}
     * (a firmware image such as SeaBIOS's) mapped read-only just below
     * 4 GiB, its top {@link #LEGACY_BIOS_WINDOW} also copied into RAM below
     * 1 MiB where the reset vector's far jump lands.
     *
     * @throws IllegalArgumentException when the RAM size is below 2 MiB or not a multiple of 4 KiB, or the
     *                                  ROM is empty, larger than 16 MiB or not a multiple of 4 KiB
     */
    public static GuestMemory memory(long ramBytes, byte[] bootRom) {
        if (ramBytes < (2 << 20) || ramBytes % 4096 != 0)
            throw new IllegalArgumentException("memory size must be at least 2 MiB and a multiple of 4 KiB, was " + ramBytes);
        if (bootRom != null && (bootRom.length == 0 || bootRom.length > (16 << 20) || bootRom.length % 4096 != 0))
            throw new IllegalArgumentException("boot ROM must be 4 KiB..16 MiB in whole 4 KiB pages, was " + bootRom.length + " bytes");
        long low = Math.min(ramBytes, LOW_RAM_LIMIT), high = ramBytes - low;
        GuestMemory.Builder b = GuestMemory.builder()
                .ram("ram-below-640k", 0, VGA_START)
                .ram("bios-area", ROM_AREA_START, ONE_MIB - ROM_AREA_START)
                .ram("ram-low", ONE_MIB, low - ONE_MIB);
        if (high > 0) b.ram("ram-high", FOUR_GIB, high);
        if (bootRom != null) b.rom("boot-rom", FOUR_GIB - bootRom.length, bootRom);
        GuestMemory m = b.build();
        if (bootRom != null) copyLegacyBiosWindow(m, bootRom);
        return m;
    }

    /**
     * Copies the boot ROM's top {@link #LEGACY_BIOS_WINDOW} into RAM just
     * below 1 MiB, where the reset vector's far jump lands: at creation, and
     * again at each machine reset, since firmware writes its variables there.
     */
    public static void copyLegacyBiosWindow(GuestMemory memory, byte[] bootRom) {
        int n = Math.min(LEGACY_BIOS_WINDOW, bootRom.length);
        memory.write(ONE_MIB - n, bootRom, bootRom.length - n, n);
    }

    /**
     * The memory map a kernel booted without firmware gets for a PC made by
     * {@link #memory} with {@code ramBytes} and no boot ROM: RAM below
     * 640 KiB, the BIOS area reserved (the ACPI tables live there), RAM from
     * 1 MiB up to the PCI hole, the ECAM window reserved, RAM from 4 GiB on.
     */
    public static List<MemoryRange> kernelMemoryMap(long ramBytes) {
        long low = Math.min(ramBytes, LOW_RAM_LIMIT), high = ramBytes - low;
        List<MemoryRange> map = new ArrayList<>();
        map.add(new MemoryRange(0, VGA_START, MemoryRange.E820_RAM));
        map.add(new MemoryRange(ROM_AREA_START, ONE_MIB - ROM_AREA_START, MemoryRange.E820_RESERVED));
        map.add(new MemoryRange(ONE_MIB, low - ONE_MIB, MemoryRange.E820_RAM));
        map.add(new MemoryRange(PciEcam.BASE, PciEcam.SIZE, MemoryRange.E820_RESERVED));
        if (high > 0) map.add(new MemoryRange(FOUR_GIB, high, MemoryRange.E820_RAM));
        return List.copyOf(map);
    }

    /**
     * Installs the chipset on {@code machine}'s buses and PCI bus.
     *
     * @param vcpus       CPUs the firmware is told about
     * @param power       told when the guest powers off or resets
     * @param firmwareLog gets each line the firmware writes to the debug console (0x402)
     * @throws vmm.core.bus.BusConflictException when something already decodes a chipset port
     */
    public static PcPlatform install(Machine machine, int vcpus, PowerControl power, Consumer<String> firmwareLog) {
        GuestMemory memory = machine.memory();
        long lowEnd = 0, high = 0;
        for (var r : memory.regions()) {
            if (r.readOnly()) continue;
            if (r.guestBase() >= FOUR_GIB) high += r.size();
            else lowEnd = Math.max(lowEnd, r.guestEnd());
        }
        List<E820Entry> e820 = new ArrayList<>();
        e820.add(new E820Entry(0, lowEnd, E820_RAM));
        e820.add(new E820Entry(PciEcam.BASE, PciEcam.SIZE, E820_RESERVED));
        if (high > 0) e820.add(new E820Entry(FOUR_GIB, high, E820_RAM));

        FwCfg fw = new FwCfg(memory);
        DebugPorts debug = new DebugPorts(firmwareLog);
        PcPlatform p = new PcPlatform(fw, debug, List.copyOf(e820));
        IoPortBus io = machine.ioPorts();
        try {
            ResetControl rcr = new ResetControl(power);
            p.rcr = rcr;
            PciConfigPorts cfg = new PciConfigPorts(machine.pci(), rcr);
            p.configPorts = cfg;
            p.registrations.add(io.register("pci-config-address", PciConfigPorts.CONFIG_ADDRESS, 4, cfg.addressPorts()));
            p.registrations.add(io.register("pci-config-data", PciConfigPorts.CONFIG_DATA, 4, cfg.dataPorts()));
            p.registrations.add(machine.mmio().register("pci-ecam", PciEcam.BASE, PciEcam.SIZE, new PciEcam(machine.pci())));
            // The guest's own time where the back end keeps one (a deterministic run), else the host's.
            vmm.core.hypervisor.VirtualMachine vm = machine.hypervisor();
            AcpiPm pm = new AcpiPm(power, vm == null ? System::nanoTime : vm::guestNanos,
                    new GsiLine(machine.irqChip(), AcpiTables.SCI_IRQ));
            p.pm = pm;
            p.registrations.add(io.register("acpi-gpe0", AcpiPm.GPE0_BASE, AcpiPm.GPE0_LEN, pm.gpeRegisters()));
            PcHotplug hotplug = new PcHotplug(pm);
            p.hotplug = hotplug;
            p.registrations.add(io.register("acpi-pci-hotplug", PciHotplug.IO_BASE, PciHotplug.BLOCK_SIZE,
                    hotplug.registers().registers()));
            machine.useHotplug(hotplug);
            Piix piix = Piix.attach(machine.pci(), io, pm);
            p.piix = piix;
            p.acpi = new FirmwareAcpi(vcpus, piix::pmBase);
            Cmos cmos = new Cmos(lowEnd, high, vcpus, vm == null ? Clock.systemUTC() : vm.guestWallClock());
            p.cmos = cmos;
            p.registrations.add(io.register("cmos", Cmos.PORT_INDEX, 2, cmos.ports()));
            I8042 kbc = new I8042(power);
            p.kbc = kbc;
            p.registrations.add(io.register("i8042-data", I8042.PORT_DATA, 1, kbc.controller()));
            p.registrations.add(io.register("i8042-command", I8042.PORT_COMMAND, 1, new vmm.core.bus.IoHandler() {
                @Override public long read(long offset, int size) { return kbc.controller().read(1, size); }
                @Override public void write(long offset, int size, long value) { kbc.controller().write(1, size, value); }
            }));
            p.registrations.add(io.register("port-a", I8042.PORT_A, 1, kbc.portA()));
            p.registrations.add(io.register("fw_cfg", FwCfg.PORT_SELECTOR, 12, fw.ports()));
            p.registrations.add(io.register("post-code", DebugPorts.POST_PORT, 1, debug.post()));
            p.registrations.add(io.register("debugcon", DebugPorts.DEBUGCON_PORT, 1, debug.debugcon()));
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
        fw.put(FwCfg.FW_CFG_RAM_SIZE, FwCfg.le64(lowEnd + high));
        fw.put(FwCfg.FW_CFG_NB_CPUS, FwCfg.le16(vcpus));
        fw.put(FwCfg.FW_CFG_MAX_CPUS, FwCfg.le16(vcpus));
        fw.put(FwCfg.FW_CFG_NOGRAPHIC, FwCfg.le16(1));
        fw.put(FwCfg.FW_CFG_NUMA, FwCfg.le64(0));
        fw.put(FwCfg.FW_CFG_BOOT_MENU, FwCfg.le16(0));
        ByteBuffer b = ByteBuffer.allocate(20 * e820.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (E820Entry e : e820) b.putLong(e.address()).putLong(e.length()).putInt(e.type());
        fw.addFile("etc/e820", b.array());
        // No "Press ESC for boot menu" pause.
        fw.addFile("etc/show-boot-menu", FwCfg.le16(0));
        p.acpi.publish(fw);
        return p;
    }

    /**
     * Sets the chipset up as firmware would before an OS runs, for a kernel
     * booted without firmware: the PM block at {@link Piix#PM_IO_BASE}, where
     * that kernel's FADT says.
     */
    public void setUpWithoutFirmware() {
        piix.enablePm(Piix.PM_IO_BASE);
    }

    /**
     * The chipset's part of a machine reset, while no vCPU runs: the chipset
     * registers (PAM, PIRQ, the PM function with its block unmapped), the
     * ACPI PM registers, the keyboard controller and port A, the reset
     * control register, fw_cfg's selection, and the ACPI tables, rebuilt at
     * the firmware's next read. PCI hotplug announcements are dropped and the removals the guest was asked
     * for are carried out (the device is released). The CMOS keeps its NVRAM and clock, as a
     * battery-backed one does; the PCI functions' headers are the bus's to
     * reset ({@link vmm.core.pci.PciBus#resetAll()}).
     */
    public void reset() {
        hotplug.reset();
        piix.reset();
        pm.reset();
        kbc.reset();
        rcr.reset();
        fwCfg.reset();
        acpi.reset();
    }

    /**
     * Says the guest runs from now on (the machine started): a PCI device plugged into the machine afterwards is
     * announced to the guest, and one unplugged must be ejected by it first.
     */
    public void guestRuns() {
        hotplug.goLive();
    }

    /** The state type of {@link #saveState()}. */
    public static final String STATE_TYPE = "vmm.platform";

    /**
     * The chipset's state, for a snapshot: the CMOS NVRAM, fw_cfg's selection and read offset, the ACPI PM1
     * registers, the keyboard controller and port A, the reset control register, the PCI CONFIG_ADDRESS latch,
     * the PIIX registers (PAM, PIRQ, the PM block's base) and the debug ports. The PCI functions' configuration
     * is the bus's ({@link vmm.core.pci.PciBus#saveConfig()}); the interrupt controllers are the hypervisor's.
     * Only while no vCPU runs.
     */
    public DeviceState saveState() {
        return DeviceState.builder(STATE_TYPE, 1).put("cmos", cmos.save()).put("fw_cfg", fwCfg.save())
                .put("acpi-pm", pm.save()).put("i8042", kbc.save()).put("reset-control", rcr.save())
                .put("pci-config-address", configPorts.save()).put("piix", piix.save()).put("debug-ports", debug.save())
                .build();
    }

    /**
     * Puts back {@link #saveState()}'s state into the chipset of a machine made from the same configuration,
     * before any vCPU runs; nothing is acted on (no reset or power-off follows from a restored register).
     *
     * @throws IncompatibleStateException naming the part and field that cannot be read or held
     */
    public void restoreState(DeviceState s) {
        s.require(STATE_TYPE, 1);
        cmos.restore(s.getState("cmos"));
        fwCfg.restore(s.getState("fw_cfg"));
        pm.restore(s.getState("acpi-pm"));
        kbc.restore(s.getState("i8042"));
        rcr.restore(s.getState("reset-control"));
        configPorts.restore(s.getState("pci-config-address"));
        piix.restore(s.getState("piix"));
        debug.restore(s.getState("debug-ports"));
    }

    /** Tells firmware to use the serial port at {@code port} as its console (SeaBIOS's {@code etc/sercon-port}). */
    public void serialConsole(int port) {
        fwCfg.addFile("etc/sercon-port", FwCfg.le16(port));
    }

    /** The boot order, as firmware device paths (QEMU's {@code bootorder} file), first first. */
    public void bootOrder(List<String> devicePaths) {
        fwCfg.addFile("bootorder", (String.join("\n", devicePaths) + "\n").getBytes(StandardCharsets.US_ASCII));
    }

    /** Adds a file to fw_cfg (ACPI tables, kernel images, ...). */
    public void addFirmwareFile(String name, byte[] contents) {
        fwCfg.addFile(name, contents);
    }

    /** The memory map the guest is given. */
    public List<E820Entry> e820() {
        return e820;
    }

    /** The last value written to the POST code port 0x80. */
    public int postCode() {
        return debug.lastPostCode();
    }

    /** Unregisters the chipset's ports. PCI functions stay until the machine is closed. */
    @Override
    public void close() {
        for (Registration r : registrations) r.close();
        registrations.clear();
    }
}
