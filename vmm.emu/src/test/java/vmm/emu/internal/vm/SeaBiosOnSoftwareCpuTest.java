package vmm.emu.internal.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import device.virtio_block.VirtioBlockProvider;
import vmm.core.hypervisor.Vcpu;
import vmm.core.hypervisor.VcpuExit;
import vmm.core.hypervisor.VirtualMachine;
import vmm.core.hypervisor.VmConfig;
import vmm.core.memory.GuestMemory;
import vmm.core.pci.PciAddress;
import vmm.core.platform.PcPlatform;
import vmm.core.platform.PowerControl;
import vmm.testing.InterruptRecorder;

/**
 * Debian's SeaBIOS, unmodified, runs its POST on the software CPU with our PC
 * platform, finds our virtio-blk disk, boots its boot sector, and the sector's
 * ACPI power-off reaches the platform. No interrupt controllers are wired
 * (the irqchip is a recorder): SeaBIOS polls virtio and times with the PM timer.
 */
class SeaBiosOnSoftwareCpuTest {
    static final Path SEABIOS = Path.of("/usr/share/seabios/bios-256k.bin");

    @TempDir
    Path dir;

    @Test
    void seaBiosBootsTheBootSectorOfAVirtioBlkDiskAndPowersOff() throws Exception {
        assumeTrue(Files.isReadable(SEABIOS), "no " + SEABIOS + ": apt-get install seabios");
        Path disk = dir.resolve("boot.img");
        byte[] image = new byte[1 << 20];
        byte[] boot = SeaBiosProbe.bootSector();
        System.arraycopy(boot, 0, image, 0, boot.length);
        Files.write(disk, image);
        List<String> log = Collections.synchronizedList(new ArrayList<>());
        CompletableFuture<String> powerOff = new CompletableFuture<>();
        try (GuestMemory memory = PcPlatform.memory(64L << 20, Files.readAllBytes(SEABIOS))) {
            vmm.core.machine.Machine machine = new vmm.core.machine.Machine(memory, new InterruptRecorder());
            PcPlatform.install(machine, 1, new PowerControl() {
                @Override public void powerOff(String how) { powerOff.complete(how); }
                @Override public void reset(String how) { }
            }, log::add);
            machine.plug("disk", "virtio-blk", PciAddress.slot(4), Map.of("path", disk.toString()), "virtio-blk",
                    new VirtioBlockProvider());
            try (VirtualMachine vm = new EmuHypervisor().createVm(memory, new VmConfig(1, false))) {
                Vcpu v = vm.createVcpu(0);
                Thread t = Thread.ofPlatform().daemon().start(() -> {
                    while (!powerOff.isDone()) {
                        VcpuExit e = v.run(machine.ioPorts(), machine.mmio());
                        if (!(e instanceof VcpuExit.Interrupted || e instanceof VcpuExit.Halted)) {
                            powerOff.completeExceptionally(new AssertionError(e.describe() + "\n" + v.registers()));
                            return;
                        }
                    }
                });
                try {
                    assertThat(powerOff.get(120, TimeUnit.SECONDS)).as(String.join("\n", log)).contains("S5");
                } finally {
                    powerOff.complete("test over");
                    v.kick();
                    t.join();
                }
            }
            assertThat(log).contains("Found QEMU fw_cfg", "Booting from Hard Disk...", "Booting from 0000:7c00",
                    "booted from the virtio-blk disk on vmm.emu");
            assertThat(String.join("\n", log)).contains("id=1af4:1042");
        }
    }
}
