package vmm.launcher.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import device.uart.internal.UartComponent;
import device.virtio_block.VirtioBlockProvider;
import vmm.core.pci.PciAddress;
import vmm.core.platform.PcMachine;
import vmm.launcher.internal.DemoDisk;

/**
 * Debian's SeaBIOS, unmodified, boots on our platform under KVM: its banner
 * reaches our 16550A on COM1 (through {@code etc/sercon-port}), it lists our
 * PCI devices, reads the boot sector from our virtio-blk disk, runs it (the
 * marker is printed through BIOS calls), and the guest's ACPI power-off
 * ends the VM cleanly.
 */
class SeaBiosBootTest {
    static final Path SEABIOS = Path.of("/usr/share/seabios/bios-256k.bin");
    static final PciAddress DISK_SLOT = PciAddress.slot(4);

    @TempDir
    Path dir;

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {BackEnd.KVM, BackEnd.EMU})
    void seaBiosBootsTheBootSectorOnOurVirtioBlkDiskAndPowersOff(String accel) throws Exception {
        assumeTrue(Files.isReadable(SEABIOS), "no " + SEABIOS + ": apt-get install seabios");
        BackEnd.require(accel);
        Path disk = dir.resolve("boot.img");
        DemoDisk.write(disk);
        Path com1 = dir.resolve("com1.log");
        List<String> firmwareLog = Collections.synchronizedList(new ArrayList<>());

        try (BackEnd backEnd = BackEnd.open(accel);
             PcMachine vm = PcMachine.create(backEnd.hypervisor(),
                     new PcMachine.Config(64L << 20, 1, Files.readAllBytes(SEABIOS)), firmwareLog::add)) {
            vm.machine().plug("disk", "virtio-blk", DISK_SLOT, Map.of("path", disk.toString()), "virtio-blk", new VirtioBlockProvider());
            UartComponent uart = new UartComponent(vm.machine(), Map.of("port", "com1", "backend", "log=" + com1));
            vm.platform().serialConsole(0x3f8);
            Optional<PcMachine.Exit> exit;
            try {
                vm.start();
                exit = vm.awaitExit(Duration.ofSeconds(60));
            } finally {
                uart.deactivate();   // flushes COM1's log: its writer may still hold the guest's last bytes
            }
            String console = Files.exists(com1) ? Files.readString(com1) : "";
            String log = String.join("\n", firmwareLog);
            assertThat(exit).as("the VM ended; firmware log:%n%s%nCOM1:%n%s", log, console).isPresent();
            assertThat(exit.get().outcome()).as(exit.get().detail()).isEqualTo(PcMachine.Outcome.POWER_OFF);
            assertThat(console).as("COM1").contains("SeaBIOS (version").contains(DemoDisk.MESSAGE);
            assertThat(log).contains("Found QEMU fw_cfg").contains("id=1af4:1042").contains("Booting from Hard Disk");
        }
    }
}
